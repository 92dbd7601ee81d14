"""Quotas (token buckets per deployment), seeded fault rates and latency, over real sockets.

Exact waits are checked against a server whose clock the test holds still and moves; the
one-second windows are checked on the real clock, by counting what the emulator recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest

from completions_sdk.emulator import Deployment, EmulatorConfig, EmulatorServer, Faults, Quota
from completions_sdk.emulator._quota import format_reset
from tests._support.emulator import CHAT_PATH, PATH, TLS

BODY = {"model": "m", "prompt": "hi", "max_tokens": 4}
TRIOS = ("requests", "tokens")
HEADERS = {
    f"x-ratelimit-{what}-{kind}" for what in ("limit", "remaining", "reset") for kind in TRIOS
}


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def held(clock: Clock) -> Iterator[EmulatorServer]:
    """An emulator on ``clock``: "d" allows 60 requests and 600 tokens a minute, "e" 60
    requests, "t" 600 tokens."""
    config = EmulatorConfig(
        deployments={
            "d": Deployment(quota=Quota(requests_per_minute=60, tokens_per_minute=600)),
            "e": Deployment(quota=Quota(requests_per_minute=60)),
            "t": Deployment(quota=Quota(tokens_per_minute=600)),
            "free": Deployment(),
        }
    )
    with EmulatorServer(config, clock=clock) as server:
        yield server


def post(
    server: EmulatorServer, deployment: str, body: Any = BODY, **headers: str
) -> httpx.Response:
    headers = {"apikey": server.api_key, "X-Enkrypt-Deployment": deployment, **headers}
    return httpx.post(server.completions_url, json=body, headers=headers, verify=TLS)


def test_a_429_says_to_the_millisecond_when_the_next_request_is_admitted(
    held: EmulatorServer, clock: Clock
) -> None:
    first = post(held, "d")
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "60"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert first.headers["x-ratelimit-reset-requests"] == "1s"
    clock.now += 0.25
    refused = post(held, "d")
    assert refused.status_code == 429
    assert refused.headers["retry-after-ms"] == "750"
    assert refused.headers["retry-after"] == "1"  # whole seconds, rounded up
    assert refused.headers["x-ratelimit-reset-requests"] == "750ms"
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    clock.now += 0.749
    assert post(held, "d").headers["retry-after-ms"] == "1"
    clock.now += 0.001  # exactly when it said
    assert post(held, "d").status_code == 200
    statuses = [(r.deployment, r.status, r.throttled) for r in held.replies]
    assert statuses == [("d", 200, False), ("d", 429, True), ("d", 429, True), ("d", 200, False)]


def test_tokens_are_estimated_then_settled_against_the_usage(
    held: EmulatorServer, clock: Clock
) -> None:
    # 600 tokens a minute: a bucket of 10. "hi" is 1 token; max_tokens=8 estimates 9, but
    # the stop sequence " " ends every choice at once: the usage is 1, and 8 come back.
    cut = post(held, "t", {**BODY, "max_tokens": 8, "stop": " "})
    assert cut.json()["usage"]["total_tokens"] == 1
    assert cut.headers["x-ratelimit-remaining-tokens"] == "9"
    assert cut.headers["x-ratelimit-limit-tokens"] == "600"
    assert "x-ratelimit-limit-requests" not in cut.headers
    # Asking for more than a full bucket (21) waits for a full bucket: 1 token at 10/s.
    big = post(held, "t", {**BODY, "max_tokens": 20})
    assert (big.status_code, big.headers["retry-after-ms"]) == (429, "100")
    clock.now += 0.1
    admitted = post(held, "t", {**BODY, "max_tokens": 20})
    assert admitted.status_code == 200  # and the bucket is left in debt: 10 - 21
    assert admitted.headers["x-ratelimit-remaining-tokens"] == "0"
    clock.now += 1
    refused = post(held, "t", {**BODY, "max_tokens": 4})  # needs 5; holds -11 + 10 = -1
    assert refused.headers["retry-after-ms"] == "600"


def test_deployments_have_their_own_buckets_and_headers(held: EmulatorServer) -> None:
    assert [post(held, "d").status_code for _ in range(3)] == [200, 429, 429]
    assert post(held, "e").status_code == 200  # "d" spent its quota, not "e"'s
    free = post(held, "free")
    assert free.status_code == 200
    assert not HEADERS & set(free.headers)  # an unlimited deployment sends none
    # Every reply of a limited deployment carries them: an invalid body, a scripted fault.
    invalid = post(held, "d", {"model": "m", "prompt": "hi", "n": 0})
    fault = post(held, "d", **{"X-Emulator-Fault": "status=503"})
    assert (invalid.status_code, fault.status_code) == (422, 503)
    assert set(invalid.headers) >= HEADERS and set(fault.headers) >= HEADERS
    assert not {"x-ratelimit-limit-tokens"} & set(post(held, "e").headers)  # no token limit
    assert len(held.replies.matching(deployment="d", status=429)) == 2
    assert len(held.replies.matching(throttled=True)) == 3  # "e"'s second one too
    held.reset()
    assert post(held, "d").status_code == 200  # full again


def test_the_limit_holds_in_every_one_second_window(proxy_emulator: EmulatorServer) -> None:
    # 20 a second and a bucket of 20: at most 20 + 20 in any one-second window, with
    # three threads sending as fast as they can for about 2.5 s.
    proxy_emulator.add_deployment("busy", Deployment(quota=Quota(requests_per_minute=1200)))
    headers = {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": "busy"}
    until = time.monotonic() + 2.5
    waits: list[int] = []

    def hammer() -> None:
        with httpx.Client(base_url=proxy_emulator.url, headers=headers, verify=TLS) as http:
            while time.monotonic() < until:
                response = http.post(PATH, json=BODY)
                if response.status_code == 429:
                    waits.append(int(response.headers["retry-after-ms"]))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replies = proxy_emulator.replies
    times = sorted(reply.at for reply in replies.matching(deployment="busy", status=200))
    assert waits and all(0 < wait <= 50 for wait in waits)  # one request is 50 ms away
    assert len(replies.matching(status=429, throttled=True)) == len(waits)
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert 20 < busiest <= 40
    assert len(times) <= 20 + 20 * (times[-1] - times[0]) + 1e-9
    assert sum(replies.per_second(deployment="busy").values()) == len(times)


def test_the_deployments_latency_delays_each_admitted_reply(
    proxy_emulator: EmulatorServer,
) -> None:
    proxy_emulator.add_deployment("slow", Deployment(latency_ms=150))
    headers = {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": "slow"}
    started = time.monotonic()
    assert httpx.post(proxy_emulator.completions_url, json=BODY, headers=headers).is_success
    assert time.monotonic() - started >= 0.15


def statuses(http: httpx.Client, spec: str, count: int, *, stream: bool = False) -> list[str]:
    """How each of ``count`` requests with these faults ended: a status, or "cut"."""
    outcomes = []
    body = {**BODY, "stream": stream}
    for _ in range(count):
        try:
            response = http.post(PATH, json=body, headers={"X-Emulator-Fault": spec})
            outcomes.append(str(response.status_code))
        except httpx.RemoteProtocolError:
            outcomes.append("cut")
    return outcomes


@pytest.mark.parametrize(
    ("spec", "hit", "stream"),
    [
        ("status=429;rate=0.2;seed=7;retry_after=0", "429", False),
        ("status=502;rate=0.1;seed=1", "502", False),
        ("drop_after=2;rate=0.3;seed=3", "cut", True),
    ],
)
def test_seeded_faults_hit_their_share_the_same_way_every_run(
    proxy_emulator: EmulatorServer, http: httpx.Client, spec: str, hit: str, stream: bool
) -> None:
    rate = Faults.parse(spec).rate
    assert rate is not None
    first = statuses(http, spec, 300, stream=stream)
    assert set(first) == {hit, "200"}
    assert 0.5 * rate * 300 <= first.count(hit) <= 1.5 * rate * 300
    proxy_emulator.reset()
    assert statuses(http, spec, 300, stream=stream) == first  # the same requests are hit
    other = statuses(http, spec.replace("seed=", "seed=1"), 300, stream=stream)
    assert other != first


def test_quotas_and_rates_from_a_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    document = {
        "deployments": {
            "d": {
                "quota": {"requests_per_minute": 3000, "tokens_per_minute": 90000},
                "latency_ms": 100,
                "faults": "status=503;rate=0.01;seed=5",
            }
        }
    }
    path.write_text(json.dumps(document))
    deployment = EmulatorConfig.from_file(path).deployments["d"]
    assert deployment.quota == Quota(requests_per_minute=3000, tokens_per_minute=90000)
    assert (deployment.latency_ms, deployment.faults.rate, deployment.faults.seed) == (100, 0.01, 5)
    with pytest.raises(pydantic.ValidationError, match="requests_per_minute or tokens"):
        Quota()
    with pytest.raises(ValueError, match="rate"):
        Faults.parse("status=503;rate=1.5")


def test_set_quota_limits_at_run_time_and_chat_is_charged_too(
    proxy_emulator: EmulatorServer,
) -> None:
    # A bucket of one token, refilled at 1/s: the first request (3 tokens) is admitted on
    # a full bucket and leaves it at -2, so the next one waits about 3 s.
    proxy_emulator.set_quota(Quota(tokens_per_minute=60))
    headers = {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": proxy_emulator.deployment}
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    with httpx.Client(base_url=proxy_emulator.url, headers=headers) as http:
        assert http.post(CHAT_PATH, json=chat).status_code == 200
        refused = http.post(CHAT_PATH, json=chat)
    assert refused.status_code == 429
    assert 2500 < int(refused.headers["retry-after-ms"]) <= 3000
    proxy_emulator.set_quota(None)
    assert post(proxy_emulator, proxy_emulator.deployment).status_code == 200


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0001, "1ms"), (0.25, "250ms"), (1, "1s"), (1.5, "1.5s"), (123.25, "2m3.25s")],
)
def test_reset_durations_read_like_openais(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text
