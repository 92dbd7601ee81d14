"""Retries over real sockets: exactly as many attempts as the policy allows for each
status, and the waits a server's ``Retry-After`` asks for, capped, whatever it sends.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest

from completions_sdk import (
    APIStatusError,
    BadRequestError,
    CompletionsError,
    GuardrailViolation,
    InternalServerError,
    RateLimitError,
)
from tests._support import fixture_bytes
from tests.reliability._behaviours import json_reply, reply
from tests.reliability._drive import ATTEMPTS, AnyClient, expect, receive
from tests.reliability._server import FaultServer

# ---------------------------------------------------------------- statuses and Retry-After

GUARDRAIL_BODY = fixture_bytes("blocked-by-input-guardrails.json")


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "attempts"),
    [
        (400, b'{"error": "bad"}', {}, BadRequestError, 1),
        (400, GUARDRAIL_BODY, {}, GuardrailViolation, 1),
        (400, b'{"error": "bad"}', {"x-should-retry": "true"}, BadRequestError, ATTEMPTS),
        (408, b'{"error": "slow"}', {}, APIStatusError, ATTEMPTS),
        (500, b'{"error": "oops"}', {}, InternalServerError, ATTEMPTS),
        (503, b'{"error": "down"}', {"x-should-retry": "false"}, InternalServerError, 1),
        (503, GUARDRAIL_BODY, {}, GuardrailViolation, 1),
    ],
)
def test_retries_are_exactly_what_the_policy_says(
    make_client: Callable[..., AnyClient],
    fault_server: FaultServer,
    status: int,
    body: bytes,
    headers: dict[str, str],
    error: type[CompletionsError],
    attempts: int,
) -> None:
    fault_server.script(reply(status, body, headers))
    expect(receive(make_client(base_url=fault_server.url), "complete"), error)
    assert len(fault_server.requests) == attempts


def test_a_429_storm_waits_what_it_is_told_within_the_cap(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, sleeps: list[float]
) -> None:
    fault_server.script(json_reply({"error": "slow down"}, 429, {"Retry-After": "30"}))
    client = make_client(base_url=fault_server.url, max_retries=6)
    expect(receive(client, "complete"), RateLimitError)
    assert len(fault_server.requests) == 7
    assert sleeps == [30.0] * 6


A_YEAR = 365 * 24 * 3600


def _backoff(retry: int) -> tuple[float, float]:
    # The default policy: 0.5 s doubling, up to a quarter of it taken off by jitter.
    top = 0.5 * 2 ** (retry - 1)
    return top * 0.75, top


def _in_backoff(waits: list[float]) -> bool:
    bounds = [_backoff(retry) for retry in range(1, len(waits) + 1)]
    return all(low <= wait <= top for wait, (low, top) in zip(waits, bounds, strict=True))


def _header_id(value: str) -> str:
    # An HTTP date of now +/- a year changes every second: named by its shape, so that
    # every pytest-xdist worker collects the same test ids.
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return value[:30]
    return (
        "an HTTP date in the future"
        if value > "" and _is_future(value)
        else "an HTTP date in the past"
    )


def _is_future(value: str) -> bool:
    return email.utils.parsedate_to_datetime(value).timestamp() > time.time()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": str(A_YEAR)}, lambda waits: waits == [60.0, 60.0]),
        (
            {"Retry-After": email.utils.formatdate(time.time() + A_YEAR, usegmt=True)},
            lambda waits: waits == [60.0, 60.0],
        ),
        ({"retry-after-ms": str(A_YEAR * 1000)}, lambda waits: waits == [60.0, 60.0]),
        ({"Retry-After": "2"}, lambda waits: waits == [2.0, 2.0]),
        ({"Retry-After": "0"}, lambda waits: waits == [0.0, 0.0]),
        ({"retry-after-ms": "1500"}, lambda waits: waits == [1.5, 1.5]),
        ({"retry-after-ms": "soon", "Retry-After": "2"}, lambda waits: waits == [2.0, 2.0]),
        (
            {"Retry-After": email.utils.formatdate(time.time() - A_YEAR, usegmt=True)},
            lambda waits: waits == [0.0, 0.0],
        ),
        ({"Retry-After": "-5"}, _in_backoff),
        ({"retry-after-ms": "-5000"}, _in_backoff),
        ({"Retry-After": "soon"}, _in_backoff),
        ({"Retry-After": "nan"}, _in_backoff),
        ({"Retry-After": "inf"}, _in_backoff),
        ({"Retry-After": "1e400"}, _in_backoff),
        ({"Retry-After": "Fri, 99 Foo 2024 99:99:99 GMT"}, _in_backoff),
        ({"Retry-After": "\u00ff\u00fe"}, _in_backoff),
    ],
    ids=lambda value: "" if callable(value) else _header_id(next(iter(value.values()))),
)
def test_retry_after_values(
    make_client: Callable[..., AnyClient],
    fault_server: FaultServer,
    sleeps: list[float],
    headers: dict[str, str],
    expected: Callable[[list[float]], bool],
) -> None:
    fault_server.script(json_reply({"error": "slow down"}, 429, headers))
    expect(receive(make_client(base_url=fault_server.url), "complete"), RateLimitError)
    assert len(fault_server.requests) == ATTEMPTS
    assert expected(sleeps), sleeps
