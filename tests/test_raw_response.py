"""Request ids on replies, ``with_raw_response``, ``with_streaming_response`` and
``with_options``, against the emulator over real sockets, with both clients.

What the retry count, the head-before-body order and the shared pool look like at a
scripted server is in ``tests/reliability/test_rel_raw_response.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
import typing
from datetime import timedelta
from typing import Any

import httpx
import pytest

from completions_sdk import (
    AsyncClient,
    AsyncStreamingRawResponse,
    ChatCompletion,
    ChatCompletionChunk,
    Client,
    ClientOptions,
    Completion,
    CompletionChunk,
    NotFoundError,
    RawResponse,
    StreamingRawResponse,
)
from completions_sdk._raw_client import (
    AsyncWithRawResponse,
    AsyncWithStreamingResponse,
    WithRawResponse,
    WithStreamingResponse,
)
from completions_sdk.emulator import EmulatorServer
from tests._support.emulator import client_options

MESSAGES = [{"role": "user", "content": "hi"}]
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("complete", {"model": "m", "prompt": "hi"}),
    ("chat", {"model": "m", "messages": MESSAGES}),
]
STREAMS: list[tuple[str, dict[str, Any]]] = [
    ("stream", {"model": "m", "prompt": "hi"}),
    ("stream_chat", {"model": "m", "messages": MESSAGES}),
]


def _run(kind: str, emulator: EmulatorServer, work: Any, **options: Any) -> Any:
    """``work(client)`` with a fresh client of ``kind``; async work runs in its own loop."""
    if kind == "sync":
        with Client(**client_options(emulator), **options) as client:
            return work(client)

    async def main() -> Any:
        async with AsyncClient(**client_options(emulator), **options) as client:
            return await work(client)

    return asyncio.run(main())


# ------------------------------------------------------------------ request ids on replies


@pytest.mark.parametrize(("method", "arguments"), CALLS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_every_reply_has_its_own_request_id_outside_the_body(
    proxy_emulator: EmulatorServer, kind: str, method: str, arguments: dict[str, Any]
) -> None:
    def sync(client: Client) -> list[Any]:
        return [getattr(client, method)(**arguments) for _ in range(2)]

    async def asynchronous(client: AsyncClient) -> list[Any]:
        return [await getattr(client, method)(**arguments) for _ in range(2)]

    first, second = _run(kind, proxy_emulator, sync if kind == "sync" else asynchronous)
    assert first.request_id.startswith("req_")
    assert second.request_id.startswith("req_")
    assert first.request_id != second.request_id
    assert "request_id" not in first.model_dump()
    assert first.request_id not in first.model_dump_json()
    assert first.request_id not in repr(first)
    assert first.model_copy().request_id == first.request_id
    assert pickle.loads(pickle.dumps(first)).request_id == first.request_id
    # A reply built from the same body has no request id: it was never received.
    assert type(first).model_validate(first.model_dump(by_alias=True)).request_id is None


@pytest.mark.parametrize(("method", "arguments"), STREAMS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_streams_final_completion_has_the_streams_request_id(
    proxy_emulator: EmulatorServer, kind: str, method: str, arguments: dict[str, Any]
) -> None:
    def sync(client: Client) -> tuple[Any, Any]:
        with getattr(client, method)(**arguments) as stream:
            return stream.request_id, stream.get_final_completion()

    async def asynchronous(client: AsyncClient) -> tuple[Any, Any]:
        async with getattr(client, method)(**arguments) as stream:
            return stream.request_id, await stream.get_final_completion()

    request_id, final = _run(kind, proxy_emulator, sync if kind == "sync" else asynchronous)
    assert request_id.startswith("req_")
    assert final.request_id == request_id
    assert "request_id" not in final.model_dump()


def test_an_error_reply_has_a_request_id(proxy_emulator: EmulatorServer) -> None:
    with Client(**client_options(proxy_emulator)) as client, pytest.raises(NotFoundError) as caught:
        client.complete(model="m", prompt="hi", deployment="no-such-deployment")
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


# ------------------------------------------------------------------------ raw responses


@pytest.mark.parametrize(("method", "arguments"), CALLS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_raw_response_has_the_reply_its_head_and_its_timing(
    proxy_emulator: EmulatorServer, kind: str, method: str, arguments: dict[str, Any]
) -> None:
    def sync(client: Client) -> RawResponse[Any]:
        raw: RawResponse[Any] = getattr(client.with_raw_response, method)(**arguments)
        return raw

    async def asynchronous(client: AsyncClient) -> RawResponse[Any]:
        raw: RawResponse[Any] = await getattr(client.with_raw_response, method)(**arguments)
        return raw

    raw = _run(kind, proxy_emulator, sync if kind == "sync" else asynchronous)
    reply = raw.parse()
    assert isinstance(reply, Completion if method == "complete" else ChatCompletion)
    assert raw.parse() is reply
    assert raw.status_code == 200
    assert isinstance(raw.headers, httpx.Headers)
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id == raw.headers["x-request-id"] == reply.request_id
    assert raw.retries_taken == 0
    assert isinstance(raw.elapsed, timedelta)
    assert raw.elapsed > timedelta(0)
    assert json.loads(raw.content)["id"] == reply.id
    recorded = proxy_emulator.requests[-1]
    assert recorded.path.endswith("/chat/completions" if method == "chat" else "/completions")


@pytest.mark.parametrize(("method", "arguments"), STREAMS)
def test_a_streaming_raw_response_reads_the_stream_it_opened(
    proxy_emulator: EmulatorServer, method: str, arguments: dict[str, Any]
) -> None:
    with (
        Client(**client_options(proxy_emulator)) as client,
        getattr(client.with_streaming_response, method)(**arguments) as raw,
    ):
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        stream = raw.parse()
        assert raw.parse() is stream
        chunks = list(stream)
        final = stream.get_final_completion()
    assert chunks
    assert final.request_id == raw.request_id == stream.request_id
    assert raw.retries_taken == 0
    assert len(proxy_emulator.requests) == 1  # parse() sends nothing more


@pytest.mark.parametrize(("method", "arguments"), STREAMS)
def test_an_async_streaming_raw_response_reads_the_stream_it_opened(
    proxy_emulator: EmulatorServer, method: str, arguments: dict[str, Any]
) -> None:
    async def main() -> tuple[Any, Any, list[Any]]:
        async with (
            AsyncClient(**client_options(proxy_emulator)) as client,
            getattr(client.with_streaming_response, method)(**arguments) as raw,
        ):
            assert raw.status_code == 200
            chunks = [chunk async for chunk in raw.parse()]
            return raw, await raw.parse().get_final_completion(), chunks

    raw, final, chunks = asyncio.run(main())
    assert chunks
    assert final.request_id == raw.request_id is not None
    assert len(proxy_emulator.requests) == 1


def test_a_streaming_raw_response_says_it_was_not_sent_before_it_is_entered(
    proxy_emulator: EmulatorServer,
) -> None:
    with Client(**client_options(proxy_emulator)) as client:
        raw = client.with_streaming_response.stream(model="m", prompt="hi")
        assert repr(raw) == "StreamingRawResponse(not sent)"
        with pytest.raises(RuntimeError, match="enter"):
            _ = raw.status_code
    assert len(proxy_emulator.requests) == 0


def test_no_repr_of_a_raw_response_shows_the_key_or_a_header(
    proxy_emulator: EmulatorServer,
) -> None:
    with Client(**client_options(proxy_emulator)) as client:
        raw = client.with_raw_response.complete(model="m", prompt="hi")
        with client.with_streaming_response.stream(model="m", prompt="hi") as streaming:
            shown = [repr(raw), str(raw), repr(streaming), str(streaming)]
    for text in shown:
        assert proxy_emulator.api_key not in text
        assert "apikey" not in text.lower()
        assert "content-type" not in text.lower()
    assert shown[0].startswith(f"RawResponse(200, request_id={raw.request_id!r}, retries_taken=0")


# --------------------------------------------------------------- signatures follow the client

ACCESSORS = [
    (WithRawResponse, Client, {"complete": Completion, "chat": ChatCompletion}),
    (AsyncWithRawResponse, AsyncClient, {"complete": Completion, "chat": ChatCompletion}),
]
STREAM_ACCESSORS = [
    (WithStreamingResponse, Client, StreamingRawResponse),
    (AsyncWithStreamingResponse, AsyncClient, AsyncStreamingRawResponse),
]


@pytest.mark.parametrize(("accessor", "client", "replies"), ACCESSORS)
def test_raw_methods_take_exactly_the_clients_arguments(
    accessor: type, client: type, replies: dict[str, type]
) -> None:
    for name, reply in replies.items():
        raw, plain = getattr(accessor, name), getattr(client, name)
        assert inspect.signature(raw).parameters == inspect.signature(plain).parameters
        raw_hints, plain_hints = typing.get_type_hints(raw), typing.get_type_hints(plain)
        assert raw_hints.pop("return") == RawResponse[reply]  # type: ignore[valid-type]
        assert plain_hints.pop("return") is reply
        assert raw_hints == plain_hints
        assert "arguments" in raw_hints  # the keywords stay typed (Unpack[...]), not Any
        assert inspect.iscoroutinefunction(raw) == inspect.iscoroutinefunction(plain)
        assert inspect.getdoc(raw)


@pytest.mark.parametrize(("accessor", "client", "wrapper"), STREAM_ACCESSORS)
def test_streaming_methods_take_exactly_the_clients_arguments(
    accessor: type, client: type, wrapper: type
) -> None:
    chunks = {
        "stream": (CompletionChunk, Completion),
        "stream_chat": (ChatCompletionChunk, ChatCompletion),
    }
    for name, (chunk, reply) in chunks.items():
        raw, plain = getattr(accessor, name), getattr(client, name)
        assert inspect.signature(raw).parameters == inspect.signature(plain).parameters
        raw_hints, plain_hints = typing.get_type_hints(raw), typing.get_type_hints(plain)
        assert raw_hints.pop("return") == wrapper[chunk, reply]
        plain_hints.pop("return")
        assert raw_hints == plain_hints
        assert inspect.getdoc(raw)


def test_with_options_takes_the_clients_settings_typed() -> None:
    settings = typing.get_type_hints(ClientOptions)
    init = typing.get_type_hints(Client.__init__)
    assert set(settings) == set(inspect.signature(Client.__init__).parameters) - {
        "self",
        "http_client",
        "limits",
        "rate_limit",
        "tracer_provider",
        "meter_provider",
    }
    assert settings["deployment"] is str
    assert settings["max_retries"] is int
    assert settings["timeout"] == init["timeout"]
    for method in (Client.with_options, AsyncClient.with_options):
        hints = typing.get_type_hints(method, include_extras=True)
        assert "settings" in hints


# ----------------------------------------------------------------------------- with_options


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_with_options_changes_the_copy_only(proxy_emulator: EmulatorServer, kind: str) -> None:
    other = "test-deployment-2"
    proxy_emulator.add_deployment(other)

    def sync(client: Client) -> tuple[Any, Any, bool]:
        copy = client.with_options(deployment=other, tags=["batch", "nightly"], max_retries=0)
        assert type(copy) is Client
        copy.complete(model="m", prompt="hi")
        client.complete(model="m", prompt="hi")
        copy.close()
        client.complete(model="m", prompt="again")  # the shared pool is still open
        return client, copy, client.is_closed

    async def asynchronous(client: AsyncClient) -> tuple[Any, Any, bool]:
        copy = client.with_options(deployment=other, tags=["batch", "nightly"], max_retries=0)
        assert type(copy) is AsyncClient
        await copy.complete(model="m", prompt="hi")
        await client.complete(model="m", prompt="hi")
        await copy.close()
        await client.complete(model="m", prompt="again")
        return client, copy, client.is_closed

    client, copy, closed_after_copy = _run(
        kind, proxy_emulator, sync if kind == "sync" else asynchronous, tags=["interactive"]
    )
    assert not closed_after_copy
    assert client.is_closed and copy.is_closed  # closing the original closed both
    sent = proxy_emulator.requests
    assert (sent[0].deployment, sent[0].tags) == (other, ["batch", "nightly"])
    assert (sent[1].deployment, sent[1].tags) == (proxy_emulator.deployment, ["interactive"])
    assert (sent[2].deployment, sent[2].tags) == (proxy_emulator.deployment, ["interactive"])
    assert client.deployment == proxy_emulator.deployment
    assert copy.deployment == other
    assert client._config.retry.max_retries == 2
    assert copy._config.retry.max_retries == 0
    assert proxy_emulator.api_key not in repr(copy)


def test_with_options_checks_its_settings_as_the_client_does(
    proxy_emulator: EmulatorServer,
) -> None:
    from completions_sdk import ConfigurationError

    with Client(**client_options(proxy_emulator)) as client:
        with pytest.raises(ConfigurationError, match="timeout"):
            client.with_options(timeout=-1)
        with pytest.raises(ConfigurationError):
            client.with_options(default_headers={"X-Bad": "a\nb"})
        copy = client.with_options(api_key="another-key")
        assert "another-key" not in repr(copy)
        assert copy._redactor.text("another-key") != "another-key"
        assert client._config.api_key.get_secret_value() == proxy_emulator.api_key


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_raw_response_keeps_no_request_and_so_no_api_key(
    proxy_emulator: EmulatorServer, kind: str
) -> None:
    def sync(client: Client) -> RawResponse[Any]:
        return client.with_raw_response.complete(model="m", prompt="hi")

    async def asynchronous(client: AsyncClient) -> RawResponse[Any]:
        return await client.with_raw_response.complete(model="m", prompt="hi")

    raw = _run(kind, proxy_emulator, sync if kind == "sync" else asynchronous)
    key = proxy_emulator.api_key.encode()
    # Raw responses get cached, logged with their locals, or sent to other processes.
    assert key not in pickle.dumps(raw)
    with pytest.raises(RuntimeError):
        raw._head().request  # noqa: B018
