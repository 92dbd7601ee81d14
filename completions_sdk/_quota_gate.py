"""One call's way past the quota (``Gate``), and a batch's adaptive window (``Window``).

The one place where a 429 is handled when a limiter applies: the gate sits under the
retry policy, inside each attempt's send. A reply that says the quota is spent (429, or
503 with ``Retry-After``) pauses every send of the limiter and is sent again, so the retry
policy never sees it and the request's ``max_retries`` stay for real failures; the call's
deadline still bounds every wait. No sleeping here: ``Gate.wait`` says how long, the
client shells sleep.

A batch's ``Window`` is TCP's AIMD: a 429 halves the sends in flight (once per round:
a 429 to a request sent before the last cut says nothing new), each success adds
``1 / size``, so a window's worth of successes adds one, up to the batch's concurrency.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ._cancel import CallAbandoned, abandoned
from ._exceptions import APIStatusError
from ._quota import LATE, Limiter
from ._retry import Deadline, WaitPastDeadline, retry_after

__all__ = ["BatchScope", "Gate", "Window", "batch_scope", "quota_error"]

POLL = 0.01
"""Seconds between looks at a full window (a send ends within one latency anyway)."""
NAP = 0.25
"""The longest single sleep, so that an abandoned batch's threads end soon."""
MAX_HELD_BACK = 64
"""Consecutive quota replies a call waits out before the retry policy takes the 429."""


class Window:
    """How many of a batch's sends may be in flight: AIMD between 1 and ``ceiling``."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self._size = float(ceiling)
        self._in_flight = 0
        self._cut_at = -1.0
        self._lock = threading.Lock()
        self.cuts = 0
        """How many times the window was halved (for tests and progress lines)."""

    @property
    def size(self) -> int:
        """Sends allowed in flight now."""
        return int(self._size)

    def enter(self) -> float | None:
        """Take a place for one send: its start time, or ``None`` while the window is full."""
        with self._lock:
            if self._in_flight >= int(self._size):
                return None
            self._in_flight += 1
            return time.monotonic()

    def leave(self) -> None:
        """A send ended (whatever its outcome)."""
        with self._lock:
            self._in_flight -= 1

    def throttled(self, sent_at: float) -> None:
        """A send started at ``sent_at`` met the quota: halve, once per round."""
        with self._lock:
            if sent_at >= self._cut_at:
                self._size = max(1.0, self._size / 2)
                self._cut_at = time.monotonic()
                self.cuts += 1

    def succeeded(self) -> None:
        """A send went through: grow by one per window's worth of successes."""
        with self._lock:
            self._size = min(float(self.ceiling), self._size + 1 / self._size)


@dataclass(frozen=True)
class BatchScope:
    """What the sends of one batch share: the limiter, and the window if adaptive."""

    limiter: Limiter
    window: Window | None

    @classmethod
    def for_batch(cls, limiter: Limiter | None, concurrency: int) -> BatchScope | None:
        """A batch's scope: the client's limiter, or one of its own for the server's 429s."""
        if limiter is None:
            from ._quota import RateLimit

            limiter = Limiter(RateLimit())
        if not limiter.adaptive:
            return None  # the client's limits apply as to any call; no window
        return cls(limiter, Window(concurrency))

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Make this the scope of the calls made inside the block (this thread or task)."""
        token = _scope.set(self)
        try:
            yield
        finally:
            _scope.reset(token)


_scope: contextvars.ContextVar[BatchScope | None] = contextvars.ContextVar(
    "completions_sdk_batch", default=None
)


def batch_scope() -> BatchScope | None:
    """The batch the current call belongs to, if any."""
    return _scope.get()


def quota_error(error: BaseException) -> bool:
    """Whether an error reply says the quota is spent: 429, or 503 naming a wait."""
    if not isinstance(error, APIStatusError):
        return False
    headers = error.response.headers
    if headers.get("x-should-retry") == "false":
        return False
    return error.status_code == 429 or (
        error.status_code == 503 and retry_after(headers) is not None
    )


class Gate:
    """One call's sends under a limiter: when each may go, and what a failure means."""

    def __init__(
        self,
        limiter: Limiter,
        window: Window | None,
        tokens: int,
        deadline: Deadline,
        max_retry_after: float,
    ) -> None:
        self._limiter = limiter
        self._window = window
        self._tokens = tokens
        self._deadline = deadline
        self._max_retry_after = max_retry_after
        self._sent_at: float | None = None
        self._ready_at: float | None = None
        self._held_back = 0

    def wait(self) -> float:
        """Seconds to sleep before asking again; ``0.0``: send now.

        Raises:
            APITimeoutError: the wait would outlast the call's deadline (nothing is sent).
        """
        if abandoned():
            self._give_up()
            raise CallAbandoned
        left = self._deadline.remaining()
        pause = self._limiter.paused_for()
        if pause > 0:
            return self._within(pause, left)
        if self._window is not None and self._sent_at is None:
            self._sent_at = self._window.enter()
            if self._sent_at is None:
                return self._within(POLL, left)
        if self._ready_at is not None and time.monotonic() - self._ready_at > LATE:
            # Too late for its slot: sent now, it would bunch with the slots after it, so
            # it takes a new one. The missed slot is not given back: its time is past, and
            # a bucket credited for it would let the next send go early.
            self._ready_at = None
        if self._ready_at is None:
            wait = self._limiter.reserve(self._tokens)
            if wait > left:
                self._limiter.release(self._tokens)
                raise self._give_up(wait)
            self._ready_at = time.monotonic() + wait
        return min(max(0.0, self._ready_at - time.monotonic()), NAP)

    def held_back(self, error: BaseException) -> bool:
        """After a failed send: whether the quota held it back (then send it again)."""
        sent_at = self._ready_at or self._sent_at or time.monotonic()
        self._leave()
        self._ready_at = None
        if not (self._limiter.adaptive and quota_error(error)):
            return False
        self._held_back += 1
        if self._held_back > MAX_HELD_BACK:
            return False
        assert isinstance(error, APIStatusError)
        asked = retry_after(error.response.headers)
        self._limiter.throttled(
            None if asked is None else min(asked, self._max_retry_after), sent_at
        )
        if self._window is not None:
            self._window.throttled(sent_at)
        return True

    def sent(self) -> None:
        """The send went through."""
        self._leave()
        self._limiter.succeeded()
        if self._window is not None:
            self._window.succeeded()

    def _leave(self) -> None:
        if self._window is not None and self._sent_at is not None:
            self._window.leave()
        self._sent_at = None

    def cancelled(self) -> None:
        """The call stopped while waiting (task cancelled, Ctrl-C): free what it holds."""
        self._give_up()

    def _within(self, wait: float, left: float) -> float:
        if wait > left:
            raise self._give_up(wait)
        return min(wait, NAP)

    def _give_up(self, wait: float = 0.0) -> WaitPastDeadline:
        # A slot reserved but never used goes back, or every later send waits for it.
        if self._ready_at is not None:
            self._limiter.release(self._tokens)
        self._leave()
        self._ready_at = None
        return self._deadline.refusal(wait)
