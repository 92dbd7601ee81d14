"""A minimal, fast HTTP/1.1 keep-alive server on 127.0.0.1 for the benchmarks.

It stands in for the proxy and must never be the bottleneck, so it does as little as a
server can: it reads a request head and a ``Content-Length`` body, and answers with bytes
built once at start-up.

- A body without ``"stream": true`` gets the completion the public service was seen to
  serve (``tests/fixtures/completion-as-served.json``: big ``seed`` included, and the
  output guardrails' detections as the emulator reports them).
- A body with ``"stream": true`` gets ``max_tokens`` server-sent events (each one chunk of
  HTTP/1.1 chunked encoding, as a real proxy sends them), the last with a
  ``finish_reason``, then ``data: [DONE]``. Events are written in pre-built blocks with a
  ``drain()`` between them, so a stream of millions of chunks costs the server no memory.

Run as ``python benchmarks/server.py [--delay-ms MS]``: it prints the port it listens on,
then serves until it is terminated or its standard input closes. ``--delay-ms`` holds every
reply back that long, as a model would, to check that a client's concurrency still holds
when the server is slow (a tiny connection pool looks fast against an instant server).
``--chunk-delay-ms`` paces a stream instead: its first event goes at once, every other
one that long after the previous one, as a model generates tokens (the fan-out figure).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys

from completions_sdk.emulator._guardrails import output_detections

__all__ = ["COMPLETION", "make_chunk", "serve"]

_TEXT = " Because the bicycle was two-tired."
COMPLETION: dict[str, object] = {
    "id": "90a1c0ffee5d3a11",
    "object": "text.completion",
    "created": 1736924194,
    "model": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "prompt": [],
    "choices": [
        {
            "text": _TEXT,
            "index": 0,
            "logprobs": None,
            "finish_reason": "eos",
            "seed": 9320035192991048000,
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16},
    "enkrypt_policy_detections": output_detections(_TEXT),
}
"""The non-streamed reply: the sample as served, detections and big ``seed`` included."""

EVENTS_PER_BLOCK = 256


def make_chunk(text: str, finish_reason: str | None = None) -> dict[str, object]:
    """One streamed completion chunk, shaped like OpenAI's ``text_completion`` chunks."""
    return {
        "id": "cmpl-bench-0001",
        "object": "text_completion",
        "created": 1736924194,
        "model": "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}],
    }


def _http_chunk(payload: bytes) -> bytes:
    """``payload`` framed as one chunk of HTTP/1.1 chunked transfer coding (RFC 9112, 7.1)."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(data: str) -> bytes:
    return _http_chunk(f"data: {data}\n\n".encode())


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


_BODY = json.dumps(COMPLETION, separators=(",", ":")).encode()
JSON_REPLY = (
    _head(
        "200 OK",
        {
            "Content-Type": "application/json",
            "Content-Length": str(len(_BODY)),
            "x-request-id": "req-bench",
        },
    )
    + _BODY
)
STREAM_HEAD = _head(
    "200 OK",
    {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "Transfer-Encoding": "chunked",
        "x-request-id": "req-bench",
    },
)
_TEXT_EVENT = _event(json.dumps(make_chunk(" token"), separators=(",", ":")))
TEXT_BLOCK = _TEXT_EVENT * EVENTS_PER_BLOCK
STREAM_TAIL = (
    _event(json.dumps(make_chunk(".", "length"), separators=(",", ":")))
    + _event("[DONE]")
    + b"0\r\n\r\n"
)
BAD_REQUEST = _head("400 Bad Request", {"Content-Length": "0", "Connection": "close"})


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


async def _send_stream(writer: asyncio.StreamWriter, chunks: int) -> None:
    """``chunks`` events in all: ``chunks - 1`` text events, a final one, then ``[DONE]``."""
    writer.write(STREAM_HEAD)
    blocks, rest = divmod(max(chunks - 1, 0), EVENTS_PER_BLOCK)
    for _ in range(blocks):
        writer.write(TEXT_BLOCK)
        await writer.drain()
    writer.write(_TEXT_EVENT * rest + STREAM_TAIL)


async def _send_paced(writer: asyncio.StreamWriter, chunks: int, delay: float) -> None:
    """As ``_send_stream``, but each event after the first waits ``delay`` seconds."""
    events = [_TEXT_EVENT] * max(chunks - 1, 0) + [STREAM_TAIL]
    writer.write(STREAM_HEAD + events[0])
    for event in events[1:]:
        await writer.drain()
        await asyncio.sleep(delay)
        writer.write(event)


async def _handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    delay: float,
    chunk_delay: float = 0.0,
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            if length is None:
                writer.write(BAD_REQUEST)
                break
            body = json.loads(await reader.readexactly(length)) if length else {}
            if delay:
                await asyncio.sleep(delay)
            if body.get("stream") and chunk_delay:
                await _send_paced(writer, int(body.get("max_tokens") or 1), chunk_delay)
            elif body.get("stream"):
                await _send_stream(writer, int(body.get("max_tokens") or 1))
            else:
                writer.write(JSON_REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection: the normal end of keep-alive
    finally:
        writer.close()


async def serve(port: int = 0, delay: float = 0.0, chunk_delay: float = 0.0) -> None:
    """Listen on 127.0.0.1, print the port, serve until stdin closes."""
    handler = functools.partial(_handle, delay=delay, chunk_delay=chunk_delay)
    server = await asyncio.start_server(handler, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    # A blocking read of stdin in a thread: EOF means the runner is gone, so stop too.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold each reply back")
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=0.0, help="pace the events of a stream"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay_ms / 1000, args.chunk_delay_ms / 1000))


if __name__ == "__main__":
    main()
