"""Raw responses and ``with_options`` at a scripted server: the retries a raw response
counts, a stream's head before its body, and one connection pool for a client and its copies
(under two event loops, and renewed after a fork).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk import AsyncClient, Client
from tests._support import AsyncAdapter
from tests.reliability._behaviours import event, head, json_reply, reply
from tests.reliability._drive import STREAMED, TEXT, completion
from tests.reliability._server import Behaviour, Exchange, FaultServer

FAILED = reply(500, b'{"error": "oops"}', {"x-request-id": "req-failed"})
ANSWER = json_reply(completion(TEXT), headers={"x-request-id": "req-answered"})


def _raw_complete(client: Client | AsyncAdapter) -> Any:
    if isinstance(client, AsyncAdapter):
        return client.run(client.client.with_raw_response.complete(model="m", prompt="hi"))
    return client.with_raw_response.complete(model="m", prompt="hi")


def test_a_raw_response_counts_the_retries_it_took(
    make_client: Callable[..., Client | AsyncAdapter], fault_server: FaultServer
) -> None:
    fault_server.script(FAILED, FAILED, ANSWER)
    raw = _raw_complete(make_client(base_url=fault_server.url))
    assert len(fault_server.requests) == 3
    assert raw.retries_taken == 2
    assert raw.status_code == 200
    assert raw.request_id == "req-answered" == raw.parse().request_id
    assert raw.parse().text == TEXT


def test_a_raw_response_of_a_first_success_took_no_retry(
    make_client: Callable[..., Client | AsyncAdapter], fault_server: FaultServer
) -> None:
    fault_server.script(ANSWER)
    raw = _raw_complete(make_client(base_url=fault_server.url))
    assert (raw.retries_taken, len(fault_server.requests)) == (0, 1)


def _gated_stream(gate: threading.Event) -> Behaviour:
    """A stream whose head is sent at once and whose body waits for ``gate``."""

    async def behaviour(exchange: Exchange) -> bool:
        headers = {"Content-Type": "text/event-stream", "x-request-id": "req-streamed"}
        await exchange.send(head(200, {**headers, "Connection": "close"}))
        for _ in range(1000):  # at most 10 s: the test sets the gate after reading the head
            if gate.is_set():
                break
            await asyncio.sleep(0.01)
        await exchange.send(b"".join(event(chunk) for chunk in STREAMED) + b"data: [DONE]\n\n")
        return await exchange.end("close")

    return behaviour


def test_a_streaming_raw_response_gives_the_head_before_the_body(
    fault_server: FaultServer, retry_policy: Any
) -> None:
    gate = threading.Event()
    fault_server.script(FAILED, _gated_stream(gate))
    options = {"api_key": "k", "deployment": "d", "base_url": fault_server.url}
    with (
        Client(**options, retry_policy=retry_policy) as client,
        client.with_streaming_response.stream(model="m", prompt="hi") as raw,
    ):
        assert not gate.is_set()  # no byte of the body was sent yet
        assert raw.status_code == 200
        assert raw.request_id == "req-streamed"
        assert raw.retries_taken == 1
        gate.set()
        texts = [chunk.text for chunk in raw.parse()]
        final = raw.parse().get_final_completion()
    assert "".join(texts) == " Once upon a time"
    assert final.request_id == "req-streamed"
    assert len(fault_server.requests) == 2  # the body's stream sent nothing more


def test_an_async_streaming_raw_response_gives_the_head_before_the_body(
    fault_server: FaultServer, retry_policy: Any
) -> None:
    gate = threading.Event()
    fault_server.script(FAILED, _gated_stream(gate))
    options = {"api_key": "k", "deployment": "d", "base_url": fault_server.url}

    async def main() -> list[str]:
        async with (
            AsyncClient(**options, retry_policy=retry_policy) as client,
            client.with_streaming_response.stream(model="m", prompt="hi") as raw,
        ):
            assert not gate.is_set()
            assert (raw.status_code, raw.request_id, raw.retries_taken) == (200, "req-streamed", 1)
            gate.set()
            return [chunk.text async for chunk in raw.parse()]

    assert "".join(asyncio.run(main())) == " Once upon a time"


# ------------------------------------------------------------------- with_options: one pool


def test_a_copy_and_its_original_share_one_connection(fault_server: FaultServer) -> None:
    fault_server.script(ANSWER)
    with Client(api_key="k", deployment="d", base_url=fault_server.url) as client:
        copies = [client.with_options(tags=["a"]), client.with_options(deployment="e")]
        copies.append(copies[0].with_options(timeout=30))  # a copy of a copy
        for each in [client, *copies, client, *copies]:
            each.complete(model="m", prompt="hi")
        for copy in copies:
            copy.close()
        client.complete(model="m", prompt="hi")  # closing the copies closed nothing
        assert all(copy._current_http() is client._http for copy in copies)
    assert fault_server.connections == 1
    assert fault_server.count == 9
    assert all(copy.is_closed for copy in copies)


def test_an_async_copy_uses_the_originals_pool_of_each_event_loop(
    fault_server: FaultServer,
) -> None:
    fault_server.script(ANSWER)
    client = AsyncClient(api_key="k", deployment="d", base_url=fault_server.url)
    copy = client.with_options(tags=["a"])
    pools = []

    async def calls(first: Any, second: Any) -> None:
        await first.complete(model="m", prompt="hi")
        await second.complete(model="m", prompt="hi")
        pools.append(await copy._current_http())
        assert pools[-1] is await client._current_http()

    asyncio.run(calls(copy, client))
    asyncio.run(calls(client, copy))  # a second loop: a second pool, shared again
    assert pools[0] is not pools[1]
    assert fault_server.connections == 2  # one per loop, not one per client
    assert fault_server.count == 4
    asyncio.run(client.close())


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_copy_follows_its_original_to_a_fresh_pool_after_a_fork(kind: str) -> None:
    options = {"api_key": "k", "deployment": "d", "base_url": "http://127.0.0.1:9"}
    client: Any = Client(**options) if kind == "sync" else AsyncClient(**options)
    copy = client.with_options(deployment="e")
    before = client._http
    client._after_fork()  # what the fork hook does in the child
    pool = copy._current_http() if kind == "sync" else asyncio.run(copy._current_http())
    assert pool is client._http
    assert pool is not before
    for http in (before, pool):  # (the test's own: a real child would leave the parent's)
        http.close() if kind == "sync" else asyncio.run(http.aclose())
