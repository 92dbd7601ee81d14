"""Helpers shared by the SDK's tests: the test constants, recorded bodies, a driver of
``AsyncClient`` through the sync interface, and event-stream bodies.

Fixtures stay in ``conftest.py``; what a test module imports comes from here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

import completions_sdk as sdk
from completions_sdk import AsyncClient

__all__ = [
    "API_KEY",
    "BASE_URL",
    "CHAT_URL",
    "FIXTURES",
    "SSE",
    "URL",
    "AsyncAdapter",
    "Pieces",
    "fixture_bytes",
    "fixture_json",
    "read_all",
    "sse",
    "status_errors",
]

FIXTURES = Path(__file__).parent.parent / "fixtures"
BASE_URL = "http://127.0.0.1:8999"
URL = f"{BASE_URL}/ai-proxy/completions"
CHAT_URL = f"{BASE_URL}/ai-proxy/chat/completions"
API_KEY = "sk-test-0123456789-SECRET"


def fixture_bytes(name: str) -> bytes:
    """A recorded body from ``tests/fixtures``."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """A recorded JSON body from ``tests/fixtures``, decoded."""
    return json.loads(fixture_bytes(name))


async def _settle() -> None:
    """Let the tasks the loop's async generator finalizer started finish, as asyncio.run does.

    A stream left early leaves httpx's inner async generators suspended (each ``async for``
    in httpx drops its inner one unclosed); the loop closes each in a task, and closing one
    drops the next. Closing the loop under them destroys those tasks pending: logged on every
    Python, a RuntimeWarning ("aclose ... was never awaited") from 3.13.
    """
    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)  # runs the finalizer's pending ``create_task`` callbacks
        pending = asyncio.all_tasks() - {this}
        if not pending:
            return
        if (await asyncio.wait(pending, timeout=10))[1]:
            return  # something else still runs: let loop.close() report it


class AsyncAdapter:
    """Drives an ``AsyncClient`` through the sync client's interface, on its own loop."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.complete(*args, **kwargs))

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.chat(*args, **kwargs))

    def close(self) -> None:
        self.run(self.client.close())
        self.run(_settle())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def __repr__(self) -> str:
        return repr(self.client)


SSE = {"content-type": "text/event-stream"}


def sse(*events: Any, done: bool = True) -> bytes:
    """An event stream of JSON events (dicts) or raw data strings."""
    lines = [
        f"data: {json.dumps(e, ensure_ascii=False) if isinstance(e, dict) else e}\n\n"
        for e in events
    ]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


class Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives in the given pieces, then optionally breaks."""

    def __init__(self, pieces: list[bytes], error: Exception | None = None) -> None:
        self.pieces = pieces
        self.error = error
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.error:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
        if self.error:
            raise self.error

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def read_all(client: Any, method: str = "stream", **arguments: Any) -> tuple[list[Any], Any]:
    """Every chunk and the final reply of a streaming ``method``, with either client."""
    arguments.setdefault("model", "m")
    if isinstance(client, AsyncAdapter):

        async def run() -> tuple[list[Any], Any]:
            async with getattr(client.client, method)(**arguments) as stream:
                chunks = [c async for c in stream]
                return chunks, await stream.get_final_completion()

        return client.run(run())  # type: ignore[no-any-return]
    with getattr(client, method)(**arguments) as stream:
        chunks = list(stream)
        return chunks, stream.get_final_completion()


def status_errors() -> list[tuple[int, type[sdk.APIStatusError]]]:
    """Each error status the SDK tells apart, with the exception it raises."""
    return [
        (400, sdk.BadRequestError),
        (401, sdk.AuthenticationError),
        (403, sdk.PermissionDeniedError),
        (404, sdk.NotFoundError),
        (409, sdk.ConflictError),
        (418, sdk.APIStatusError),
        (422, sdk.UnprocessableEntityError),
        (429, sdk.RateLimitError),
        (500, sdk.InternalServerError),
    ]
