"""One way to drive ``Client`` and ``AsyncClient`` (through ``AsyncAdapter``) in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from completions_sdk import (
    AsyncClient,
    Client,
    Completion,
    CompletionChunk,
    CompletionsError,
    RetryPolicy,
)
from tests._support import API_KEY, AsyncAdapter

Mode = Literal["complete", "stream"]
MODES: tuple[Mode, ...] = ("complete", "stream")
Kind = Literal["sync", "async"]
KINDS: tuple[Kind, ...] = ("sync", "async")


async def _no_sleep(seconds: float) -> None:
    pass


NO_WAIT = RetryPolicy(sleep=lambda seconds: None, async_sleep=_no_sleep)
"""A retry policy that retries at once (for property tests, which do not count waits)."""


@dataclass
class Received:
    """What a caller got: text by choice as its loop saw it, then a result or an SDK error."""

    texts: dict[int, str] = field(default_factory=dict)
    chunks: int = 0
    items: list[CompletionChunk | Completion] = field(default_factory=list, repr=False)
    final: Completion | None = None
    error: CompletionsError | None = None

    def add(self, chunk: CompletionChunk | Completion) -> None:
        self.chunks += 1
        self.items.append(chunk)
        for choice in chunk.choices:
            self.texts[choice.index] = self.texts.get(choice.index, "") + choice.text


N_CHOICES = 16
"""``n`` of the requests: the replies made up here use choice indexes below it (a reply
with more choices than the request can produce is a protocol error)."""


def receive(client: Client | AsyncAdapter, mode: Mode = "stream", **arguments: Any) -> Received:
    """Call ``complete`` or read a whole ``stream``; an SDK error is returned, not raised."""
    if isinstance(client, AsyncAdapter):
        return client.run(areceive(client.client, mode, **arguments))  # type: ignore[no-any-return]
    arguments.setdefault("model", "m")
    if mode == "stream":
        arguments.setdefault("n", N_CHOICES)
    received = Received()
    try:
        if mode == "complete":
            received.final = client.complete(**arguments)
            received.add(received.final)
        else:
            with client.stream(**arguments) as stream:
                for chunk in stream:
                    received.add(chunk)
                received.final = stream.get_final_completion()
    except CompletionsError as exc:
        received.error = exc
    return received


async def areceive(client: AsyncClient, mode: Mode = "stream", **arguments: Any) -> Received:
    """``receive`` for an ``AsyncClient``."""
    arguments.setdefault("model", "m")
    if mode == "stream":
        arguments.setdefault("n", N_CHOICES)
    received = Received()
    try:
        if mode == "complete":
            received.final = await client.complete(**arguments)
            received.add(received.final)
        else:
            async with client.stream(**arguments) as stream:
                async for chunk in stream:
                    received.add(chunk)
                received.final = await stream.get_final_completion()
    except CompletionsError as exc:
        received.error = exc
    return received


Handler = Callable[[httpx.Request], httpx.Response]


def receive_from(handler: Handler, kind: Kind, mode: Mode, **arguments: Any) -> Received:
    """``receive`` from a fresh client of ``kind`` whose replies ``handler`` makes up."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "deployment": "d",
        "base_url": "http://127.0.0.1:9",
        "retry_policy": NO_WAIT,
        "max_retries": arguments.pop("max_retries", 1),
    }
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        with (
            httpx.Client(transport=transport) as http,
            Client(**options, http_client=http) as client,
        ):
            return receive(client, mode, **arguments)

    async def run() -> Received:
        async with httpx.AsyncClient(transport=transport) as http:
            return await areceive(AsyncClient(**options, http_client=http), mode, **arguments)

    return asyncio.run(run())


@contextmanager
def over_users_http(kind: Kind, http_options: dict[str, Any], **options: Any) -> Iterator[Any]:
    """A client of ``kind`` given an ``httpx`` client of the user's own (``http_client=``).

    The SDK never closes such a client: it is closed here, after the SDK's.
    """
    options = {"api_key": API_KEY, "deployment": "d", **options}
    if kind == "sync":
        with httpx.Client(**http_options) as http:
            yield Client(**options, http_client=http)
        return
    http_async = httpx.AsyncClient(**http_options)
    adapter = AsyncAdapter(AsyncClient(**options, http_client=http_async))
    try:
        yield adapter
    finally:
        adapter.run(http_async.aclose())
        adapter.close()


# ---------------------------------------------------------------- for the fault tests

AnyClient = Any
"""A ``Client`` or an ``AsyncAdapter``, as ``make_client`` makes them."""
ATTEMPTS = 3
"""Attempts the default policy makes for a retryable fault: the first and two retries."""
SHORT = httpx.Timeout(5.0, connect=0.2, read=0.2)
"""Timeouts for the tests that wait for one."""


def expect(received: Received, error: type[CompletionsError]) -> Any:
    """The error received, checked to be exactly of type ``error``."""
    assert type(received.error) is error, f"expected {error.__name__}, got {received.error!r}"
    return received.error


def sent_text(received: Received) -> str:
    """The final text of a call that must have worked."""
    assert received.error is None, received.error
    assert received.final is not None
    return received.final.text


def chunk(text: str, index: int = 0, finish: str | None = None) -> dict[str, Any]:
    """A streamed chunk carrying ``text`` for choice ``index``."""
    return {"id": "cmpl-1", "choices": [{"text": text, "index": index, "finish_reason": finish}]}


def completion(text: str) -> dict[str, Any]:
    """A whole completion body whose choice 0 is ``text``."""
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1736924194,
        "model": "m",
        "choices": [{"text": text, "index": 0, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


TEXT = " Because the bicycle was two-tired."
BODY = json.dumps(completion(TEXT)).encode()
STREAMED = [chunk(" Once"), chunk(" upon"), chunk(" a time", finish="stop")]
"""A stream's chunks; their text is " Once upon a time"."""
