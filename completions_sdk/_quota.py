"""Sending at the proxy's quota: configured limits and the server's pauses (no I/O here).

``Limiter.reserve`` answers how long a send must wait; the client shells do the sleeping.
Each configured limit is a token bucket kept as one number, the time its next unit is free
(GCRA, "virtual scheduling"): a reservation is taken at once with its wait known, which is
what threads, tasks and several event loops sharing one client need. ``aiolimiter`` awaits
futures of one asyncio loop (no threads, no second loop, no known wait), and ``limits``
answers hit-or-miss per window (no reservation: waiters would poll), so neither fits.

A bucket lets at most ``burst`` units go at once (a tenth of a second's worth, at least
one), then one unit per ``1 / rate``: no one-second window carries more than the rate plus
that burst.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._exceptions import ConfigurationError
from ._request_base import RequestBase

__all__ = ["Limiter", "RateLimit", "estimate_tokens"]

BURST_SECONDS = 0.1
"""A bucket's burst, in seconds of its rate (at least one unit)."""
LATE = 0.1
"""Seconds past its slot after which a send leaves the slot unused and takes a new one (a
descheduled thread or a busy event loop would otherwise send it together with the slots
after it): with the burst, no one-second window carries more than ``1 + BURST_SECONDS +
LATE`` seconds of the rate."""
UNEXPLAINED_PAUSE = 1.0
"""The first pause after a 429 that names no wait; it doubles while 429s continue."""
MAX_UNEXPLAINED_PAUSE = 8.0
PACE_SHARE = 0.9
"""After a 429, an adaptive limiter paces sends at this share of what the server
accepted in the last second (``OBSERVED_SECONDS``)..."""
PACE_GROWTH = 0.05
"""...then raises that pace by this share per second (compounded) until the next 429."""
OBSERVED_SECONDS = 1.0
CHARS_PER_TOKEN = 4
DEFAULT_MAX_TOKENS = 16
"""What the completions endpoint generates when ``max_tokens`` is not given."""


@dataclass(frozen=True)
class RateLimit:
    """The quota a client keeps to, shared by every call of that client.

    Attributes:
        requests_per_minute: the most requests sent per minute (``None``: no limit).
        tokens_per_minute: the most tokens per minute, estimated before a request is sent
            (prompt characters / 4, plus ``max_tokens`` x ``n`` x ``best_of``) and
            corrected from the reply's ``usage`` (``None``: no limit).
        adaptive: follow the server's own quota: a 429 (or a 503 with ``Retry-After``)
            pauses every send of the client for the wait the server names, the request
            is sent again without spending its ``max_retries`` (within its deadline),
            later sends are paced at 90% of what the server accepted in the second
            before (a pace that then rises 5% a second until the next 429), and
            batches shrink the number of requests in flight, then grow it back.

    Examples:
        >>> RateLimit(requests_per_minute=3000, tokens_per_minute=250_000)
        RateLimit(requests_per_minute=3000, tokens_per_minute=250000, adaptive=True)
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    adaptive: bool = True

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"RateLimit {name} must be a number, got {value!r}")
            if not 0 < value < math.inf:  # NaN fails too
                raise ConfigurationError(
                    f"RateLimit {name} must be a positive finite number or None, got {value!r}"
                )
        if not isinstance(self.adaptive, bool):
            raise ConfigurationError(f"RateLimit adaptive must be a bool, got {self.adaptive!r}")


class _Bucket:
    """One limit: ``free_at`` is when the bucket would be full again."""

    __slots__ = ("capacity", "free_at", "interval")

    def __init__(self, per_minute: float) -> None:
        per_second = per_minute / 60
        self.interval = 1 / per_second
        self.capacity = max(1.0, per_second * BURST_SECONDS)
        self.free_at = -math.inf

    def earliest(self, amount: float, start: float) -> float:
        """When ``amount`` units will be in the bucket (not before ``start``)."""
        return max(start, max(self.free_at, start) - (self.capacity - amount) * self.interval)

    def take(self, amount: float, at: float) -> None:
        self.free_at = max(self.free_at, at) + amount * self.interval

    def give_back(self, amount: float) -> None:
        self.free_at -= amount * self.interval

    def set_rate(self, per_second: float) -> None:
        self.interval = 1 / per_second
        self.capacity = max(1.0, per_second * BURST_SECONDS)


class Limiter:
    """A client's quota state: its buckets and the pause the server asked for.

    Thread-safe and loop-free (a plain lock, held for microseconds), so one limiter
    serves every thread, task and event loop of a client. Subclasses (a cluster-wide
    quota) keep the four methods ``reserve``, ``correct``, ``throttled``, ``succeeded``.
    """

    def __init__(
        self, rate_limit: RateLimit, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_limit = rate_limit
        self._clock = clock
        self._lock = threading.Lock()
        rpm, tpm = rate_limit.requests_per_minute, rate_limit.tokens_per_minute
        self._requests = None if rpm is None else _Bucket(rpm)
        self._tokens = None if tpm is None else _Bucket(tpm)
        self._pause_until = -math.inf
        self._unexplained = 0
        # The pace learned from the server's 429s (adaptive only): the quota is unknown,
        # but what the server accepted in the second before a 429 measures it.
        self._accepted: collections.deque[float] = collections.deque()
        self._pace: _Bucket | None = None
        self._pace_rate = 0.0
        self._paced_at = -math.inf
        self._first_accepted = -math.inf

    @property
    def adaptive(self) -> bool:
        """Whether the server's 429s pause the client and shrink batches."""
        return self.rate_limit.adaptive

    def reserve(self, tokens: int) -> float:
        """Take a permit for one send of about ``tokens`` tokens: seconds to wait first."""
        with self._lock:
            now = self._clock()
            at = start = max(now, self._pause_until)
            if self._pace is not None:  # probes upwards again since the last cut
                self._pace.set_rate(self._current_pace(now))
            for bucket, amount in self._buckets(tokens):
                at = max(at, bucket.earliest(amount, start))
            for bucket, amount in self._buckets(tokens):
                bucket.take(amount, at)
            return at - now

    def release(self, tokens: int) -> None:
        """Give back a permit that was not used (its call ran out of time first)."""
        with self._lock:
            for bucket, amount in self._buckets(tokens):
                bucket.give_back(amount)

    def correct(self, estimated: int, used: int) -> None:
        """The reply's ``usage`` is known: settle the difference with the estimate."""
        if self._tokens is not None:
            with self._lock:
                self._tokens.take(used - estimated, -math.inf)

    def throttled(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """The server said 429: pause every send for its wait (or a growing default).

        An adaptive limiter also paces every later send at ``PACE_SHARE`` of what the
        server accepted in the last second, once per round: a 429 to a request sent
        (``sent_at``, on the limiter's clock) before the last cut says nothing new.
        """
        with self._lock:
            now = self._clock()
            if retry_after is None:
                retry_after = min(UNEXPLAINED_PAUSE * 2**self._unexplained, MAX_UNEXPLAINED_PAUSE)
                self._unexplained += 1
            self._pause_until = max(self._pause_until, now + retry_after)
            if self.adaptive and (sent_at is None or sent_at >= self._paced_at):
                self._cut_pace(now)

    def succeeded(self) -> None:
        """A send went through: the next unexplained 429 pauses briefly again."""
        with self._lock:
            self._unexplained = 0
            if self.adaptive:
                now = self._clock()
                if not self._accepted and self._first_accepted == -math.inf:
                    self._first_accepted = now
                self._accepted.append(now)
                self._forget_before(now - OBSERVED_SECONDS)

    def _cut_pace(self, now: float) -> None:
        self._forget_before(now - OBSERVED_SECONDS)
        if self._accepted:
            # Over a full second, or since the first success: an early, bursty estimate
            # errs high, and the next 429 corrects it; one that errs low would linger.
            span = max(min(OBSERVED_SECONDS, now - self._first_accepted), 0.1)
            rate = PACE_SHARE * len(self._accepted) / span
        elif self._pace is None:
            return  # nothing measured yet (the first replies are all 429s): just pause
        else:
            rate = 0.0
        if self._pace is not None:  # a pause left few successes to count: at most halve
            rate = max(rate, self._current_pace(now) / 2)
        self._pace_rate = rate
        self._paced_at = now
        if self._pace is None:
            self._pace = _Bucket(rate * 60)
        self._pace.set_rate(rate)

    def _current_pace(self, now: float) -> float:
        return float(self._pace_rate * (1 + PACE_GROWTH) ** max(0.0, now - self._paced_at))

    def _forget_before(self, moment: float) -> None:
        while self._accepted and self._accepted[0] < moment:
            self._accepted.popleft()

    def paused_for(self) -> float:
        """Seconds left in the pause the server asked for (0.0: none)."""
        return max(0.0, self._pause_until - self._clock())

    def _buckets(self, tokens: int) -> list[tuple[_Bucket, float]]:
        pairs = [(self._requests, 1.0), (self._pace, 1.0), (self._tokens, float(tokens))]
        return [(bucket, amount) for bucket, amount in pairs if bucket is not None]


def estimate_tokens(request: RequestBase) -> int:
    """Tokens a request may cost: prompt or messages characters / 4, plus its output.

    The output is ``max_tokens`` (or ``max_completion_tokens``; 16 when neither is
    set) x ``n`` x ``best_of`` per prompt: an upper bound, corrected from ``usage``.
    """
    prompt = getattr(request, "prompt", None)
    messages = getattr(request, "messages", None)
    prompt_tokens, prompts = _prompt_size(prompt)
    if messages is not None:
        prompt_tokens += math.ceil(_text_chars(messages) / CHARS_PER_TOKEN)
    fields = request.__dict__
    output = fields.get("max_tokens") or fields.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    choices = (fields.get("n") or 1) * (fields.get("best_of") or 1)
    return int(prompt_tokens + output * choices * prompts)


def _prompt_size(prompt: Any) -> tuple[int, int]:
    """Prompt tokens (token ids counted, text estimated) and the number of prompts."""
    if prompt is None:
        return 0, 1
    if isinstance(prompt, str):
        return math.ceil(len(prompt) / CHARS_PER_TOKEN), 1
    if prompt and isinstance(prompt[0], int):
        return len(prompt), 1
    sizes = [_prompt_size(one)[0] for one in prompt]
    return sum(sizes), max(1, len(sizes))


def _text_chars(value: Any) -> int:
    # Every string in the messages (content, text parts, names, tool arguments); image
    # URLs (often long data: URLs) say little about tokens and are left out.
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_text_chars(v) for k, v in value.items() if k != "image_url")
    if isinstance(value, Sequence):
        return sum(_text_chars(v) for v in value)
    return 0
