"""Batch work at the proxy's quota, over real loopback sockets, sync and async.

The server keeps its own token bucket and answers 429 with the exact ``retry-after-ms``
when it is empty; it records when each request arrived. Every check counts (requests per
one-second window, 429s, entries pulled ahead, requests sent); the only times asserted are
lower bounds that pacing guarantees, or generous upper bounds far from what was measured.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from completions_sdk import (
    APITimeoutError,
    AsyncClient,
    ChatCompletion,
    Client,
    Completion,
    RateLimit,
    RateLimitError,
    RetryPolicy,
    _quota_gate,
)
from tests._support import API_KEY
from tests.reliability._behaviours import json_reply
from tests.reliability._server import Exchange, FaultServer

COMPLETION = {"choices": [{"text": "ok", "index": 0}], "usage": {"total_tokens": 3}}
CHAT = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"total_tokens": 3},
}


class Quota:
    """The server's side: a token bucket of ``rate`` per second holding ``burst``."""

    def __init__(self, rate: float = math.inf, burst: float = 1.0, latency: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self.latency = latency
        self.level = burst
        self.updated = time.monotonic()
        self.arrivals: list[float] = []
        self.throttled = 0
        self.answered = 0

    async def behaviour(self, exchange: Exchange) -> bool:
        now = time.monotonic()
        self.arrivals.append(now)
        self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now
        if self.level < 1:
            self.throttled += 1
            wait_ms = math.ceil((1 - self.level) / self.rate * 1000)
            headers = {"retry-after-ms": str(wait_ms)}
            return await json_reply({"error": "rate limited"}, 429, headers)(exchange)
        self.level -= 1
        if self.latency:
            await asyncio.sleep(self.latency)
        self.answered += 1
        body = CHAT if exchange.request.path.endswith("/chat/completions") else COMPLETION
        return await json_reply(body)(exchange)

    def busiest_second(self) -> int:
        times = sorted(self.arrivals)
        return max((sum(1 for t in times if s <= t < s + 1) for s in times), default=0)


def client(server: FaultServer, **kwargs: Any) -> Client:
    return Client(api_key=API_KEY, deployment="d", base_url=server.url, **kwargs)


def async_client(server: FaultServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(api_key=API_KEY, deployment="d", base_url=server.url, **kwargs)


def prompts(count: int) -> list[dict[str, Any]]:
    return [{"model": "m", "prompt": f"p{i}"} for i in range(count)]


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every batch window made during the test, with the smallest size it reached."""
    made: list[Any] = []

    class Spy(_quota_gate.Window):
        def __init__(self, ceiling: int) -> None:
            super().__init__(ceiling)
            self.smallest = ceiling
            made.append(self)

        def throttled(self, sent_at: float) -> None:
            super().throttled(sent_at)
            self.smallest = min(self.smallest, self.size)

    monkeypatch.setattr(_quota_gate, "Window", Spy)
    return made


def test_a_limit_holds_across_three_threads_of_one_client(fault_server: FaultServer) -> None:
    quota = Quota()  # the server does not limit: the client must
    fault_server.script(quota.behaviour)
    limit = RateLimit(requests_per_minute=1200)  # 20/s, with a burst of 2
    with client(fault_server, rate_limit=limit) as shared:

        def work() -> None:
            for i in range(15):
                shared.complete(model="m", prompt=f"p{i}")

        started = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
    assert len(quota.arrivals) == 45
    # 20 a second plus the burst of 2; a request's trip to the server may bunch it with
    # the next one, hence the margin of 3 (measured: 22). Unlimited, all 45 land at once.
    assert quota.busiest_second() <= 20 + 2 + 3
    assert took >= (45 - 2) / 20 * 0.95


def test_a_lazy_generator_is_pulled_only_a_little_ahead(fault_server: FaultServer) -> None:
    fault_server.record = False
    fault_server.script(json_reply(COMPLETION))
    pulled = 0

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(3_000):
            pulled += 1
            yield {"model": "m", "prompt": f"p{i}"}

    ahead = received = 0
    seen = set()
    with client(fault_server) as sdk:
        for index, outcome in sdk.iter_complete_many(entries(), concurrency=8):
            ahead = max(ahead, pulled - received)
            received += 1
            seen.add(index)
            assert isinstance(outcome, Completion)
    assert seen == set(range(3_000))
    assert ahead <= 8  # at most `concurrency` entries held at once (measured: 8)


def test_async_a_lazy_generator_is_pulled_only_a_little_ahead(fault_server: FaultServer) -> None:
    fault_server.script(json_reply(COMPLETION))
    pulled = 0

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(500):
            pulled += 1
            yield {"model": "m", "prompt": f"p{i}"}

    async def run() -> tuple[int, int]:
        ahead = received = 0
        async with async_client(fault_server) as sdk:
            async for _, outcome in sdk.iter_complete_many(entries(), concurrency=8):
                ahead = max(ahead, pulled - received)
                received += 1
                assert isinstance(outcome, Completion)
        return ahead, received

    ahead, received = asyncio.run(run())
    assert received == 500
    assert ahead <= 8


def test_a_429_storm_shrinks_the_window_and_nothing_fails(
    fault_server: FaultServer, windows: list[Any]
) -> None:
    quota = Quota(rate=40, burst=2, latency=0.02)
    fault_server.script(quota.behaviour)
    with client(fault_server) as sdk:
        results = sdk.complete_many_settled(prompts(60), concurrency=8, max_retries=0)
    assert all(isinstance(r, Completion) for r in results), results
    assert quota.answered == 60
    assert quota.throttled > 0  # the storm happened
    assert windows[0].smallest <= 4  # and the window shrank (measured: 1 to 2)


def test_async_a_429_storm_shrinks_the_window_and_nothing_fails(
    fault_server: FaultServer, windows: list[Any]
) -> None:
    quota = Quota(rate=40, burst=2, latency=0.02)
    fault_server.script(quota.behaviour)

    async def run() -> list[Any]:
        async with async_client(fault_server) as sdk:
            return await sdk.complete_many(prompts(60), concurrency=8, max_retries=0)

    results = asyncio.run(run())
    assert [r.text for r in results] == ["ok"] * 60
    assert quota.throttled > 0
    assert windows[0].smallest <= 4


def test_without_adaptive_a_429_is_a_failure(fault_server: FaultServer) -> None:
    quota = Quota(rate=1, burst=1)
    fault_server.script(quota.behaviour)
    with client(fault_server, rate_limit=RateLimit(adaptive=False)) as sdk:
        results = sdk.complete_many_settled(prompts(4), concurrency=4, max_retries=0)
    assert sum(isinstance(r, RateLimitError) for r in results) == 3


def test_a_single_call_with_a_rate_limit_waits_out_a_429(fault_server: FaultServer) -> None:
    fault_server.script(
        json_reply({"error": "slow down"}, 429, {"retry-after-ms": "50"}), json_reply(COMPLETION)
    )
    with client(fault_server, rate_limit=RateLimit(), max_retries=0) as sdk:
        assert sdk.complete(model="m", prompt="p").text == "ok"
    assert fault_server.count == 2


def test_without_a_rate_limit_a_single_call_behaves_as_before(fault_server: FaultServer) -> None:
    fault_server.script(
        json_reply({"error": "slow down"}, 429, {"retry-after-ms": "50"}), json_reply(COMPLETION)
    )
    with client(fault_server, max_retries=0) as sdk, pytest.raises(RateLimitError):
        sdk.complete(model="m", prompt="p")
    assert fault_server.count == 1


def test_a_quota_wait_past_the_deadline_raises_without_sending(fault_server: FaultServer) -> None:
    fault_server.script(json_reply(COMPLETION))
    slept: list[float] = []
    policy = RetryPolicy(sleep=slept.append)  # a retry of the refusal would sleep first
    limit = RateLimit(requests_per_minute=1)
    with client(fault_server, rate_limit=limit, retry_policy=policy) as sdk:
        sdk.complete(model="m", prompt="first")
        with pytest.raises(APITimeoutError, match="nothing was sent"):
            sdk.complete(model="m", prompt="second", deadline=5)  # the next permit: 60 s
    assert fault_server.count == 1
    assert slept == []


def test_async_a_server_pause_past_the_deadline_raises_without_sending(
    fault_server: FaultServer,
) -> None:
    fault_server.script(json_reply({"error": "quota"}, 429, {"retry-after": "30"}))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> None:
        policy = RetryPolicy(async_sleep=sleep)
        async with async_client(fault_server, rate_limit=RateLimit(), retry_policy=policy) as sdk:
            with pytest.raises(APITimeoutError, match="nothing was sent"):
                await sdk.complete(model="m", prompt="p", deadline=5)
            with pytest.raises(APITimeoutError):  # every call pauses: this one is not sent
                await sdk.complete(model="m", prompt="q", deadline=5)

    asyncio.run(run())
    assert fault_server.count == 1
    assert slept == []


def test_chat_many_sync_and_async(fault_server: FaultServer) -> None:
    quota = Quota(rate=50, burst=2)
    fault_server.script(quota.behaviour)
    chats = [{"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(20)]
    with client(fault_server) as sdk:
        results = sdk.chat_many(chats, concurrency=4, max_retries=0)
        assert [r.choices[0].message.content for r in results] == ["ok"] * 20
        assert all(isinstance(r, ChatCompletion) for r in results)
        assert {i for i, _ in sdk.iter_chat_many(chats, max_retries=0)} == set(range(20))

    async def run() -> list[Any]:
        async with async_client(fault_server) as sdk:
            return await sdk.chat_many_settled(chats, concurrency=4, max_retries=0)

    assert all(isinstance(r, ChatCompletion) for r in asyncio.run(run()))
    assert all(seen.path.endswith("/chat/completions") for seen in fault_server.requests)


def test_a_bad_entry_of_a_lazy_batch_is_named(fault_server: FaultServer) -> None:
    fault_server.script(json_reply(COMPLETION))

    def entries() -> Iterator[dict[str, Any]]:
        yield from prompts(5)
        yield {"model": "m", "temperature": 9}
        yield from prompts(100)

    with client(fault_server) as sdk, pytest.raises(ValidationError, match="temperature") as bad:
        for _ in sdk.iter_complete_many(entries(), concurrency=2):
            pass
    assert bad.value.__notes__ == ["in entry 5 of the batch (counting from 0)"]
    assert fault_server.count <= 5  # nothing after the bad entry was sent
    with client(fault_server) as sdk, pytest.raises(ValidationError, match="messages") as bad:
        sdk.chat_many([{"model": "m", "messages": [{"role": "user", "content": "hi"}]}, {}])
    assert bad.value.__notes__ == ["in entry 1 of the batch (counting from 0)"]


def test_async_calls_cancelled_while_waiting_for_the_quota_give_their_slots_back(
    fault_server: FaultServer,
) -> None:
    fault_server.script(json_reply(COMPLETION))
    limit = RateLimit(requests_per_minute=60)  # one a second

    async def run() -> None:
        async with async_client(fault_server, rate_limit=limit) as sdk:
            await sdk.complete(model="m", prompt="first")
            waiting = [
                asyncio.create_task(sdk.complete(model="m", prompt=f"w{i}", deadline=60))
                for i in range(20)  # slots 1 to 20 s ahead
            ]
            await asyncio.sleep(0.2)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            # Twenty abandoned slots would push this one 21 s out, past its deadline.
            await sdk.complete(model="m", prompt="after", deadline=10)

    asyncio.run(run())
    assert fault_server.count == 2


def test_a_with_options_copy_keeps_to_the_original_quota_in_a_forked_child(
    fault_server: FaultServer,
) -> None:
    fault_server.script(json_reply(COMPLETION))
    with client(fault_server, rate_limit=RateLimit(requests_per_minute=1)) as sdk:
        copy = sdk.with_options(max_retries=0)
        sdk._after_fork()  # what the fork hook runs in the child: a fresh limiter
        sdk.complete(model="m", prompt="first")
        with pytest.raises(APITimeoutError, match="nothing was sent"):
            copy.complete(model="m", prompt="second", deadline=5)  # the next permit: 60 s
    assert fault_server.count == 1
