"""A linear pass for httpcore's pool bookkeeping (the pool's defaults: ``DEFAULT_LIMITS``).

httpcore 1.0.x runs ``_assign_requests_to_connections`` each time a request enters or
leaves its pool. That pass counts *every* connection, busy ones included, against
``max_keepalive_connections`` (so above 20 concurrent callers httpx's defaults close nearly
every connection after one use), and it rebuilds a list of all connections for each idle
connection and again for each queued request: work quadratic in the pool per request
(encode/httpcore#1035, not released). It also hands an idle connection to every request
that arrives before the first one has started on it; all but one then fail and go round
again (with 500 streams opened at once through the SDK: 4,500 such retries, and 110
connections for 500 streams). ``LinearConnectionPool`` and ``AsyncLinearConnectionPool``
make httpcore's decisions in one walk over the connections, counting idle connections
only, never hand out (or close) a connection another request is about to use, and close
the connections a cancelled request left orphaned (encode/httpcore#1093), neither idle nor
closed nor owned by any request, which httpcore keeps for ever. The
SDK installs them on the pools of the httpx clients it builds itself, never on a client
passed as ``http_client=``.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

import httpcore
import httpx

from ._config import DEFAULT_LIMITS

__all__ = ["DEFAULT_LIMITS", "linear_pool"]

SWEEP_SECONDS = 1.0
"""How often a pass checks idle connections it does not hand out for expiry."""

Connection = TypeVar("Connection", httpcore.ConnectionInterface, httpcore.AsyncConnectionInterface)


def _sweep_due(pool: Any) -> bool:
    """Whether this pass checks every connection for expiry (at most once a second)."""
    # httpcore checks every connection at every pass; for an idle one that is a poll()
    # of its socket, and with hundreds of idle connections the polls were most of the
    # SDK's CPU time in a burst. A connection is checked before it is reused anyway.
    now = time.monotonic()
    if now < getattr(pool, "_sdk_next_sweep", 0.0):
        return False
    pool._sdk_next_sweep = now + SWEEP_SECONDS
    return True


def _pop_reusable(
    origin: Any,
    available: list[Connection],
    idle: list[Connection],
    connections: list[Connection],
    closing: list[Connection],
) -> Connection | None:
    """The first live idle connection to ``origin``; expired ones met on the way close."""
    while True:
        found = next((c for c in available if c.can_handle_request(origin)), None)
        if found is None:
            return None
        # Our pools speak HTTP/1.1 only: a connection takes one request at a time.
        available.remove(found)
        idle.remove(found)
        if not found.has_expired():
            return found
        connections.remove(found)
        closing.append(found)


def _assign(pool: Any, connections: list[Connection], requests: list[Any]) -> list[Connection]:
    """httpcore's assignment pass, linear in connections and queued requests."""
    # A connection handed to a request that has not started on it yet still looks idle:
    # it is spoken for, neither to be handed out again nor closed (encode/httpcore#1110).
    # Handing it out twice made one request of the two retry the pass, again and again.
    taken = {id(request.connection) for request in requests if request.connection is not None}
    closing: list[Connection] = []
    kept: list[Connection] = []
    sweep = _sweep_due(pool)
    for connection in connections:
        if connection.is_closed():
            continue
        if id(connection) not in taken and not connection.is_idle():
            # Orphaned by a request cancelled between taking it and sending on it
            # (encode/httpcore#1093): it would hold its slot for ever. Any backend.
            closing.append(connection)
        elif sweep and connection.has_expired():
            closing.append(connection)
        else:
            kept.append(connection)
    idle = [c for c in kept if c.is_idle() and id(c) not in taken]
    surplus = len(idle) - pool._max_keepalive_connections
    if surplus > 0:  # the longest-held idle connections go first, as in httpcore
        closing += idle[:surplus]
        dropped = {id(connection) for connection in idle[:surplus]}
        kept = [connection for connection in kept if id(connection) not in dropped]
        idle = idle[surplus:]
    connections[:] = kept
    queued = [request for request in requests if request.is_queued()]
    available = [c for c in idle if c.is_available()] if queued else []
    for request in queued:
        origin = request.request.url.origin
        reuse = _pop_reusable(origin, available, idle, connections, closing)
        if reuse is not None:
            request.assign_to_connection(reuse)
            continue
        if len(connections) >= pool._max_connections:
            if not idle:
                continue  # stays queued until a connection is released
            victim = idle.pop(0)
            connections.remove(victim)
            closing.append(victim)
        connection = pool.create_connection(origin)
        connections.append(connection)
        request.assign_to_connection(connection)
    return closing


class LinearConnectionPool(httpcore.ConnectionPool):
    """httpcore's ``ConnectionPool`` with a linear assignment pass."""

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        return _assign(self, self._connections, self._requests)


class AsyncLinearConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's ``AsyncConnectionPool`` with a linear assignment pass."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        return _assign(self, self._connections, self._requests)


HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)
_KNOWN_HTTPCORE = httpcore.__version__.startswith("1.0.")
"""The linear pass overrides a private method of httpcore 1.0's pool; a later httpcore keeps
its own pool bookkeeping (tests/reliability/test_rel_pool.py checks the override is in)."""


def linear_pool(client: HttpClient) -> HttpClient:
    """Give ``client``'s direct transport the linear pass; returns ``client``.

    Only an exact httpcore pool is upgraded (a proxy's pool, another transport or a
    future httpx without ``_pool`` is left as it is): the subclasses add no state, so
    switching the class of a pool that has not served a request yet is safe.
    """
    pool = getattr(client._transport, "_pool", None)
    if not _KNOWN_HTTPCORE:
        return client  # the pass relies on httpcore 1.0's pool internals: leave others be
    if type(pool) is httpcore.ConnectionPool:
        pool.__class__ = LinearConnectionPool
    elif type(pool) is httpcore.AsyncConnectionPool:
        pool.__class__ = AsyncLinearConnectionPool
    return client
