"""Cancelled async streams do not fill the connection pool (issue 12.3).

httpcore 1.0.x orphans a connection when a request is cancelled between being handed a
connection and sending on it (encode/httpcore#1093): neither idle nor closed, owned by no
request, it holds a pool slot for ever. Before the fix, 2,500 streams cancelled at random
points left 100 of 100 connections stuck and every later call failed with a pool timeout.

Here a few hundred streams are cancelled at random points (waiting for a connection,
before the headers, mid-stream) in the three ways users cancel: ``asyncio.wait_for``
around an ``async with``, ``task.cancel()``, and ``wait_for`` around ``complete()``. Many
more callers than connections make the pool hand connections to waiting requests all the
time, which is where the orphans come from. Afterwards every connection of the pool must
be idle or closed, and new calls must get a connection within a short pool timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import httpx
import pytest

from completions_sdk import AsyncClient, CompletionsError
from tests._support import API_KEY
from tests.reliability._behaviours import echo, slow_stream
from tests.reliability._server import FaultServer

MAX_CONNECTIONS = 10
SHORT_POOL_TIMEOUT = 3.0
"""Seconds a call after the storm may wait for a connection: all are free by then."""


async def _read(client: AsyncClient, prompt: str) -> None:
    async with client.stream(model="m", prompt=prompt) as stream:
        async for _ in stream:
            pass


async def _cancelled_call(
    client: AsyncClient, index: int, rng: random.Random, longest: float
) -> None:
    """One call, cancelled after up to ``longest`` seconds, one of three ways."""
    delay = rng.uniform(0, longest)
    how = index % 3
    # A call the delay let finish is no failure here (a complete() of this stream is not
    # a Completion): only what the cancelled ones leave in the pool matters.
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, CompletionsError):
        if how == 0:  # the documented pattern: a timeout around the whole `async with`
            await asyncio.wait_for(_read(client, f"stream {index}"), delay)
        elif how == 1:
            task = asyncio.create_task(_read(client, f"task {index}"))
            await asyncio.sleep(delay)
            task.cancel()
            await task
        else:
            await asyncio.wait_for(client.complete(model="m", prompt=f"call {index}"), delay)


def _stuck(client: AsyncClient) -> list[Any]:
    """The pool's connections that are neither idle nor closed (nothing is running)."""
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    return [c for c in pool._connections if not (c.is_idle() or c.is_closed())]


async def _storm(
    client: AsyncClient, calls: int, at_once: int, seed: int, longest: float = 0.03
) -> None:
    rng = random.Random(seed)
    for start in range(0, calls, at_once):
        await asyncio.gather(
            *(_cancelled_call(client, i, rng, longest) for i in range(start, start + at_once))
        )
    await asyncio.sleep(0.05)  # lets the closings the cancellations started finish


async def _check_the_pool_recovers(client: AsyncClient, server: FaultServer) -> None:
    assert _stuck(client) == []
    server.script(echo())
    prompts = [f"after {i}" for i in range(20)]
    results = await asyncio.gather(*(client.complete(model="m", prompt=p) for p in prompts))
    assert [r.text for r in results] == [f"echo:{p}" for p in prompts]


def _client(server: FaultServer, limits: httpx.Limits | None = None) -> AsyncClient:
    return AsyncClient(
        api_key=API_KEY,
        deployment="d",
        base_url=server.url,
        max_retries=0,
        timeout=httpx.Timeout(10, pool=SHORT_POOL_TIMEOUT),
        limits=limits,
    )


async def test_cancelled_streams_leave_a_small_pool_usable(fault_server: FaultServer) -> None:
    fault_server.script(slow_stream())
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS)
    async with _client(fault_server, limits) as client:
        # Cancelled after 0-30 ms, few calls reach a loaded server: storm on until more
        # than the pool's worth of them has (a bounded number of rounds, each letting the
        # calls live a little longer, so that a busy machine's slow sends get there too).
        for seed in range(1, 11):
            await _storm(client, calls=300, at_once=30, seed=seed, longest=0.03 * seed)
            if fault_server.count > MAX_CONNECTIONS:
                break
        assert fault_server.count > MAX_CONNECTIONS  # the storm did reach the server
        await _check_the_pool_recovers(client, fault_server)


async def test_cancelled_streams_leave_the_sdks_own_pool_usable(
    fault_server: FaultServer,
) -> None:
    fault_server.script(slow_stream())
    async with _client(fault_server) as client:
        await _storm(client, calls=300, at_once=150, seed=2, longest=0.1)
        await _check_the_pool_recovers(client, fault_server)


@pytest.mark.load
@pytest.mark.timeout(180)
async def test_a_long_storm_of_cancelled_streams(fault_server: FaultServer) -> None:
    fault_server.script(slow_stream(events=40))
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS)
    async with _client(fault_server, limits) as client:
        for round_ in range(5):
            fault_server.script(slow_stream(events=40))
            await _storm(client, calls=500, at_once=50, seed=100 + round_)
            await _check_the_pool_recovers(client, fault_server)
