"""Per-deployment quotas: a token bucket of requests and one of tokens, as a proxy keeps them.

A limited deployment's bucket refills continuously at its per-minute rate divided by 60 and
holds at most ``burst_seconds`` of it (one second's worth by default, at least one request):
so in any one-second window it admits at most ``capacity + rate x 1 s``, and over a long
run no more than the rate. A request is admitted when both buckets hold what it needs (a
request needing more tokens than a full bucket holds waits for a full bucket, then leaves
it in debt); otherwise it is answered 429 with the exact wait until they will, and takes
nothing. Its tokens are estimated before the answer exists (prompt tokens plus
``max_tokens`` x ``n``, or ``best_of``, per prompt), then corrected to the reply's ``usage``.

Nothing here reads a clock: the caller passes ``now``, so a run is deterministic given time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._errors import ErrorReply, error_body
from ._tokens import DEFAULT_MAX_TOKENS, conversation_tokens, prompt_texts, tokenize

__all__ = [
    "Quota",
    "QuotaBook",
    "chat_tokens_requested",
    "completion_tokens_requested",
    "format_reset",
]


class Quota(BaseModel):
    """A deployment's rate limits; at least one of the two is set.

    Examples:
        >>> Quota(requests_per_minute=3000).requests_per_minute
        3000.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    requests_per_minute: Annotated[float, Field(gt=0)] | None = None
    """Requests admitted per minute (``x-ratelimit-limit-requests``)."""
    tokens_per_minute: Annotated[float, Field(gt=0)] | None = None
    """Tokens admitted per minute, prompt and completion (``x-ratelimit-limit-tokens``)."""
    burst_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    """How many seconds of the rate a full bucket holds: the largest burst admitted at once."""

    @model_validator(mode="after")
    def _check_some_limit(self) -> Quota:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("a quota needs requests_per_minute or tokens_per_minute")
        return self


def completion_tokens_requested(body: Mapping[str, Any]) -> int:
    """A valid completion body's estimate: prompt tokens plus the most it may generate."""
    limit = body.get("max_tokens") or DEFAULT_MAX_TOKENS
    choices = max(body.get("n") or 1, body.get("best_of") or 1)  # best_of are all generated
    prompts = prompt_texts(body.get("prompt"))
    return sum(len(tokenize(text)) for text in prompts) + limit * choices * len(prompts)


def chat_tokens_requested(body: Mapping[str, Any]) -> int:
    """A valid chat body's estimate: the conversation's tokens plus the most it may generate."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    return conversation_tokens(body["messages"]) + limit * (body.get("n") or 1)


def format_reset(seconds: float) -> str:
    """A wait in OpenAI's ``x-ratelimit-reset-*`` style: ``"250ms"``, ``"1.5s"``, ``"2m3s"``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000 - 1e-9)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class _Bucket:
    """One token bucket: ``level`` permits at time ``updated``, refilled at ``rate``/s."""

    per_minute: float
    capacity: float
    level: float
    updated: float

    @classmethod
    def full(cls, per_minute: float, burst_seconds: float, now: float) -> _Bucket:
        capacity = max(1.0, per_minute / 60 * burst_seconds)
        return cls(per_minute, capacity, capacity, now)

    @property
    def rate(self) -> float:
        return self.per_minute / 60

    def refill(self, now: float) -> None:
        # Replies may report a clock read a little older than the last update: never drain.
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, cost: float) -> float:
        """Seconds until the bucket holds ``cost`` (a full bucket, if ``cost`` is more)."""
        shortfall = min(cost, self.capacity) - self.level
        # A retry at the announced millisecond must pass despite float rounding.
        return shortfall / self.rate if shortfall > 1e-9 else 0.0

    def headers(self, kind: str) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{kind}": f"{self.per_minute:g}",
            f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(self.level + 1e-9))),
            f"x-ratelimit-reset-{kind}": format_reset((self.capacity - self.level) / self.rate),
        }


class QuotaBook:
    """The buckets of every limited deployment; thread-safe, and it never sleeps.

    A deployment's buckets start full, and start again full when its quota changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, Quota], dict[str, _Bucket]] = {}

    def admit(self, name: str, quota: Quota, tokens: int, now: float) -> ErrorReply | None:
        """Take one request and ``tokens`` at ``now``; the 429 reply when they are not free."""
        with self._lock:
            buckets = self._refilled(name, quota, now)
            costs = {"requests": 1.0, "tokens": float(tokens)}
            wait = max((bucket.wait(costs[kind]) for kind, bucket in buckets.items()), default=0)
            if wait > 0:
                return _throttled(wait, tokens)
            for kind, bucket in buckets.items():
                bucket.level -= costs[kind]
        return None

    def correct(self, name: str, quota: Quota, estimated: int, used: int, now: float) -> None:
        """Settle a request's tokens once its ``usage`` is known (give back or take more)."""
        with self._lock:
            bucket = self._refilled(name, quota, now).get("tokens")
            if bucket is not None:
                bucket.level = min(bucket.capacity, bucket.level + estimated - used)

    def headers(self, name: str, quota: Quota, now: float) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers of a reply at ``now``."""
        with self._lock:
            buckets = self._refilled(name, quota, now)
            return {key: value for k, b in buckets.items() for key, value in b.headers(k).items()}

    def clear(self, deployment: str | None = None) -> None:
        """Every bucket (of one deployment, or of all) full again."""
        with self._lock:
            for key in [key for key in self._buckets if deployment in (None, key[0])]:
                del self._buckets[key]

    def _refilled(self, name: str, quota: Quota, now: float) -> dict[str, _Bucket]:
        buckets = self._buckets.get((name, quota))
        if buckets is None:
            limits = {"requests": quota.requests_per_minute, "tokens": quota.tokens_per_minute}
            buckets = {
                kind: _Bucket.full(per_minute, quota.burst_seconds, now)
                for kind, per_minute in limits.items()
                if per_minute is not None
            }
            self._buckets[(name, quota)] = buckets
        for bucket in buckets.values():
            bucket.refill(now)
        return buckets


def _throttled(wait: float, tokens: int) -> ErrorReply:
    """The 429 of a request over the quota: when to come back, to the millisecond."""
    milliseconds = math.ceil(wait * 1000 - 1e-6)  # never early: a retry then is admitted
    message = (
        f"Rate limit reached for this deployment (a request of about {tokens} tokens); "
        f"retry after {milliseconds} ms"
    )
    body = error_body(message, type="rate_limit_error", code="rate_limit_exceeded")
    headers = {"retry-after-ms": str(milliseconds), "Retry-After": str(math.ceil(wait - 1e-9))}
    return ErrorReply(429, body, headers)
