"""Abandoning a batch over real sockets: the first error and Ctrl-C surface at once, and
the calls still in flight are closed, not waited for and not retried.

The server answers ``fail`` prompts with a 400 once the whole batch has arrived, and lets
every other request hang (30 s, far beyond any bound below): code that waits for the calls
in flight takes 30 s or more to raise. Measured on a loaded 2-core machine, the error and
the interrupt surfaced within 0.1 s and every hanging connection was closed within 0.2 s;
the bounds below are generous.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk import AsyncClient, BadRequestError, Client, RetryPolicy
from tests._support import API_KEY
from tests.reliability._behaviours import json_reply
from tests.reliability._server import Exchange, FaultServer

SIZE = 4
HANG = 30.0
PROMPT_BOUND = 5.0
"""Seconds within which an error or an interrupt must surface (it takes ~0.1 s)."""
NO_WAIT = RetryPolicy(initial_delay=0.01, max_delay=0.01)
"""Retries without backoff: a retry of an abandoned call would show up at once."""


class HangingBatch:
    """The server's side of a batch: counts arrivals and the hung calls the client closed."""

    def __init__(self) -> None:
        self.arrived = 0
        self.hung_up = 0

    async def behaviour(self, exchange: Exchange) -> bool:
        prompt = exchange.request.json()["prompt"]
        if prompt == "ok":
            return await json_reply({"choices": [{"text": "ok"}]})(exchange)
        self.arrived += 1
        if prompt == "fail":
            for _ in range(1000):  # reply once every call is in flight
                if self.arrived >= SIZE:
                    break
                await asyncio.sleep(0.01)
            return await json_reply({"error": "bad request"}, 400)(exchange)
        try:
            await asyncio.wait_for(exchange.wait_for_hangup(), HANG)
            self.hung_up += 1
        except asyncio.TimeoutError:
            pass
        return False


def batch(prompts: list[str]) -> list[dict[str, Any]]:
    return [{"model": "m", "prompt": prompt} for prompt in prompts]


def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> float:
    """Seconds until ``condition`` held (polled), or ``limit`` if it never did."""
    start = time.monotonic()
    while not condition() and time.monotonic() - start < limit:
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def server(fault_server: FaultServer) -> HangingBatch:
    hanging = HangingBatch()
    fault_server.script(hanging.behaviour)
    return hanging


def make_client(fault_server: FaultServer) -> Client:
    return Client(
        api_key=API_KEY,
        deployment="d",
        base_url=fault_server.url,
        timeout=HANG * 2,
        retry_policy=NO_WAIT,
    )


def test_the_first_error_surfaces_at_once_and_closes_the_calls_in_flight(
    fault_server: FaultServer, server: HangingBatch
) -> None:
    with make_client(fault_server) as client:
        # Warm the pool: the batch's calls then run on reused keep-alive connections.
        client.complete_many(batch(["ok"] * SIZE), concurrency=SIZE)
        start = time.monotonic()
        with pytest.raises(BadRequestError):
            client.complete_many(batch(["fail"] + ["hang"] * (SIZE - 1)), concurrency=SIZE)
        raised = time.monotonic() - start
        closed = wait_until(lambda: server.hung_up == SIZE - 1)
        time.sleep(0.5)  # a retry of an abandoned call would arrive by now
    assert fault_server.connections == SIZE, "the batch's calls reused the warm connections"
    assert raised < PROMPT_BOUND, f"the error surfaced after {raised:.1f} s"
    assert server.hung_up == SIZE - 1, f"{server.hung_up} of {SIZE - 1} hanging calls closed"
    assert closed < PROMPT_BOUND, f"the hanging calls were closed after {closed:.1f} s"
    assert fault_server.count == 2 * SIZE, "no abandoned call was retried"


def test_ctrl_c_surfaces_at_once_and_closes_the_calls_in_flight(
    fault_server: FaultServer, server: HangingBatch
) -> None:
    sent_at: list[float] = []

    def interrupt_when_all_hang() -> None:
        if wait_until(lambda: server.arrived >= SIZE) < 10.0:
            sent_at.append(time.monotonic())
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_when_all_hang)
    with make_client(fault_server) as client:
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            client.complete_many(batch(["hang"] * SIZE), concurrency=SIZE)
        raised = time.monotonic() - sent_at[0]
        interrupter.join()
        closed = wait_until(lambda: server.hung_up == SIZE)
        time.sleep(0.5)
    assert raised < PROMPT_BOUND, f"Ctrl-C surfaced after {raised:.1f} s"
    assert server.hung_up == SIZE, f"{server.hung_up} of {SIZE} hanging calls closed"
    assert closed < PROMPT_BOUND, f"the hanging calls were closed after {closed:.1f} s"
    assert fault_server.count == SIZE, "no abandoned call was retried"


def test_async_the_first_error_cancels_the_calls_in_flight(
    fault_server: FaultServer, server: HangingBatch
) -> None:
    async def run() -> float:
        async with AsyncClient(
            api_key=API_KEY, deployment="d", base_url=fault_server.url, timeout=HANG * 2
        ) as client:
            start = time.monotonic()
            with pytest.raises(BadRequestError):
                await client.complete_many(
                    batch(["fail"] + ["hang"] * (SIZE - 1)), concurrency=SIZE
                )
            # Still inside the loop and the client: nothing was closed by leaving them.
            raised = time.monotonic() - start
            for _ in range(int(PROMPT_BOUND / 0.01)):
                if server.hung_up == SIZE - 1:
                    break
                await asyncio.sleep(0.01)
            return raised

    raised = asyncio.run(run())
    assert raised < PROMPT_BOUND, f"the error surfaced after {raised:.1f} s"
    assert server.hung_up == SIZE - 1, f"{server.hung_up} of {SIZE - 1} hanging calls closed"
    assert fault_server.count == SIZE
