"""Retry policy as data, and the decisions made from it (no I/O, no sleeping here).

What is retried: the transport's own failures (connection errors, timeouts) and the
statuses in ``RETRYABLE_STATUSES``, unless the proxy's ``x-should-retry`` header says
otherwise. Never a guardrail block, never a client error, never an exception that is not
ours (a ``KeyboardInterrupt`` or a bug must propagate at once). Waits follow
``retry-after-ms`` then ``Retry-After`` (seconds or an HTTP date, RFC 9110 section 10.2.3),
capped, or else exponential backoff with jitter; an optional deadline bounds the call.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import httpx
import tenacity
from typing_extensions import TypedDict

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    GuardrailViolation,
    IncompleteStreamError,
)
from ._telemetry_record import note_retry

__all__ = [
    "RETRYABLE_STATUSES",
    "Attempts",
    "Deadline",
    "RetryPolicy",
    "WaitPastDeadline",
    "async_call_with_retries",
    "async_sleep",
    "call_with_retries",
    "is_retryable",
    "retry_after",
]

logger = logging.getLogger("completions_sdk")

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

T = TypeVar("T")


async def async_sleep(seconds: float) -> None:
    # anyio (httpx's own dependency) sleeps under asyncio and trio alike; imported on the
    # first async retry, not by ``import completions_sdk``.
    import anyio

    await anyio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried.

    Attributes:
        max_retries: retries after the first attempt (``0`` disables retrying).
        initial_delay: the first backoff wait, in seconds; it doubles on each retry.
        max_delay: the longest backoff wait.
        jitter: the fraction of each backoff wait that is randomised (0 to 1).
        max_retry_after: the longest wait a server's ``Retry-After`` can impose.
        sleep: how the sync client waits (injectable for tests).
        async_sleep: how the async client waits (injectable for tests).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=async_sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"jitter must be between 0 and 1, got {self.jitter!r}")
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            seconds = getattr(self, name)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ConfigurationError(f"{name} must be seconds, got {seconds!r}")
            if not 0 <= seconds < math.inf:
                raise ConfigurationError(f"{name} must be finite seconds >= 0, got {seconds!r}")

    def with_max_retries(self, max_retries: int) -> RetryPolicy:
        """A copy of this policy with another retry count."""
        return self if max_retries == self.max_retries else replace(self, max_retries=max_retries)

    def backoff(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1-based) when the server named none."""
        delay = min(self.initial_delay * 2.0 ** (retry_number - 1), self.max_delay)
        return delay * (1 - self.jitter * random.random())  # noqa: S311 - not cryptographic

    def wait_before_retry(self, retry_number: int, error: BaseException | None) -> float:
        """The wait before a retry: the server's ``Retry-After`` (capped), else backoff."""
        if isinstance(error, APIStatusError):
            asked = retry_after(error.response.headers)
            if asked is not None:
                return min(asked, self.max_retry_after)
        return self.backoff(retry_number)


class WaitPastDeadline(APITimeoutError):
    """The quota's wait would outlast the call's deadline: nothing was sent, nor retried."""


def is_retryable(error: BaseException) -> bool:
    """Whether an attempt that failed with ``error`` may be tried again (an allow-list)."""
    if isinstance(error, WaitPastDeadline):
        return False
    if isinstance(error, IncompleteStreamError):
        # Once a chunk was delivered, a retry would show the user text twice.
        return error.chunks_received == 0
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, GuardrailViolation):
        return False
    if isinstance(error, APIStatusError):
        override: str | None = error.response.headers.get("x-should-retry")
        if override in ("true", "false"):
            return override == "true"
        return error.status_code in RETRYABLE_STATUSES
    return False


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the server asked to wait, from ``retry-after-ms`` or ``Retry-After``.

    ``None`` when absent, negative, not finite or unparseable.
    """
    value = headers.get("retry-after-ms")
    if value is not None:
        seconds = _number(value)
        if seconds is not None:
            return seconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    delay = date.timestamp() - (time.time() if now is None else now)
    return max(delay, 0.0)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Deadline:
    """The time left for a whole call (attempts and waits together)."""

    __slots__ = ("expires", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expires = None if seconds is None else time.monotonic() + seconds
        """The ``time.monotonic()`` by which the call must end (``None``: no deadline)."""

    def remaining(self) -> float:
        """Seconds left (``inf`` without a deadline)."""
        return math.inf if self.expires is None else self.expires - time.monotonic()

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        return self.expires is not None and self.expires <= time.monotonic()

    def error(self, request: httpx.Request | None = None) -> APITimeoutError:
        """The error of a call that ran out of time."""
        seconds = f"{self.seconds:g} s " if self.seconds is not None else ""
        return APITimeoutError(f"The call's deadline of {seconds}has passed", request=request)

    def refusal(self, wait: float) -> WaitPastDeadline:
        """The error of a call that would have to wait ``wait`` seconds, past its deadline."""
        seconds = f"{self.seconds:g} s " if self.seconds is not None else ""
        return WaitPastDeadline(
            f"The quota asks to wait {wait:.3g} s, past the call's deadline of {seconds}"
            "(nothing was sent)"
        )

    def timeout(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """``timeout`` shortened so that no phase outlives the deadline."""
        if self.expires is None:
            return timeout
        left = self.remaining()
        if left <= 0:
            raise self.error()
        return httpx.Timeout(
            connect=_at_most(timeout.connect, left),
            read=_at_most(timeout.read, left),
            write=_at_most(timeout.write, left),
            pool=_at_most(timeout.pool, left),
        )


def _at_most(value: float | None, limit: float) -> float:
    return limit if value is None else min(value, limit)


class Attempts:
    """Counts the attempts of one call, for ``RawResponse.retries_taken``.

    ``counting`` wraps the attempt handed to ``call_with_retries`` or
    ``async_call_with_retries`` alike: the count goes up as each attempt starts (for a
    coroutine function, as its coroutine is made, just before it is awaited).
    """

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def counting(self, attempt: Callable[[], T]) -> Callable[[], T]:
        """``attempt``, counted each time it is called."""

        def counted() -> T:
            self.count += 1
            return attempt()

        return counted

    @property
    def retries(self) -> int:
        """Attempts after the first."""
        return max(self.count - 1, 0)


def _stop(policy: RetryPolicy, deadline: Deadline) -> Callable[[tenacity.RetryCallState], bool]:
    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number > policy.max_retries:
            return True
        # tenacity computes the wait before asking to stop: give up rather than sleep
        # past the deadline (the last error is then raised as it is).
        return state.upcoming_sleep >= deadline.remaining()

    return stop


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait_before_retry(state.attempt_number, error)

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.info(
        "Retrying in %.2f s (retry %d) after %s: %s",
        state.upcoming_sleep,
        state.attempt_number,
        type(error).__name__,
        error,
    )
    note_retry(state.attempt_number, error, state.upcoming_sleep)  # the call's span, if any


class _Options(TypedDict):
    stop: Callable[[tenacity.RetryCallState], bool]
    wait: Callable[[tenacity.RetryCallState], float]
    retry: tenacity.retry_base
    before_sleep: Callable[[tenacity.RetryCallState], None]
    reraise: bool


def _options(policy: RetryPolicy, deadline: Deadline) -> _Options:
    return {
        "stop": _stop(policy, deadline),
        "wait": _wait(policy),
        "retry": tenacity.retry_if_exception(is_retryable),
        "before_sleep": _log_retry,
        "reraise": True,
    }


def retrying(policy: RetryPolicy, deadline: Deadline) -> tenacity.Retrying:
    """A fresh sync retry driver for one call (tenacity state is never shared)."""
    return tenacity.Retrying(sleep=policy.sleep, **_options(policy, deadline))


def async_retrying(policy: RetryPolicy, deadline: Deadline) -> tenacity.AsyncRetrying:
    """A fresh async retry driver for one call (tenacity state is never shared)."""
    return tenacity.AsyncRetrying(sleep=policy.async_sleep, **_options(policy, deadline))


def call_with_retries(policy: RetryPolicy, deadline: Deadline, attempt: Callable[[], T]) -> T:
    """Call ``attempt``, retrying it as ``policy`` allows.

    The first attempt is a plain call (building tenacity's machinery costs about 10 µs,
    a third of what the SDK adds to a request); only a retryable failure hands over to a
    fresh ``Retrying`` whose first attempt re-raises that failure, so attempt numbers,
    waits, the deadline and the retry log are exactly tenacity's.
    """
    try:
        return attempt()
    except Exception as exc:
        if policy.max_retries == 0 or not is_retryable(exc):
            raise
        first = exc
    failures = [first]

    def again() -> T:
        if failures:
            raise failures.pop()
        return attempt()

    return retrying(policy, deadline)(again)


async def async_call_with_retries(
    policy: RetryPolicy, deadline: Deadline, attempt: Callable[[], Awaitable[T]]
) -> T:
    """``call_with_retries`` for a coroutine function."""
    try:
        return await attempt()
    except Exception as exc:
        if policy.max_retries == 0 or not is_retryable(exc):
            raise
        first = exc
    failures = [first]

    async def again() -> T:
        if failures:
            raise failures.pop()
        return await attempt()

    result: T = await async_retrying(policy, deadline)(again)
    return result
