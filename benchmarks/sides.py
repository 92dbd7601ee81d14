"""The sides being compared: each a client set up the way its users would set it up.

Every side sends the same request (``model``, ``prompt``, ``max_tokens``) with the same
headers to the same server, and exposes the same three operations to ``figures.py``:
``complete()``, ``stream(chunks)`` (a context manager over the chunks) and ``close()``.

- ``raw-*``: httpx with ``json=``, ``response.json()``, and httpx-sse plus ``json.loads``
  for streams: the floor the SDK is built on. It also imports the SDK's other dependencies
  (pydantic, tenacity) so that memory is compared "with the same dependencies imported".
- ``sdk-*``: this SDK's ``Client`` / ``AsyncClient``.
- ``openai-*``: the ``openai`` package pointed at the proxy (``base_url=.../ai-proxy``, the
  deployment in ``default_headers``, its default ``max_retries``).

An async side may carry a transport variant after a ``+``: ``+pool:N`` (httpx with N
connections, all kept alive; ``pool:none`` has no limit) or ``+aiohttp`` (the
``httpx-aiohttp`` transport); the SDK gets them through its ``http_client=`` argument, so
they are measured without touching it.

Each side's package is imported only when the side is built, in the process measuring it,
so neither memory nor import state leaks from one side into another.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Protocol

MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PROMPT = "Why did the bicycle fall over?"
HEADERS = {"apikey": "k", "X-Enkrypt-Deployment": "d"}
COMPLETE_TOKENS = 16


class SyncSide(Protocol):
    """What a figure needs from a synchronous client."""

    def complete(self) -> object: ...
    def stream(self, chunks: int) -> contextlib.AbstractContextManager[Iterable[object]]: ...
    def close(self) -> None: ...


class AsyncSide(Protocol):
    """What a figure needs from an asynchronous client."""

    async def complete(self) -> object: ...
    def stream(self, chunks: int) -> contextlib.AbstractAsyncContextManager[Any]: ...
    async def close(self) -> None: ...


# --- raw httpx + httpx-sse + json.loads -------------------------------------------------


def _import_dependency_floor() -> None:
    # The SDK's dependencies besides httpx, as the import figure's "floor" imports them
    # (pydantic's package is lazy: only importing BaseModel loads its machinery).
    import httpx_sse  # noqa: F401
    import tenacity  # noqa: F401
    from pydantic import BaseModel  # noqa: F401


class RawSync:
    """httpx.Client, ``json=``, ``response.json()``; httpx-sse and ``json.loads`` to stream."""

    def __init__(self, url: str) -> None:
        import httpx

        _import_dependency_floor()
        self._client = httpx.Client()
        self._url = f"{url}/ai-proxy/completions"

    def complete(self) -> object:
        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": COMPLETE_TOKENS}
        response = self._client.post(self._url, json=body, headers=HEADERS)
        response.raise_for_status()
        return response.json()

    @contextlib.contextmanager
    def stream(self, chunks: int) -> Iterator[Iterable[object]]:
        from httpx_sse import EventSource

        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": chunks, "stream": True}
        headers = {**HEADERS, "Accept": "text/event-stream"}
        with self._client.stream("POST", self._url, json=body, headers=headers) as response:
            response.raise_for_status()
            yield _raw_chunks(EventSource(response).iter_sse())

    def close(self) -> None:
        self._client.close()


def _raw_chunks(events: Iterable[Any]) -> Iterator[object]:
    for event in events:
        if event.data == "[DONE]":
            return
        yield json.loads(event.data)


class RawAsync:
    """httpx.AsyncClient, as ``RawSync``; ``variant`` picks the pool or transport."""

    def __init__(self, url: str, variant: str) -> None:
        _import_dependency_floor()
        self._client = _async_http_client(variant)
        self._url = f"{url}/ai-proxy/completions"

    async def complete(self) -> object:
        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": COMPLETE_TOKENS}
        response = await self._client.post(self._url, json=body, headers=HEADERS)
        response.raise_for_status()
        return response.json()

    @contextlib.asynccontextmanager
    async def stream(self, chunks: int) -> AsyncIterator[Any]:
        from httpx_sse import EventSource

        body = {"model": MODEL, "prompt": PROMPT, "max_tokens": chunks, "stream": True}
        headers = {**HEADERS, "Accept": "text/event-stream"}
        async with self._client.stream("POST", self._url, json=body, headers=headers) as reply:
            reply.raise_for_status()
            yield _araw_chunks(EventSource(reply).aiter_sse())

    async def close(self) -> None:
        await self._client.aclose()


async def _araw_chunks(events: AsyncIterator[Any]) -> AsyncIterator[object]:
    async for event in events:
        if event.data == "[DONE]":
            return
        yield json.loads(event.data)


def _async_http_client(variant: str) -> Any:
    """An ``httpx.AsyncClient`` for a transport variant.

    ``""`` is httpx's defaults (100 connections, 20 kept alive); ``pool:N`` allows N
    connections and keeps them all alive (``pool:none``: no limit at all); ``aiohttp`` (or
    ``aiohttp:N``) sends through the ``httpx-aiohttp`` transport (100 connections by
    default, like httpx).
    """
    import httpx

    timeout = httpx.Timeout(120.0, connect=10.0)  # the SDK's default, for every variant
    kind, _, size = variant.partition(":")
    if size == "none":
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    else:
        limits = httpx.Limits(
            max_connections=int(size or 100), max_keepalive_connections=int(size or 20)
        )
    if kind == "":
        return httpx.AsyncClient(timeout=timeout)
    if kind == "pool":
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(timeout=timeout, transport=AiohttpTransport(limits=limits))
    raise SystemExit(f"unknown transport variant {variant!r}")


# --- this SDK -------------------------------------------------------------------------


class SdkSync:
    """``completions_sdk.Client``."""

    def __init__(self, url: str) -> None:
        from completions_sdk import Client

        self._client = Client(api_key="k", deployment="d", base_url=url)

    def complete(self) -> object:
        return self._client.complete(model=MODEL, prompt=PROMPT, max_tokens=COMPLETE_TOKENS)

    def stream(self, chunks: int) -> Any:
        return self._client.stream(model=MODEL, prompt=PROMPT, max_tokens=chunks)

    def close(self) -> None:
        self._client.close()


class SdkAsync:
    """``completions_sdk.AsyncClient``; a variant is passed as its ``http_client``."""

    def __init__(self, url: str, variant: str) -> None:
        from completions_sdk import AsyncClient

        self._http = _async_http_client(variant) if variant else None
        self._client = AsyncClient(
            api_key="k", deployment="d", base_url=url, http_client=self._http
        )

    async def complete(self) -> object:
        return await self._client.complete(model=MODEL, prompt=PROMPT, max_tokens=COMPLETE_TOKENS)

    def stream(self, chunks: int) -> Any:
        return self._client.stream(model=MODEL, prompt=PROMPT, max_tokens=chunks)

    async def close(self) -> None:
        await self._client.close()
        if self._http is not None:
            await self._http.aclose()


# --- the openai package ----------------------------------------------------------------


class OpenAISync:
    """``openai.OpenAI`` pointed at the proxy, ``client.completions.create``."""

    def __init__(self, url: str) -> None:
        import openai

        self._client = openai.OpenAI(
            base_url=f"{url}/ai-proxy", api_key="x", default_headers=HEADERS
        )

    def complete(self) -> object:
        return self._client.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=COMPLETE_TOKENS
        )

    def stream(self, chunks: int) -> Any:
        return self._client.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=chunks, stream=True
        )

    def close(self) -> None:
        self._client.close()


class OpenAIAsync:
    """``openai.AsyncOpenAI``, as ``OpenAISync``."""

    def __init__(self, url: str) -> None:
        import openai

        self._client = openai.AsyncOpenAI(
            base_url=f"{url}/ai-proxy", api_key="x", default_headers=HEADERS
        )

    async def complete(self) -> object:
        return await self._client.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=COMPLETE_TOKENS
        )

    @contextlib.asynccontextmanager
    async def stream(self, chunks: int) -> AsyncIterator[Any]:
        reply = await self._client.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=chunks, stream=True
        )
        async with reply:
            yield reply

    async def close(self) -> None:
        await self._client.close()


SYNC_SIDES: dict[str, Callable[[str], SyncSide]] = {
    "raw-sync": RawSync,
    "sdk-sync": SdkSync,
    "openai-sync": OpenAISync,
}
ASYNC_SIDES: dict[str, Callable[[str, str], AsyncSide]] = {
    "raw-async": RawAsync,
    "sdk-async": SdkAsync,
    "openai-async": lambda url, variant: OpenAIAsync(url),
}
