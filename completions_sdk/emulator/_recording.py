"""What the emulator received and how it answered, for tests to inspect; secrets never stored."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

__all__ = ["REDACTED", "SECRET_HEADERS", "RecordedRequest", "ReplyLog", "RequestLog", "ServedReply"]

T = TypeVar("T")

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"apikey", "authorization", "cookie", "proxy-authorization"})
"""Headers whose values are replaced by ``REDACTED`` before anything is stored."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by the emulator.

    Attributes:
        method: the HTTP method.
        path: the URL path, e.g. ``/ai-proxy/completions``.
        headers: lower-cased names to values; keys (``apikey``, ``authorization``)
            are stored as ``"[redacted]"``.
        body: the JSON body, decoded; ``None`` when it was not JSON.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    @classmethod
    def capture(
        cls, method: str, path: str, headers: Iterable[tuple[str, str]], body: Any
    ) -> RecordedRequest:
        """A record of a request, with its secret headers redacted."""
        stored: dict[str, str] = {}
        for name, value in headers:
            name = name.lower()
            value = REDACTED if name in SECRET_HEADERS else value
            stored[name] = f"{stored[name]}, {value}" if name in stored else value
        return cls(method, path, stored, body)

    @property
    def deployment(self) -> str | None:
        """The ``X-Enkrypt-Deployment`` header."""
        return self.headers.get("x-enkrypt-deployment")

    @property
    def tags(self) -> list[str] | None:
        """The ``X-Enkrypt-Tags`` header, split at commas."""
        tags = self.headers.get("x-enkrypt-tags")
        return None if tags is None else [tag.strip() for tag in tags.split(",")]

    @property
    def refresh_cache(self) -> bool | None:
        """The ``X-Enkrypt-Refresh-Cache`` header as a boolean (``None`` when absent)."""
        value = self.headers.get("x-enkrypt-refresh-cache")
        return None if value is None else value.strip().lower() == "true"


class _Log(Sequence[T], Generic[T]):
    """A thread-safe, append-only list (cleared by ``reset()``).

    Reads see a snapshot: indexing and iterating are safe while the server appends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def append(self, item: T) -> None:
        """Record one item."""
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        """Forget every recorded item."""
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[T]:
        """A copy of the items recorded so far."""
        with self._lock:
            return list(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.snapshot()!r})"


class RequestLog(_Log[RecordedRequest]):
    """The requests received, oldest first (``EmulatorServer.requests``)."""


@dataclass(frozen=True)
class ServedReply:
    """How the emulator answered one request to an endpoint.

    Attributes:
        at: when it was received, on the emulator's clock (the one its quotas read;
            ``time.monotonic`` unless the server was given another).
        deployment: the deployment it was served for (``None`` before one was known).
        status: the status code (a stream cut later still counts as its 200).
        throttled: refused by the deployment's quota (a scripted 429 is not).
    """

    at: float
    deployment: str | None
    status: int
    throttled: bool = False


class ReplyLog(_Log[ServedReply]):
    """The replies sent, in the order they were decided (``EmulatorServer.replies``)."""

    def per_second(
        self, *, deployment: str | None = None, status: int | None = 200, start: float | None = None
    ) -> dict[int, int]:
        """Matching replies per one-second window ``[start + k, start + k + 1)``, by ``k``.

        ``start`` defaults to the first matching reply's time; windows with none are absent.
        """
        times = [reply.at for reply in self.matching(deployment=deployment, status=status)]
        if not times:
            return {}
        origin = min(times) if start is None else start
        return dict(sorted(Counter(math.floor(at - origin) for at in times).items()))

    def matching(
        self,
        *,
        deployment: str | None = None,
        status: int | None = None,
        throttled: bool | None = None,
    ) -> list[ServedReply]:
        """The replies that match every criterion given, oldest first."""
        return [
            reply
            for reply in self.snapshot()
            if deployment in (None, reply.deployment)
            and status in (None, reply.status)
            and throttled in (None, reply.throttled)
        ]
