"""The opt-in httpx-aiohttp transport (docs/performance.md) behaves like httpx's own."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from completions_sdk import (
    DEFAULT_TIMEOUT,
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    Client,
    IncompleteStreamError,
)
from completions_sdk.emulator import FAULT_HEADER, EmulatorServer

httpx_aiohttp = pytest.importorskip("httpx_aiohttp")


@pytest.fixture
async def aiohttp_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx_aiohttp.AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, timeout=DEFAULT_TIMEOUT) as http:
        yield http


def _client(http: httpx.AsyncClient, emulator: EmulatorServer, **options: object) -> AsyncClient:
    return AsyncClient(
        api_key=emulator.api_key,
        deployment=emulator.deployment,
        base_url=emulator.url,
        http_client=http,
        **options,  # type: ignore[arg-type]
    )


async def test_the_same_text_as_the_sync_client(
    aiohttp_client: httpx.AsyncClient, proxy_emulator: EmulatorServer
) -> None:
    fields = {"model": "m", "prompt": "Say hi", "max_tokens": 12, "seed": 4}
    with Client(
        api_key=proxy_emulator.api_key,
        deployment=proxy_emulator.deployment,
        base_url=proxy_emulator.url,
    ) as sync:
        expected = sync.complete(**fields).text  # type: ignore[arg-type]
    client = _client(aiohttp_client, proxy_emulator)
    assert (await client.complete(**fields)).text == expected  # type: ignore[arg-type]
    async with client.stream(**fields) as stream:  # type: ignore[arg-type]
        assert "".join([text async for text in stream.text_stream]) == expected


async def test_a_retried_503_and_a_cut_stream(
    aiohttp_client: httpx.AsyncClient, proxy_emulator: EmulatorServer
) -> None:
    client = _client(aiohttp_client, proxy_emulator)
    retried = {"extra_headers": {FAULT_HEADER: "status=503;times=1;retry_after=0"}}
    assert (await client.complete(model="m", prompt="hi", **retried)).text  # type: ignore[arg-type]
    assert len(proxy_emulator.requests) == 2
    cut = {"extra_headers": {FAULT_HEADER: "drop_after=3"}}
    stream = client.stream(model="m", prompt="hi", max_tokens=20, **cut)  # type: ignore[arg-type]
    with pytest.raises(IncompleteStreamError) as caught:
        await stream.get_final_completion()
    assert caught.value.chunks_received == 3


async def test_a_refused_connection_is_a_connection_error_not_a_timeout(
    aiohttp_client: httpx.AsyncClient,
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AsyncClient(
        api_key="k",
        deployment="d",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=0,
        http_client=aiohttp_client,
    )
    with pytest.raises(APIConnectionError) as caught:
        await client.complete(model="m", prompt="hi")
    assert not isinstance(caught.value, APITimeoutError), caught.value
