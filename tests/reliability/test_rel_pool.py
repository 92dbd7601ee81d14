"""The connection pool over loopback: connections reused under concurrency, fan-out served.

httpcore 1.0.x counted busy connections against ``max_keepalive_connections``: with httpx's
defaults (100 connections, 20 kept alive), 32 threads making 640 calls opened about 600
TCP connections, and a fan-out of 300 streams waited for 100 connections. The counts
below are the server's: connections it accepted, requests open at once.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpcore
import httpx
import pytest

from completions_sdk import AsyncClient, Client, ConfigurationError
from completions_sdk._pool import DEFAULT_LIMITS, AsyncLinearConnectionPool, linear_pool
from tests.conftest import API_KEY
from tests.reliability._behaviours import echo, json_reply
from tests.reliability._drive import areceive, receive
from tests.reliability._server import FaultServer

CALLERS = 32


def _options(server: FaultServer, **more: Any) -> dict[str, Any]:
    return {"api_key": API_KEY, "deployment": "d", "base_url": server.url, **more}


def _check_all(received: list[Any], prompts: list[str]) -> None:
    for got, prompt in zip(received, prompts, strict=True):
        assert got.error is None, got.error
        assert got.texts == {0: f"echo:{prompt}"}


async def _fan_out(client: AsyncClient, count: int, tag: str = "") -> None:
    prompts = [f"{tag}{number}" for number in range(count)]
    received = await asyncio.gather(*(areceive(client, prompt=p) for p in prompts))
    _check_all(received, prompts)


@pytest.mark.load
def test_32_threads_reuse_their_connections(fault_server: FaultServer) -> None:
    # 32 threads x 20 calls, half streamed: before, about 600 connections for 640 calls.
    fault_server.script(echo())
    each = 20
    with Client(**_options(fault_server, max_retries=0)) as client:

        def work(thread: int) -> None:
            for number in range(thread * each, (thread + 1) * each):
                mode = "stream" if number % 2 else "complete"
                got = receive(client, mode, prompt=str(number))
                assert got.texts == {0: f"echo:{number}"}, got.error

        with ThreadPoolExecutor(CALLERS) as pool:
            list(pool.map(work, range(CALLERS)))
    assert fault_server.count == CALLERS * each
    assert fault_server.connections <= 2 * CALLERS, fault_server.connections


@pytest.mark.load
async def test_32_concurrent_async_streams_reuse_their_connections(
    fault_server: FaultServer,
) -> None:
    # 20 rounds of 32 streams, each round's replies held until all 32 are open: before,
    # 260 connections for 640 streams.
    rounds, opened = 20, 0
    async with AsyncClient(**_options(fault_server, max_retries=0)) as client:
        for round_ in range(rounds):
            fault_server.script(echo(barrier=CALLERS, wait=5))  # counts from zero
            await _fan_out(client, CALLERS, tag=f"{round_}-")
            assert fault_server.peak_open_requests == CALLERS
            opened += fault_server.connections
    assert opened <= 2 * CALLERS, opened


@pytest.mark.load
async def test_300_concurrent_streams_are_served_at_once(fault_server: FaultServer) -> None:
    # No reply starts before 300 requests are open (or 5 s passed): before, the default
    # pool let 100 through, and the other 200 queued behind them.
    streams = 300
    fault_server.script(echo(barrier=streams, wait=5))
    async with AsyncClient(**_options(fault_server, max_retries=0)) as client:
        await _fan_out(client, streams)
    assert fault_server.count == streams  # nothing retried, nothing lost
    assert fault_server.peak_open_requests == streams
    assert fault_server.connections == streams


async def test_limits_bound_the_pool_and_queued_streams_are_served(
    fault_server: FaultServer,
) -> None:
    fault_server.script(echo())
    limits = httpx.Limits(max_connections=4)
    async with AsyncClient(**_options(fault_server, limits=limits)) as client:
        await _fan_out(client, 12)
    assert fault_server.count == 12
    assert fault_server.peak_open_requests <= 4
    assert fault_server.connections == 4


async def test_idle_connections_beyond_the_keepalive_limit_are_closed(
    fault_server: FaultServer,
) -> None:
    # 8 at once, twice: 2 connections kept from the first round, 6 new ones for the second.
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=2)
    opened = []
    async with AsyncClient(**_options(fault_server, limits=limits)) as client:
        for _ in range(2):
            fault_server.script(echo(barrier=8, wait=5))  # counts from zero
            await _fan_out(client, 8)
            opened.append(fault_server.connections)
    assert opened == [8, 6]


def test_a_full_pool_closes_an_idle_connection_to_another_origin(
    fault_server: FaultServer,
) -> None:
    fault_server.script(echo())
    other = FaultServer()
    other.start()
    try:
        other.script(echo())
        limits = httpx.Limits(max_connections=1)
        with linear_pool(httpx.Client(limits=limits)) as http:
            for url in [fault_server.url, other.url, fault_server.url]:
                reply = http.post(f"{url}/x", json={"prompt": "p"})
                assert reply.json()["choices"][0]["text"] == "echo:p"
            assert len(http._transport._pool.connections) == 1  # type: ignore[attr-defined]
        assert (fault_server.connections, other.connections) == (2, 1)
    finally:
        other.stop()


def test_a_connection_the_server_closed_is_not_reused(fault_server: FaultServer) -> None:
    # The pass checks idle connections for expiry at most once a second, and always the
    # one it hands out: the second call must not be sent into the closed socket.
    fault_server.script(json_reply({"id": "e", "choices": [{"text": "t"}]}, end="close"))
    with Client(**_options(fault_server, max_retries=0)) as client:
        for _ in range(3):
            assert client.complete(model="m", prompt="p").text == "t"
            # The server closes after replying, on its own thread: wait until it has, so
            # that the FIN is there to be seen (sent too early, a request would race it,
            # as with any keep-alive client).
            for _ in range(500):
                if fault_server.open_connections == 0:
                    break
                time.sleep(0.01)
    assert fault_server.connections == 3


def test_an_expired_idle_connection_is_not_reused(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    limits = httpx.Limits(keepalive_expiry=0.05)
    with Client(**_options(fault_server, max_retries=0, limits=limits)) as client:
        for _ in range(3):
            assert client.complete(model="m", prompt="p").text == "echo:p"
            time.sleep(0.2)
    assert fault_server.connections == 3


def test_the_default_pool_fits_fan_out() -> None:
    assert DEFAULT_LIMITS.max_connections == DEFAULT_LIMITS.max_keepalive_connections == 1000
    with Client(api_key=API_KEY, deployment="d") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert type(pool).__name__ == "LinearConnectionPool"
        assert pool._max_connections == pool._max_keepalive_connections == 1000


def test_limits_survive_pickling() -> None:
    limits = httpx.Limits(max_connections=7, max_keepalive_connections=3)
    with Client(api_key=API_KEY, deployment="d", limits=limits) as client:
        copy = pickle.loads(pickle.dumps(client))
    pool = copy._http._transport._pool  # type: ignore[attr-defined]
    assert (pool._max_connections, pool._max_keepalive_connections) == (7, 3)
    copy.close()


def test_limits_and_your_own_http_client_do_not_mix() -> None:
    with httpx.Client() as http, pytest.raises(ConfigurationError, match="limits"):
        Client(api_key=API_KEY, deployment="d", http_client=http, limits=httpx.Limits())


def test_your_own_http_client_keeps_its_pool() -> None:
    with httpx.Client() as http:
        Client(api_key=API_KEY, deployment="d", http_client=http)
        assert type(http._transport._pool) is httpcore.ConnectionPool  # type: ignore[attr-defined]


class _FakeConnection:
    """An idle HTTP/1.1 connection as the pool sees it."""

    def is_closed(self) -> bool:
        return False

    def has_expired(self) -> bool:
        return False

    def is_idle(self) -> bool:
        return True  # until its request starts, as httpcore's connections do

    def is_available(self) -> bool:
        return True

    def can_handle_request(self, origin: object) -> bool:
        return True


class _FakeRequest:
    def __init__(self) -> None:
        self.connection: object = None
        self.request = httpcore.Request("GET", "http://127.0.0.1/")

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: object) -> None:
        self.connection = connection


def test_a_connection_handed_to_a_request_is_not_handed_out_again() -> None:
    # Before, each request arriving before the first had started got the same idle
    # connection: all but one failed and went round again (4,500 times for 500 streams).
    pool = AsyncLinearConnectionPool(max_connections=10, max_keepalive_connections=1)
    warm = _FakeConnection()
    pool._connections = [warm]  # type: ignore[list-item]
    first, second = _FakeRequest(), _FakeRequest()
    pool._requests = [first]  # type: ignore[list-item]
    assert pool._assign_requests_to_connections() == []
    pool._requests.append(second)  # type: ignore[arg-type]
    assert pool._assign_requests_to_connections() == []  # nor closed as surplus idle
    assert first.connection is warm
    assert second.connection is not None and second.connection is not warm
    assert pool._connections[0] is warm and len(pool._connections) == 2


class _BusyConnection(_FakeConnection):
    """A connection being set up or used: neither idle nor closed."""

    def is_idle(self) -> bool:
        return False


def test_a_connection_a_cancellation_orphaned_is_closed_by_the_next_pass() -> None:
    # encode/httpcore#1093: a request cancelled between taking a connection and sending
    # on it leaves that connection CONNECTING (or NEW), owned by no request: httpcore
    # keeps it for ever, one pool slot less each time. A busy connection with its
    # request still there is left alone.
    pool = AsyncLinearConnectionPool(max_connections=10)
    orphan, owned, idle = _BusyConnection(), _BusyConnection(), _FakeConnection()
    pool._connections = [orphan, owned, idle]  # type: ignore[list-item]
    request = _FakeRequest()
    request.connection = owned
    pool._requests = [request]  # type: ignore[list-item]
    assert pool._assign_requests_to_connections() == [orphan]
    assert pool._connections == [owned, idle]
