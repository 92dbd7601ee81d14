"""Bounded load: 200 concurrent streaming clients on loopback, every one read to the end."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import EmulatorServer, create_app

PATH = "/ai-proxy/completions"
CLIENTS = 200
TRANSPORT = httpx.ASGITransport(app=create_app())


async def streamed_text(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    text, done = "", False
    body = {**body, "stream": True}
    async with httpx_sse.aconnect_sse(client, "POST", PATH, json=body) as source:
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            assert not done, "an event after [DONE]"
            if event.data == "[DONE]":
                done = True
            else:
                text += json.loads(event.data)["choices"][0]["text"]
    assert done
    return text


@pytest.mark.load
async def test_200_concurrent_streams(proxy_emulator: EmulatorServer) -> None:
    headers = {
        "apikey": proxy_emulator.api_key,
        "X-Enkrypt-Deployment": proxy_emulator.deployment,
        # Spread each stream over time, so that all of them are open at once.
        "X-Emulator-Fault": "token_delay=0.01",
    }
    bodies = [{"model": "m", "prompt": f"client {i}", "max_tokens": 16} for i in range(CLIENTS)]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=proxy_emulator.url, headers=headers, limits=limits, timeout=30
    ) as client:
        started = time.monotonic()
        texts = await asyncio.gather(*(streamed_text(client, body) for body in bodies))
        elapsed = time.monotonic() - started
    assert texts == [await expected_text(body) for body in bodies]
    assert len(set(texts)) == CLIENTS
    assert all(len(text.split()) == 16 for text in texts)
    assert elapsed < 15, f"{CLIENTS} streams took {elapsed:.1f} s"


async def expected_text(body: dict[str, Any]) -> str:
    # Asked of a second emulator, in process: the text depends on the body alone. (Not
    # over the 200 warm connections: httpx's pool is slow to share that many.)
    headers = {"apikey": "emulator-key", "X-Enkrypt-Deployment": "test-deployment-1"}
    async with httpx.AsyncClient(transport=TRANSPORT, base_url="http://emulator") as client:
        response = await client.post(PATH, json=body, headers=headers)
    text: str = response.json()["choices"][0]["text"]
    return text
