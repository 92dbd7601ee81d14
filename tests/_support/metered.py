"""An emulator that counts at the server: when each request arrived, and, if asked, a
quota of its own that answers 429 (with ``Retry-After``) past so many requests in any
one-second window, as a proxy at its quota does.

Used by the Ray tests and ``benchmarks/ray_scaling.py``: their workers are other
processes, so only the server sees every send of a job.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from completions_sdk.emulator import EmulatorConfig, EmulatorServer

__all__ = ["MeteredEmulator", "max_in_window"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MeteredEmulator(EmulatorServer):
    """``EmulatorServer`` that records arrival times (``time.monotonic()``) of POSTs.

    Args:
        per_second: answer 429 to a request when this many were already let through in
            the second before it (``None``: no quota at the server).
    """

    def __init__(self, config: EmulatorConfig | None = None, *, per_second: int | None = None):
        super().__init__(config)
        self.arrivals: list[float] = []  # every POST, let through or not
        self.passed: list[float] = []  # those answered by the emulator
        self.rejected = 0
        self._per_second = per_second
        self._lock = threading.Lock()
        self._app = self._metered(self._app)

    def _metered(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> Any:
        async def metered(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                return await app(scope, receive, send)
            now = time.monotonic()
            with self._lock:
                self.arrivals.append(now)
                over = self._per_second is not None and (
                    len(self.passed) - bisect.bisect_right(self.passed, now - 1.0)
                    >= self._per_second
                )
                if over:
                    self.rejected += 1
                else:
                    self.passed.append(now)
            if over:
                return await _too_many(send)
            return await app(scope, receive, send)

        return metered

    def clear(self) -> None:
        """Forget the counts (between two jobs)."""
        with self._lock:
            self.arrivals.clear()
            self.passed.clear()
            self.rejected = 0


async def _too_many(send: Send) -> None:
    body = json.dumps({"error": {"message": "quota exceeded", "type": "rate_limit"}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", b"1"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` in any window of ``window`` seconds (each window starting
    at one of them, which is where the most can be)."""
    ordered = sorted(times)
    return max(
        (
            bisect.bisect_left(ordered, start + window) - index
            for index, start in enumerate(ordered)
        ),
        default=0,
    )
