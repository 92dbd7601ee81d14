"""Pickling: a used client pickles without its connections and works after unpickling, in
this process, in a new event loop, and in a spawned worker process (loopback only).
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest

from completions_sdk import AsyncClient, Client
from tests._support import API_KEY
from tests.reliability._behaviours import echo
from tests.reliability._drive import areceive, receive
from tests.reliability._server import FaultServer
from tests.reliability._workers import complete_in_worker

LIVE_MODULES = frozenset(
    {"socket", "_socket", "ssl", "_ssl", "select", "selectors", "threading", "_thread"}
    | {"httpcore", "h11", "h2", "anyio", "concurrent"}
)
"""Top-level modules whose objects are live state (sockets, locks, pools)."""
LIVE_NAMES = {"Client", "AsyncClient", "HTTPTransport", "AsyncHTTPTransport", "Lock", "Event"}


def _globals_in(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) a pickle refers to."""
    found: set[tuple[str, str]] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found.add((module, name))
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    return found


def _assert_no_live_state(data: bytes) -> None:
    live = {
        (module, name)
        for module, name in _globals_in(data)
        if module.split(".")[0] in LIVE_MODULES
        or (module.split(".")[0] in ("httpx", "asyncio") and name in LIVE_NAMES)
    }
    assert not live, f"the pickle carries live objects: {sorted(live)}"


def _options(server: FaultServer) -> dict[str, Any]:
    return {"api_key": API_KEY, "deployment": "d", "base_url": server.url}


def _text(received: Any, prompt: str) -> None:
    assert received.error is None, received.error
    assert received.texts == {0: f"echo:{prompt}"}


def test_a_used_client_pickles_without_connections_and_works(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    with Client(**_options(fault_server)) as original:
        _text(receive(original, "complete", prompt="before"), "before")  # a pooled connection
        data = pickle.dumps(original)
        _assert_no_live_state(data)
        copy = pickle.loads(data)
        assert repr(copy) == repr(original) and not copy.is_closed
        _text(receive(original, "stream", prompt="original"), "original")
    assert original.is_closed and not copy.is_closed  # the copy owns its own connections
    with copy:
        _text(receive(copy, "complete", prompt="copy"), "copy")
        _text(receive(copy, "stream", prompt="copy-stream"), "copy-stream")
    assert copy.is_closed


def test_a_used_async_client_pickles_and_works_in_another_event_loop(
    fault_server: FaultServer,
) -> None:
    fault_server.script(echo())

    async def use(client: AsyncClient, prompt: str) -> None:
        _text(await areceive(client, "complete", prompt=prompt), prompt)
        _text(await areceive(client, "stream", prompt=prompt), prompt)

    async def first() -> bytes:
        async with AsyncClient(**_options(fault_server)) as original:
            await use(original, "first-loop")
            data = pickle.dumps(original)
            await use(original, "first-loop-again")
            return data

    data = asyncio.run(first())
    _assert_no_live_state(data)

    async def second() -> None:
        async with pickle.loads(data) as copy:
            await use(copy, "second-loop")

    asyncio.run(second())
    assert len(fault_server.requests) == 6


def test_an_async_client_with_its_own_http_client_refuses_pickling() -> None:
    async def build() -> None:
        async with httpx.AsyncClient() as http:
            client = AsyncClient(api_key=API_KEY, deployment="d", http_client=http)
            with pytest.raises(TypeError, match="http_client"):
                pickle.dumps(client)

    asyncio.run(build())


def test_a_pickled_client_works_in_a_spawned_worker(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    spawn = multiprocessing.get_context("spawn")
    with Client(**_options(fault_server)) as client, ProcessPoolExecutor(1, spawn) as pool:
        prompts = [f"worker-{number}" for number in range(4)]
        texts = list(pool.map(complete_in_worker, [client] * len(prompts), prompts, timeout=30))
    assert texts == [f"echo:{prompt}" for prompt in prompts]
    assert len(fault_server.requests) == len(prompts)
