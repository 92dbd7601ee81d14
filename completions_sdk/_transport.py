"""What the SDK adds under httpx: reads bounded by a call's deadline, fresh pools in a
forked child, and a pool closed with its event loop.

httpx bounds each read by a timeout, not a call: a server that trickles a byte a second
keeps a call alive for ever. The SDK's own clients read through the streams of
``_bounded_io.py``, which shorten every read, write and connect to the time left before
the call's expiry (a context variable set here, by the shells around their I/O); past it,
the read fails as a timeout and httpcore closes the connection. The same streams tell a
batch being abandoned (``_cancel.py``) which socket a worker thread is blocked on.

A child of ``os.fork()`` renews the pools of the clients that own them
(``renew_after_fork``), and ``close_with_loop`` closes an event loop's pool when
``asyncio.run`` ends that loop.

The bounded reads reach into httpcore's pool (``_network_backend``);
``tests/test_transport.py`` fails loudly if a new httpcore moves them.
"""

from __future__ import annotations

import contextvars
import os
import time
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

import httpx

__all__ = [
    "bind_expiry",
    "bind_expiry_within",
    "bind_stream_watcher",
    "bound_reads",
    "close_with_loop",
    "current_expiry",
    "current_stream_watcher",
    "renew_after_fork",
    "reset_expiry",
    "reset_stream_watcher",
]

_expiry: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "completions_sdk_expiry", default=None
)
"""The ``time.monotonic()`` at which the current call must end, or ``None``."""

bind_expiry = _expiry.set
reset_expiry = _expiry.reset
current_expiry = _expiry.get


def bind_expiry_within(seconds: float) -> contextvars.Token[float | None]:
    """Bind an expiry ``seconds`` from now, or the current one if it is sooner."""
    expires = time.monotonic() + seconds
    current = _expiry.get()
    return _expiry.set(expires if current is None or current > expires else current)


_stream_watcher: contextvars.ContextVar[Callable[[Any], None] | None] = contextvars.ContextVar(
    "completions_sdk_stream_watcher", default=None
)
"""Told the stream a sync call is about to block on, then ``None`` (see ``_cancel.py``)."""

bind_stream_watcher = _stream_watcher.set
reset_stream_watcher = _stream_watcher.reset
current_stream_watcher = _stream_watcher.get


def _pools(client: httpx.Client | httpx.AsyncClient) -> list[Any]:
    transports = [client._transport, *client._mounts.values()]
    return [pool for t in transports if (pool := getattr(t, "_pool", None)) is not None]


def bound_reads(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Make every read of ``client``'s pools end by the current call's expiry.

    Returns ``False`` (nothing changed) when a pool is not httpcore's, e.g. a transport
    of the user's own: deadlines then bound each read, not the call.
    """
    pools = _pools(client)
    if not pools or not all(hasattr(pool, "_network_backend") for pool in pools):
        return False
    # Imported with the first client, not with the package: it needs httpcore, which
    # httpx itself imports only when it builds a transport (about 10% of the import).
    from ._bounded_io import bounded_backend

    for pool in pools:
        pool._network_backend = bounded_backend(pool._network_backend)
    return True


async def close_with_loop(http: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Started once under a loop, closes ``http`` when that loop ends.

    ``asyncio.run`` (and ``asyncio.Runner``, so pytest-asyncio) finalises the async
    generators of its loop before closing it: the pool is closed while its loop can
    still run the closing.
    """
    try:
        yield
    finally:
        await http.aclose()


class _Forkable(Protocol):
    def _after_fork(self) -> None: ...


_forkables: weakref.WeakSet[_Forkable] = weakref.WeakSet()


def renew_after_fork(owner: _Forkable) -> None:
    """Call ``owner._after_fork()`` in the child of every ``os.fork()`` while it lives.

    A pool's sockets are shared with the parent after a fork: a child that used them would
    read the parent's replies (gunicorn ``--preload``, Celery prefork, multiprocessing's
    ``fork``). The child drops them, unclosed: closing would end the parent's too.
    """
    _forkables.add(owner)


def _after_fork_in_child() -> None:
    for owner in list(_forkables):
        owner._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
