"""``stream = await client.stream(...)`` on an ``AsyncClient`` (issue 13.3).

openai's habit (``await client.completions.create(..., stream=True)``) raised ``TypeError:
object AsyncStream can't be used in 'await' expression`` at 58c7303. Now awaiting starts
the stream (the request is sent, the first chunk read) and returns it; ``async for`` then
reads it and ``await stream.close()`` releases its connection. ``async with`` and a plain
``async for`` work as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from completions_sdk import AsyncClient, AsyncStream
from tests._support import API_KEY
from tests.reliability._behaviours import drip, event, sse_head, sse_reply
from tests.reliability._drive import STREAMED, chunk
from tests.reliability._server import FaultServer

SENT = " Once upon a time"


@pytest.fixture
async def client(fault_server: FaultServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url) as made:
        yield made


async def _closed(server: FaultServer, seconds: float = 5.0) -> bool:
    """Whether the server's connections are all closed within ``seconds``."""
    until = time.monotonic() + seconds
    while server.open_connections and time.monotonic() < until:
        await asyncio.sleep(0.01)
    return server.open_connections == 0


async def test_await_starts_the_stream_and_returns_it(
    client: AsyncClient, fault_server: FaultServer
) -> None:
    fault_server.script(sse_reply(event(c) for c in STREAMED))
    stream = await client.stream(model="m", prompt="p")
    assert isinstance(stream, AsyncStream)
    assert fault_server.count == 1  # sent by the await, before any iteration
    assert stream.response.status_code == 200
    texts = [chunk.text async for chunk in stream]
    await stream.close()
    assert "".join(texts) == SENT
    assert (await stream.get_final_completion()).text == SENT
    # Read to the end and closed: the connection went back to the pool.
    again = await client.stream(model="m", prompt="p")
    assert "".join([chunk.text async for chunk in again]) == SENT
    await again.close()
    assert (fault_server.count, fault_server.connections) == (2, 1)


async def test_await_then_close_early_releases_the_connection(
    client: AsyncClient, fault_server: FaultServer
) -> None:
    first = event(chunk(" Once"))
    fault_server.script(drip([first], 0, start=sse_head(), chunked=True, end="hang"))
    stream = await client.stream(model="m", prompt="p")
    async for piece in stream:
        assert piece.text == " Once"
        break
    await stream.close()
    assert await _closed(fault_server), "the connection of a closed stream is still open"


async def test_await_on_a_chat_stream(client: AsyncClient, fault_server: FaultServer) -> None:
    deltas = [{"choices": [{"index": 0, "delta": {"content": t}}]} for t in ("Hel", "lo")]
    fault_server.script(sse_reply(event(d) for d in deltas))
    stream = await client.stream_chat(model="m", messages=[{"role": "user", "content": "hi"}])
    assert "".join([chunk.text async for chunk in stream]) == "Hello"
    await stream.close()
    assert (await stream.get_final_completion()).text == "Hello"


async def test_async_with_and_plain_async_for_still_work(
    client: AsyncClient, fault_server: FaultServer
) -> None:
    fault_server.script(sse_reply(event(c) for c in STREAMED))
    async with client.stream(model="m", prompt="p") as stream:
        assert "".join([chunk.text async for chunk in stream]) == SENT
    plain = client.stream(model="m", prompt="p")
    assert "".join([chunk.text async for chunk in plain]) == SENT
    assert fault_server.count == 2
