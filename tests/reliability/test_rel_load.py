"""Load and soak, bounded and on loopback: every text exact, nothing retried or duplicated,
file descriptors and memory flat. Marked ``load`` (skip locally with ``-m 'not load'``).
"""

from __future__ import annotations

import asyncio
import gc
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from completions_sdk import AsyncClient, Client, InternalServerError
from tests._support import API_KEY
from tests.reliability._behaviours import echo
from tests.reliability._drive import Mode, Received, areceive, receive
from tests.reliability._server import FaultServer

pytestmark = pytest.mark.load


def _options(server: FaultServer, **more: Any) -> dict[str, Any]:
    return {"api_key": API_KEY, "deployment": "d", "base_url": server.url, **more}


def _check(received: Received, prompt: str) -> None:
    """The exact echo of ``prompt``, or the 503 a ``fail:`` prompt asks for."""
    if prompt.startswith("fail:"):
        assert type(received.error) is InternalServerError, received.error
    else:
        assert received.error is None, received.error
        assert received.texts == {0: f"echo:{prompt}"}


def _prompt(number: int) -> str:
    # Lengths vary, and some texts are multi-byte, so events split them differently.
    return f"{number}-" + "\u00e9\U0001f600x"[number % 3] * (number % 41)


async def _streams(client: AsyncClient, count: int) -> None:
    prompts = [_prompt(number) for number in range(count)]
    results = await asyncio.gather(*(areceive(client, prompt=prompt) for prompt in prompts))
    for received, prompt in zip(results, prompts, strict=True):
        _check(received, prompt)


async def test_500_concurrent_streams_every_text_exact(fault_server: FaultServer) -> None:
    # The server holds every reply until all 500 requests are open at once.
    fault_server.script(echo(barrier=500))
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await _streams(AsyncClient(**_options(fault_server, http_client=http)), 500)
    assert len(fault_server.requests) == 500  # nothing retried, nothing duplicated
    assert fault_server.peak_open_requests == 500


async def test_200_streams_through_a_100_connection_pool(fault_server: FaultServer) -> None:
    # The client's own pool capped at 100 connections: the rest queue, none is lost or
    # repeated (the default allows 1,000: test_rel_pool.py).
    fault_server.script(echo())
    limits = httpx.Limits(max_connections=100)
    async with AsyncClient(**_options(fault_server, limits=limits)) as client:
        await _streams(client, 200)
    assert len(fault_server.requests) == 200
    assert fault_server.peak_open_requests <= 100


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _one(client: Client, number: int) -> None:
    # A mix: mostly completions, every 4th a stream, every 50th an error reply.
    prompt = f"fail:{number}" if number % 50 == 0 else _prompt(number)
    mode: Mode = "stream" if number % 4 == 0 else "complete"
    _check(receive(client, mode, prompt=prompt), prompt)


# Bounded by its count, not by time: 10,000 calls with the server in this process take
# 15 s on an idle core, and past the suite's 60 s hang guard on two cores shared with Ray.
@pytest.mark.timeout(240)
def test_10000_sequential_requests_keep_descriptors_and_memory_flat(
    fault_server: FaultServer,
) -> None:
    fault_server.script(echo())
    fault_server.record = False  # the server shares this process: only count the requests
    warmup, total, checkpoints = 500, 10_000, 5
    with Client(**_options(fault_server, max_retries=0)) as client:
        for number in range(warmup):
            _one(client, number)
        gc.collect()
        fds, rss = _open_fds(), _rss()
        samples = []
        for number in range(warmup, total):
            _one(client, number)
            if number % ((total - warmup) // checkpoints) == 0:
                gc.collect()
                samples.append((_open_fds() - fds, _rss() - rss))
    assert fault_server.count == total
    assert max(fd for fd, _ in samples) <= 2, samples
    assert max(grown for _, grown in samples) < 32 * 2**20, samples  # generous: no leak


def test_one_client_shared_by_16_threads(fault_server: FaultServer) -> None:
    # The first replies wait until 16 requests are open at once: the threads really overlap.
    fault_server.script(echo(barrier=16))
    threads, each = 16, 60
    with Client(**_options(fault_server, max_retries=0)) as client:

        def work(thread: int) -> None:
            for number in range(thread * each, (thread + 1) * each):
                _one(client, number)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))  # re-raises the first failure
    assert len(fault_server.requests) == threads * each
    assert fault_server.peak_open_requests == threads
