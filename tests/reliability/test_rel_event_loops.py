"""One ``AsyncClient`` under several event loops, one after the other (issue 12.7).

Scripts and notebooks call ``asyncio.run`` more than once; pytest-asyncio gives each test
its own loop. Before the fix, the second loop reused connections bound to the first one,
already closed, and the call failed with a raw ``RuntimeError: Event loop is closed``
after the server had taken (and billed) the request. Now each loop gets its own pool,
closed when its loop ends.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from completions_sdk import AsyncClient
from tests._support import API_KEY
from tests.reliability._behaviours import echo
from tests.reliability._server import FaultServer


def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (polled: no timing is asserted)."""
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.01)
    return True


async def _use(client: AsyncClient, prompt: str) -> tuple[str, str]:
    """A completion and a whole stream, as a script would make them."""
    text = (await client.complete(model="m", prompt=prompt)).text
    async with client.stream(model="m", prompt=prompt) as stream:
        streamed = "".join([chunk.text async for chunk in stream])
    return text, streamed


def test_an_async_client_works_under_two_asyncio_runs(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    client = AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(_use(client, "one")) == ("echo:one", "echo:one")
        # The first loop's pool was closed with its loop: the server sees its connection end.
        assert _eventually(lambda: fault_server.open_connections == 0)
        assert asyncio.run(_use(client, "two")) == ("echo:two", "echo:two")
        assert _eventually(lambda: fault_server.open_connections == 0)
        asyncio.run(client.close())
        gc.collect()
    assert [str(w.message) for w in caught] == []  # no unclosed socket or transport
    assert fault_server.count == 4
    assert fault_server.connections == 2  # one per loop, each reused for both calls


def test_a_client_closed_under_its_second_loop_stays_closed(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    client = AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url)
    asyncio.run(_use(client, "one"))

    async def use_and_close() -> None:
        async with client:
            await _use(client, "two")

    asyncio.run(use_and_close())
    assert client.is_closed
    assert _eventually(lambda: fault_server.open_connections == 0)


# A client shared by two pytest-asyncio tests, each run on a loop of its own.


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[FaultServer, AsyncClient]]:
    server = FaultServer()
    server.start()
    server.script(echo())
    client = AsyncClient(api_key=API_KEY, deployment="d", base_url=server.url)
    yield server, client
    asyncio.run(client.close())
    server.stop()


async def _a_test_using_the_shared_client(shared: tuple[FaultServer, AsyncClient]) -> None:
    server, client = shared
    # Whatever ran before, under another loop, left no connection open.
    assert await asyncio.to_thread(_eventually, lambda: server.open_connections == 0)
    prompt = f"after {server.count} calls"
    assert await _use(client, prompt) == (f"echo:{prompt}", f"echo:{prompt}")


async def test_a_shared_client_in_one_pytest_asyncio_test(
    shared: tuple[FaultServer, AsyncClient],
) -> None:
    await _a_test_using_the_shared_client(shared)


async def test_the_same_client_in_another_pytest_asyncio_test(
    shared: tuple[FaultServer, AsyncClient],
) -> None:
    await _a_test_using_the_shared_client(shared)


def test_threads_each_running_their_own_loops_never_share_a_pool(
    fault_server: FaultServer,
) -> None:
    # A sync web app calling asyncio.run per request in a thread pool: before, the client
    # swapped one shared pool on each loop change and a call could get another loop's
    # pool, or one that loop had closed (a ReadError after the request was sent).
    fault_server.script(echo())
    client = AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url, max_retries=0)
    errors: list[BaseException] = []
    answers: list[str] = []

    def worker(thread: int) -> None:
        for i in range(40):
            prompt = f"t{thread}-{i}"
            try:
                answers.append(asyncio.run(client.complete(model="m", prompt=prompt)).text)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert sorted(answers) == sorted(f"echo:t{t}-{i}" for t in range(4) for i in range(40))
