"""``RateLimit``, ``Limiter``, ``estimate_tokens``, the AIMD ``Window`` and the ``Gate``.

The limiter runs on an injected clock here, so the bucket arithmetic is checked exactly:
no sleeping, nothing timed.
"""

from __future__ import annotations

import math
import pickle
import threading
import time
from typing import Any

import httpx
import pytest

from completions_sdk import (
    APITimeoutError,
    AsyncClient,
    ChatCompletionRequest,
    Client,
    CompletionRequest,
    ConfigurationError,
    RateLimit,
)
from completions_sdk._exceptions import APIStatusError, RateLimitError
from completions_sdk._quota import Limiter, estimate_tokens
from completions_sdk._quota_gate import Gate, Window, quota_error
from completions_sdk._retry import Deadline
from completions_sdk.emulator import EmulatorServer
from tests._support import API_KEY, BASE_URL
from tests._support.emulator import client_options


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requests_per_minute", 0),
        ("requests_per_minute", -5),
        ("tokens_per_minute", math.inf),
        ("tokens_per_minute", math.nan),
        ("requests_per_minute", "60"),
        ("requests_per_minute", True),
    ],
)
def test_rate_limit_names_the_field_and_the_value(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field) as caught:
        RateLimit(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(caught.value)


def test_rate_limit_accepts_numbers_and_none() -> None:
    assert RateLimit(requests_per_minute=60, tokens_per_minute=1.5e5).adaptive
    assert RateLimit().requests_per_minute is None
    with pytest.raises(ConfigurationError, match="adaptive"):
        RateLimit(adaptive="no")  # type: ignore[arg-type]


def sends_per_window(limiter: Limiter, clock: Clock, count: int) -> list[float]:
    """When each of ``count`` sends may go, each waiting as told (the clock jumps)."""
    times = []
    for _ in range(count):
        wait = limiter.reserve(10)
        times.append(clock.now + wait)
    return times


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1) for start in times)


def test_requests_never_exceed_the_rate_plus_a_small_burst_in_any_second() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(requests_per_minute=1200), clock=clock)  # 20/s, burst 2
    times = sends_per_window(limiter, clock, 200)
    assert busiest_second(times) <= 20 + 2
    assert times[-1] - times[0] >= (200 - 2) / 20 - 1e-9  # paced, not refused


def test_tokens_are_limited_and_corrected_from_usage() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(tokens_per_minute=60_000), clock=clock)  # 1,000/s
    assert limiter.reserve(100) == 0.0  # within the burst of 100
    assert limiter.reserve(500) == pytest.approx(0.5)  # waits for its own tokens
    limiter.correct(500, 50)  # the reply said it used 50: 450 come back
    assert limiter.reserve(100) == pytest.approx(0.55)  # not 1.0: after the 50 at 0.5 s


def test_a_released_reservation_frees_its_place() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(requests_per_minute=60), clock=clock)
    assert limiter.reserve(1) == 0.0
    assert limiter.reserve(1) == pytest.approx(1.0)
    limiter.release(1)
    assert limiter.reserve(1) == pytest.approx(1.0)


def test_a_429_pauses_every_reservation() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(), clock=clock)
    assert limiter.reserve(1) == 0.0
    limiter.throttled(2.5)
    assert limiter.paused_for() == pytest.approx(2.5)
    assert limiter.reserve(1) == pytest.approx(2.5)
    limiter.throttled(None)  # no wait named: 1 s, then doubling until a success
    limiter.throttled(None)
    assert limiter.paused_for() == pytest.approx(2.5)
    clock.now += 2.5
    limiter.throttled(None)
    assert limiter.paused_for() == pytest.approx(4.0)
    limiter.succeeded()
    limiter.throttled(None)
    assert limiter.paused_for() == pytest.approx(4.0)  # 1 s now, within the longer pause


def test_a_429_paces_every_later_send_at_what_the_server_accepted() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(), clock=clock)  # no configured limit: learned from 429s
    for _ in range(50):  # 50 accepted over the last second
        limiter.succeeded()
        clock.now += 0.02
    limiter.throttled(0.0, sent_at=clock.now)
    times = sends_per_window(limiter, clock, 90)
    assert times[-1] - times[0] == pytest.approx(89 / 45, rel=0.1)  # 0.9 x 50/s
    # A 429 to a send made before that cut says nothing new: the pace stays.
    limiter.throttled(0.0, sent_at=clock.now - 5)
    assert limiter._pace_rate == pytest.approx(45)
    # Without 429s the pace probes upwards again: 5% a second, compounded.
    clock.now += 10
    assert limiter._current_pace(clock.now) == pytest.approx(45 * 1.05**10)
    # A pause leaves nothing to count: the next cut at most halves the pace.
    limiter.throttled(0.0, sent_at=clock.now)
    assert limiter._pace_rate == pytest.approx(45 * 1.05**10 / 2)


def test_a_limiter_that_is_not_adaptive_learns_no_pace() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(adaptive=False), clock=clock)
    for _ in range(50):
        limiter.succeeded()
    limiter.throttled(0.0)
    assert [limiter.reserve(1) for _ in range(20)] == [0.0] * 20


def test_the_limiter_is_shared_safely_by_threads() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(requests_per_minute=600), clock=clock)  # 10/s, burst 1
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(100):
            wait = limiter.reserve(1)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(w * 10) for w in waits) == list(range(300))  # one per 0.1 s slot


def test_estimate_tokens() -> None:
    assert estimate_tokens(CompletionRequest(model="m", prompt="x" * 400, max_tokens=10)) == 110
    request = CompletionRequest(model="m", prompt="abcd", max_tokens=10, n=2, best_of=3)
    assert estimate_tokens(request) == 1 + 10 * 2 * 3
    assert estimate_tokens(CompletionRequest(model="m", prompt=[1, 2, 3])) == 3 + 16
    assert estimate_tokens(CompletionRequest(model="m", prompt=["abcd", "abcdefgh"])) == 3 + 32
    chat = ChatCompletionRequest(
        model="m",
        messages=[
            {"role": "system", "content": "x" * 40},
            {"role": "user", "content": [{"type": "text", "text": "y" * 40}]},
        ],
        max_completion_tokens=5,
    )
    # Roles and part types count too ("system", "user", "text": 14 characters): about the
    # few tokens of overhead each message costs.
    assert estimate_tokens(chat) == math.ceil((80 + 14) / 4) + 5


def test_the_window_halves_once_per_round_and_grows_back() -> None:
    window = Window(8)
    first = window.enter()
    second = window.enter()
    assert first is not None and second is not None
    window.throttled(first)
    window.throttled(second)  # sent before the cut: the same congestion, no second cut
    assert window.size == 4
    later = window.enter()
    assert later is not None
    window.throttled(later)
    assert window.size == 2
    for _ in range(3):
        window.throttled(math.inf)
    assert window.size == 1  # never below one
    for _ in range(100):
        window.succeeded()
    assert window.size == 8  # back up to the ceiling, never past it


def test_the_window_bounds_places() -> None:
    window = Window(2)
    assert window.enter() is not None and window.enter() is not None
    assert window.enter() is None
    window.leave()
    assert window.enter() is not None


def error(status: int, headers: dict[str, str]) -> APIStatusError:
    response = httpx.Response(status, headers=headers, request=httpx.Request("POST", BASE_URL))
    return RateLimitError("quota", response=response, body=None)


def test_what_counts_as_the_quota() -> None:
    assert quota_error(error(429, {}))
    assert quota_error(error(503, {"retry-after": "2"}))
    assert not quota_error(error(503, {}))
    assert not quota_error(error(429, {"x-should-retry": "false"}))
    assert not quota_error(ValueError())


def test_the_gate_refuses_a_wait_past_the_deadline_and_gives_the_place_back() -> None:
    limiter = Limiter(RateLimit(requests_per_minute=60))
    window = Window(1)
    assert Gate(limiter, window, 1, Deadline(None), 60).wait() == 0.0
    window.leave()
    gate = Gate(limiter, window, 1, Deadline(0.5), 60)
    with pytest.raises(APITimeoutError, match="deadline"):
        gate.wait()  # the next permit is a minute away
    assert window.enter() is not None  # the window's place was given back
    assert limiter.reserve(1) == pytest.approx(1.0 * 60 / 60, abs=0.1)  # and the permit


def test_a_gate_that_woke_too_late_for_its_slot_takes_a_new_one() -> None:
    limiter = Limiter(RateLimit(requests_per_minute=600))  # 10/s, a burst of one
    gate = Gate(limiter, None, 1, Deadline(None), 60)
    assert gate.wait() == 0.0
    gate._ready_at = time.monotonic() - 0.5  # as if descheduled for half a second
    # Sent now, it would go with the slots after it; it waits for a slot of its own.
    assert 0.05 < gate.wait() <= 0.1


def test_the_gate_holds_back_a_429_and_pauses() -> None:
    limiter = Limiter(RateLimit())
    window = Window(4)
    gate = Gate(limiter, window, 1, Deadline(None), 60)
    assert gate.wait() == 0.0
    assert gate.held_back(error(429, {"retry-after-ms": "30000"}))
    assert limiter.paused_for() > 29
    assert window.size == 2
    with pytest.raises(APITimeoutError):
        Gate(limiter, window, 1, Deadline(1.0), 60).wait()
    assert not Gate(Limiter(RateLimit(adaptive=False)), None, 1, Deadline(None), 60).held_back(
        error(429, {})
    )


def test_the_rate_limit_survives_pickling() -> None:
    limit = RateLimit(requests_per_minute=30)
    with Client(api_key=API_KEY, deployment="d", base_url=BASE_URL, rate_limit=limit) as client:
        copy = pickle.loads(pickle.dumps(client))
    assert copy._rate_limit == limit
    assert copy._limiter is not None and copy._limiter is not client._limiter
    copy.close()


def test_a_rate_limit_must_be_a_rate_limit() -> None:
    with pytest.raises(ConfigurationError, match="RateLimit"):
        Client(api_key=API_KEY, deployment="d", rate_limit=60)  # type: ignore[arg-type]


def test_a_copy_from_with_options_keeps_to_the_same_quota() -> None:
    limit = RateLimit(requests_per_minute=30)
    with Client(api_key=API_KEY, deployment="d", base_url=BASE_URL, rate_limit=limit) as client:
        copy = client.with_options(deployment="other", max_retries=0)
        assert copy._limiter is client._limiter is not None


def _spy_corrections(
    client: Client | AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, int]]:
    corrections: list[tuple[int, int]] = []
    limiter = client._limiter
    assert limiter is not None
    monkeypatch.setattr(limiter, "correct", lambda *pair: corrections.append(pair))
    return corrections


STREAMED: dict[str, Any] = {"model": "m", "prompt": "hi", "max_tokens": 16}


def test_a_stream_settles_its_token_estimate_from_its_usage(
    proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = RateLimit(tokens_per_minute=600_000)
    estimate = estimate_tokens(CompletionRequest(**STREAMED))
    with Client(**client_options(proxy_emulator), rate_limit=limit) as client:
        corrections = _spy_corrections(client, monkeypatch)
        with client.stream(**STREAMED, stream_options={"include_usage": True}) as stream:
            final = stream.get_final_completion()
        assert final.usage is not None
        assert corrections == [(estimate, final.usage.total_tokens)]
        with client.stream(**STREAMED) as stream:  # no usage asked for: nothing to settle
            stream.get_final_completion()
        with client.stream(**STREAMED, stream_options={"include_usage": True}) as stream:
            next(stream)  # closed before its end: the usage never came
    assert len(corrections) == 1


async def test_an_async_stream_settles_its_token_estimate_from_its_usage(
    proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = RateLimit(tokens_per_minute=600_000)
    async with AsyncClient(**client_options(proxy_emulator), rate_limit=limit) as client:
        corrections = _spy_corrections(client, monkeypatch)
        async with client.stream(**STREAMED, stream_options={"include_usage": True}) as stream:
            final = await stream.get_final_completion()
    assert final.usage is not None
    assert corrections == [
        (estimate_tokens(CompletionRequest(**STREAMED)), final.usage.total_tokens)
    ]
