"""What the fault server can do with a request: reply, stream, cut, reset, hang, echo.

Each function returns a ``Behaviour`` for ``FaultServer.script``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip as gzip_module
import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from tests.reliability._server import Behaviour, End, Exchange, Seen

__all__ = [
    "DONE",
    "drip",
    "echo",
    "event",
    "generated",
    "hang",
    "head",
    "json_reply",
    "raw",
    "reflect",
    "reply",
    "reset",
    "slow_stream",
    "sse_head",
    "sse_reply",
    "trickle",
]

DONE = b"data: [DONE]\n\n"
"""The event that ends a stream."""


def head(status: int, headers: Mapping[str, str]) -> bytes:
    """A reply's status line and headers, as sent."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    status: int = 200,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    content_length: int | None = None,
    gzip: bool = False,
    end: End = "keep",
) -> Behaviour:
    """A reply with a ``Content-Length`` (``content_length`` may promise more than is sent)."""
    if gzip:
        body = gzip_module.compress(body)
    declared = len(body) if content_length is None else content_length
    all_headers = {
        "Content-Type": "application/json",
        **({"Content-Encoding": "gzip"} if gzip else {}),
        **(headers or {}),
        "Content-Length": str(declared),
    }

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.send(head(status, all_headers) + body)
        return await exchange.end(end)

    return behaviour


def json_reply(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> Behaviour:
    """A JSON reply."""
    return reply(status, json.dumps(payload).encode(), headers, **kwargs)


def event(payload: Any) -> bytes:
    """One server-sent event whose data is ``payload`` (JSON-encoded unless bytes/str)."""
    if isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        data = payload.encode()
    else:
        data = json.dumps(payload, ensure_ascii=False).encode()
    return b"data: " + data + b"\n\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def sse_reply(
    events: Iterable[bytes],
    *,
    done: bool = True,
    end: End = "keep",
    gzip: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """A chunked ``text/event-stream`` reply; without ``done`` it stops mid-stream."""
    pieces = list(events)
    if done:
        pieces.append(b"data: [DONE]\n\n")
    all_headers = {
        "Content-Type": "text/event-stream",
        "Transfer-Encoding": "chunked",
        **({"Content-Encoding": "gzip"} if gzip else {}),
        **(headers or {}),
    }

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.send(head(200, all_headers))
        # A gzip stream flushed after every event, as a compressing proxy sends it.
        encoder = zlib.compressobj(wbits=31) if gzip else None
        for piece in pieces:
            data = encoder.compress(piece) + encoder.flush(zlib.Z_SYNC_FLUSH) if encoder else piece
            await exchange.send(_chunked(data))
        if not done:
            return await exchange.end(end if end != "keep" else "close")
        await exchange.send(_chunked(encoder.flush()) if encoder else b"")
        await exchange.send(b"0\r\n\r\n")
        return await exchange.end(end)

    return behaviour


def sse_head(content_type: str = "text/event-stream", *, chunked: bool = True) -> bytes:
    """The head of an event stream: chunked, or (``chunked=False``) ended by a close."""
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
    return head(200, {"Content-Type": content_type, **framing})


def drip(
    pieces: Iterable[bytes],
    interval: float,
    *,
    start: bytes = b"",
    chunked: bool = False,
    end: End = "close",
) -> Behaviour:
    """Send ``start``, then each piece ``interval`` seconds after the one before.

    With ``chunked`` each piece is framed as one HTTP chunk, and only ``end="keep"`` sends
    the terminating chunk: ``"hang"`` or ``"close"`` leave the body unfinished. Stops as
    soon as the client has hung up.
    """

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.send(start)
        for number, piece in enumerate(pieces):
            if number and interval:
                await asyncio.sleep(interval)
            if exchange.reader.at_eof():
                return False  # the client gave up: stop, as a real server's write would fail
            await exchange.send(_chunked(piece) if chunked else piece)
        if chunked and end == "keep":
            await exchange.send(b"0\r\n\r\n")
        return await exchange.end(end)

    return behaviour


def trickle(data: bytes, interval: float = 0.2, *, start: bytes = b"") -> Behaviour:
    """Send ``start``, then ``data`` one byte every ``interval`` seconds, then close."""
    return drip([data[i : i + 1] for i in range(len(data))], interval, start=start)


def reset() -> Behaviour:
    """Reset the connection without answering."""

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.reset()
        return False

    return behaviour


def hang() -> Behaviour:
    """Accept the request and never answer (until the client gives up)."""

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.wait_for_hangup()
        return False

    return behaviour


def raw(data: bytes) -> Behaviour:
    """Write these bytes, whatever they are, then close."""

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.send(data)
        return await exchange.end("close")

    return behaviour


def reflect(make: Callable[[Seen], Behaviour]) -> Behaviour:
    """A behaviour built from the request itself (to echo its headers back, say)."""

    async def behaviour(exchange: Exchange) -> bool:
        return await make(exchange.request)(exchange)

    return behaviour


def _echo_text(request: Seen) -> str:
    return f"echo:{request.json()['prompt']}"


def echo(pieces: int = 8, barrier: int | None = None, wait: float = 10.0) -> Behaviour:
    """Answer ``echo:`` and the prompt: a completion, or ``pieces`` events when streamed.

    A prompt starting with ``fail:`` gets a 503 instead. With ``barrier``, no reply starts
    before that many requests are open at once (or ``wait`` seconds passed): proof that
    the client really sent them concurrently.
    """
    arrived = 0
    everyone: asyncio.Event | None = None

    async def behaviour(exchange: Exchange) -> bool:
        nonlocal arrived, everyone
        if barrier is not None:
            everyone = everyone or asyncio.Event()
            arrived += 1
            if arrived >= barrier:
                everyone.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(everyone.wait(), wait)
        request = exchange.request
        text = _echo_text(request)
        if text.startswith("echo:fail:"):
            return await json_reply({"error": {"message": text}}, 503)(exchange)
        if not request.json().get("stream"):
            return await json_reply({"id": "e", "choices": [{"text": text}]})(exchange)
        step = max(1, -(-len(text) // pieces))
        events = [
            event({"id": "e", "choices": [{"text": text[i : i + step], "index": 0}]})
            for i in range(0, len(text), step)
        ]
        return await sse_reply(events)(exchange)

    return behaviour


def slow_stream(events: int = 20, every: float = 0.005) -> Behaviour:
    """A stream of ``events`` events, one per ``every`` seconds, the headers late too.

    A client that gives up in the middle finds the server still writing; the server stops
    when the client hangs up.
    """

    async def behaviour(exchange: Exchange) -> bool:
        await asyncio.sleep(every)
        await exchange.send(
            head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        )
        for i in range(events):
            await asyncio.sleep(every)
            await exchange.send(_chunked(event({"id": "s", "choices": [{"text": f"{i} "}]})))
        await exchange.send(_chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        return True

    return behaviour


def generated(
    status: int,
    content_type: str,
    pieces: Callable[[], Iterable[bytes]],
    *,
    headers: Mapping[str, str] | None = None,
    content_length: int | None = None,
) -> Behaviour:
    """A reply whose body ``pieces()`` makes as it is sent, so it may be huge or endless.

    Chunked unless ``content_length`` is given. The server stops making the body when the
    client hangs up; when the pieces run out, it ends the body (or, with a declared length
    it has not reached, goes silent until the client leaves).
    """
    framing = (
        {"Transfer-Encoding": "chunked"}
        if content_length is None
        else {"Content-Length": str(content_length)}
    )
    all_headers = {"Content-Type": content_type, **framing, **(headers or {})}

    async def behaviour(exchange: Exchange) -> bool:
        await exchange.send(head(status, all_headers))
        for piece in pieces():
            if exchange.writer.is_closing():
                return False
            await exchange.send(piece if content_length is not None else _chunked(piece))
        if content_length is None:
            await exchange.send(b"0\r\n\r\n")
            return await exchange.end("keep")
        return await exchange.end("hang")

    return behaviour
