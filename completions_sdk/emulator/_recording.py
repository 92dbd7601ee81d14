"""Requests as the emulator received them, for tests to inspect; secrets never stored."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["REDACTED", "SECRET_HEADERS", "RecordedRequest", "RequestLog"]

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


class RequestLog(Sequence[RecordedRequest]):
    """A thread-safe, append-only list of recorded requests (cleared by ``reset()``).

    Reads see a snapshot: indexing and iterating are safe while the server appends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def append(self, request: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._items.append(request)

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of the requests recorded so far."""
        with self._lock:
            return list(self._items)

    @overload
    def __getitem__(self, index: int) -> RecordedRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[RecordedRequest]: ...
    def __getitem__(self, index: int | slice) -> RecordedRequest | list[RecordedRequest]:
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"RequestLog({self.snapshot()!r})"
