"""Server-sent events: data-only framing, pacing, and scripted cuts of the stream.

Framing follows the WHATWG HTML "server-sent events" section as OpenAI uses it: each event
is ``data: <json>`` and a blank line, and the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio

__all__ = ["DONE", "ConnectionDropped", "dropped_body", "encode_event", "paced", "quiet_drops"]

DONE = b"data: [DONE]\n\n"


class ConnectionDropped(Exception):
    """Raised inside a reply to make the server cut the connection (``drop_after``).

    Once the status line is out, uvicorn answers an exception from the application by
    closing the socket: the client then sees its body end mid-stream, as on a real
    network failure, rather than a clean end.
    """


class _QuietDrops(logging.Filter):
    """Hides uvicorn's traceback for the cuts that were asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


def quiet_drops() -> None:
    """Keep scripted drops out of uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _QuietDrops) for existing in logger.filters):
        logger.addFilter(_QuietDrops())


def encode_event(data: Mapping[str, Any]) -> bytes:
    """One ``data:`` event; JSON never holds a raw newline, so one line is enough."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def paced(
    events: Sequence[bytes],
    *,
    delay: float,
    drop_after: int | None = None,
    end_after: int | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``events`` ``delay`` seconds apart, cut as the faults ask.

    Args:
        events: the encoded events, ``[DONE]`` included.
        delay: seconds between two events.
        drop_after: raise ``ConnectionDropped`` after this many events.
        end_after: stop cleanly after this many events.
    """
    for count, event in enumerate(events):
        if drop_after is not None and count >= drop_after:
            raise ConnectionDropped(f"drop_after={drop_after}")
        if end_after is not None and count >= end_after:
            return
        if count:
            # Even a zero delay yields to the loop, so that concurrent streams take turns.
            await anyio.sleep(delay)
        yield event


async def dropped_body() -> AsyncIterator[bytes]:
    """A body that cuts the connection right after the headers."""
    raise ConnectionDropped("drop_after on a non-streamed reply")
    yield b""  # pragma: no cover - makes this function an async generator
