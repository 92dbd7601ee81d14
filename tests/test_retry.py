"""Retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import email.utils
import logging
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from completions_sdk import (
    APITimeoutError,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
)
from completions_sdk._retry import is_retryable, retry_after
from tests._support import fixture_bytes

SAMPLE = fixture_bytes("completion-as-served.json")


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_then_success(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float], status: int
) -> None:
    httpx_mock.add_response(status_code=status, json={"error": "busy"})
    httpx_mock.add_response(status_code=status, json={"error": "busy"})
    httpx_mock.add_response(content=SAMPLE)
    assert client.complete(model="m").text
    assert len(httpx_mock.get_requests()) == 3
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5  # 0.5 s less up to 25% jitter
    assert 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float], status: int
) -> None:
    httpx_mock.add_response(status_code=status, json={"error": "no"})
    with pytest.raises(Exception, match="no"):
        client.complete(model="m")
    assert len(httpx_mock.get_requests()) == 1
    assert sleeps == []


def test_gives_up_after_max_retries(
    make_client: Any, httpx_mock: HTTPXMock, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "down"}, is_reusable=True)
    client = make_client(max_retries=4)
    with pytest.raises(InternalServerError, match="down"):
        client.complete(model="m")
    assert len(httpx_mock.get_requests()) == 5
    assert len(sleeps) == 4


def test_max_retries_zero_disables(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "down"})
    with pytest.raises(InternalServerError):
        client.complete(model="m", max_retries=0)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "31536000"}, 60.0),  # a year: capped at max_retry_after
    ],
)
def test_retry_after_is_honoured_and_capped(
    client: Any,
    httpx_mock: HTTPXMock,
    sleeps: list[float],
    headers: dict[str, str],
    expected: float,
) -> None:
    httpx_mock.add_response(status_code=429, json={"error": "slow down"}, headers=headers)
    httpx_mock.add_response(content=SAMPLE)
    client.complete(model="m")
    assert sleeps == [expected]


@pytest.mark.parametrize("value", ["-5", "soon", "nan", "inf", ""])
def test_garbage_retry_after_falls_back_to_backoff(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float], value: str
) -> None:
    httpx_mock.add_response(status_code=429, json={"error": "x"}, headers={"retry-after": value})
    httpx_mock.add_response(content=SAMPLE)
    client.complete(model="m")
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


def test_retry_after_as_an_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": date}), now=now) == 7.0
    past = email.utils.formatdate(now - 7, usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": past}), now=now) == 0.0


@pytest.mark.parametrize(("header", "retried"), [("true", True), ("false", False)])
def test_x_should_retry_overrides(
    client: Any, httpx_mock: HTTPXMock, header: str, retried: bool
) -> None:
    status = 400 if retried else 503
    httpx_mock.add_response(
        status_code=status, json={"error": "e"}, headers={"x-should-retry": header}
    )
    if retried:
        httpx_mock.add_response(content=SAMPLE)
        client.complete(model="m")
    else:
        with pytest.raises(InternalServerError):
            client.complete(model="m")
    assert len(httpx_mock.get_requests()) == (2 if retried else 1)


def test_deadline_bounds_attempts_and_waits(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float]
) -> None:
    httpx_mock.add_response(
        status_code=429, json={"error": "slow"}, headers={"retry-after": "30"}, is_reusable=True
    )
    with pytest.raises(RateLimitError):
        client.complete(model="m", deadline=5.0, max_retries=10)
    assert sleeps == []  # waiting 30 s would pass the 5 s deadline: give up at once
    assert len(httpx_mock.get_requests()) == 1


def test_a_deadline_already_passed_raises_a_timeout(client: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(APITimeoutError, match="deadline"):
        client.complete(model="m", deadline=1e-9)
    assert httpx_mock.get_requests() == []


def test_each_retry_is_logged_without_the_key(
    client: Any, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "down"})
    httpx_mock.add_response(content=SAMPLE)
    with caplog.at_level(logging.INFO, logger="completions_sdk"):
        client.complete(model="m")
    retries = [r for r in caplog.records if r.name == "completions_sdk"]
    assert len(retries) == 1
    assert "Retrying in" in retries[0].getMessage()
    assert "InternalServerError" in retries[0].getMessage()


@pytest.mark.parametrize(
    "error", [KeyboardInterrupt(), SystemExit(), ValueError("bug"), RuntimeError("x")]
)
def test_only_our_own_errors_are_retryable(error: BaseException) -> None:
    assert not is_retryable(error)


def test_a_users_interrupt_is_not_retried(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(KeyboardInterrupt())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        client.complete(model="m")
    assert len(httpx_mock.get_requests()) == 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
    for name, seconds in [
        ("initial_delay", -1),
        ("max_delay", float("inf")),
        ("max_retry_after", float("nan")),
        ("max_delay", "8"),
    ]:
        with pytest.raises(ConfigurationError, match=name):
            RetryPolicy(**{name: seconds})
