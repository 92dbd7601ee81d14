"""Streaming: chunks, assembly, errors, truncation, retries and resources, sync and async."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pytest_httpx import HTTPXMock

from completions_sdk import (
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncStream,
    GuardrailViolation,
    IncompleteStreamError,
    InternalServerError,
    RateLimitError,
    Stream,
)
from completions_sdk._assembly import TextBuffer
from tests._support import SSE, AsyncAdapter, Pieces, fixture_bytes, fixture_json, read_all, sse

RECORDED = fixture_bytes("stream-n3-usage.sse")


def chunk(text: str, index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "choices": [{"text": text, "index": index, "finish_reason": finish}]}


def texts(client: Any, **arguments: Any) -> list[str]:
    return [c.text for c in read_all(client, **arguments)[0]]


def test_plain_stream(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        content=sse(chunk(" Hello"), chunk(","), chunk(" world", finish="stop")), headers=SSE
    )
    chunks, final = read_all(client, prompt="hi")
    assert [c.text for c in chunks] == [" Hello", ",", " world"]
    assert final.text == " Hello, world"
    assert final.choices[0].finish_reason == "stop"
    sent = httpx_mock.get_request()
    assert sent is not None
    assert json.loads(sent.content) == {"model": "m", "prompt": "hi", "stream": True}
    assert sent.headers["accept"] == "text/event-stream"


def test_n3_interleaved_with_usage_and_detections(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=RECORDED, headers=SSE)
    chunks, final = read_all(client, n=3, stream_options={"include_usage": True})
    assert len(chunks) == 7  # comments, id/retry-only events and [DONE] are not chunks
    assert [c.text for c in chunks] == [" Once", "", "", " upon", "", "", ""]  # choice 0 only
    assert [(c.index, c.text, c.finish_reason) for c in final.choices] == [
        (0, " Once upon", "length"),
        (1, " Hi there", "stop"),
        (2, " A B", "eos"),
    ]
    assert final.usage is not None and final.usage.total_tokens == 9
    assert final.id == "cmpl-1" and final.model == "m" and final.created == 1736924194
    assert final.policy_detections is not None
    assert chunks[5].policy_detections is not None


def test_logprobs_are_joined(client: Any, httpx_mock: HTTPXMock) -> None:
    def piece(token: str, offset: int) -> dict[str, Any]:
        logprobs = {
            "tokens": [token],
            "token_logprobs": [-0.5],
            "top_logprobs": [{token: -0.5}],
            "text_offset": [offset],
        }
        return {"choices": [{"text": token, "index": 0, "logprobs": logprobs}]}

    httpx_mock.add_response(content=sse(piece(" a", 0), piece(" b", 2)), headers=SSE)
    _, final = read_all(client, logprobs=1)
    logprobs = final.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.tokens == [" a", " b"]
    assert logprobs.text_offset == [0, 2]
    assert logprobs.top_logprobs == [{" a": -0.5}, {" b": -0.5}]


AWKWARD_SPLITS = [
    pytest.param(lambda b: [b[i : i + 1] for i in range(len(b))], id="byte-by-byte"),
    pytest.param(lambda b: [b[:7], b[7:33], b[33:]], id="mid-line"),
    pytest.param(lambda b: [b.replace(b"\n", b"\r\n")], id="crlf"),
    pytest.param(
        lambda b: [b.replace(b"\n", b"\r\n")[i : i + 5] for i in range(0, 2 * len(b), 5)],
        id="crlf-split",
    ),
]


@pytest.mark.parametrize("split", AWKWARD_SPLITS)
def test_awkward_byte_splits_yield_the_same_chunks(
    client: Any, httpx_mock: HTTPXMock, split: Any
) -> None:
    body = sse(chunk(" h\u00e9llo \U0001f600"), chunk(" w\u00f6rld", finish="stop"))
    httpx_mock.add_response(stream=Pieces(split(body)), headers=SSE)
    assert texts(client) == [" h\u00e9llo \U0001f600", " w\u00f6rld"]


def test_mid_utf8_split(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse(chunk("\U0001f600\u00e9"))
    cut = body.index("\U0001f600".encode()) + 2
    httpx_mock.add_response(stream=Pieces([body[:cut], body[cut:]]), headers=SSE)
    assert texts(client) == ["\U0001f600\u00e9"]


def test_an_error_event_mid_stream_raises_the_typed_error(
    client: Any, httpx_mock: HTTPXMock
) -> None:
    block = fixture_json("blocked-by-input-guardrails.json")
    httpx_mock.add_response(content=sse(chunk(" ok"), block), headers=SSE)
    with pytest.raises(GuardrailViolation) as info:
        read_all(client)
    assert info.value.detections.flagged == ["input:toxicity", "input:injection_attack"]
    assert "(an error event in the stream)" in str(info.value)
    assert len(httpx_mock.get_requests()) == 1


def test_a_non_guardrail_error_event(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=sse({"error": {"message": "model overloaded"}}), headers=SSE)
    with pytest.raises(APIStatusError, match=r"^an error event in the stream: model overloaded"):
        read_all(client)


def test_a_garbage_event_is_an_sdk_error(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=sse("{not json"), headers=SSE)
    with pytest.raises(APIResponseValidationError, match="not a CompletionChunk"):
        read_all(client)


def test_connection_closed_before_done(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse(chunk(" Once"), chunk(" upon"), chunk(" x", index=1), done=False)
    httpx_mock.add_response(stream=Pieces([body]), headers=SSE)
    with pytest.raises(IncompleteStreamError, match="ended before data: \\[DONE\\]") as info:
        read_all(client, n=2)
    assert info.value.partial_text == " Once upon"
    assert info.value.partial_texts == {0: " Once upon", 1: " x"}
    assert len(httpx_mock.get_requests()) == 1  # text was delivered: never retried


def test_connection_reset_mid_stream(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse(chunk(" Once"), done=False)
    error = httpx.RemoteProtocolError("peer closed connection without sending complete body")
    httpx_mock.add_response(stream=Pieces([body], error=error), headers=SSE)
    with pytest.raises(IncompleteStreamError, match="peer closed connection") as info:
        read_all(client)
    assert info.value.partial_text == " Once"
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


def test_a_read_timeout_between_events(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse(chunk(" Once"), done=False)
    httpx_mock.add_response(stream=Pieces([body], error=httpx.ReadTimeout("slow")), headers=SSE)
    with pytest.raises(APITimeoutError):
        read_all(client)
    assert len(httpx_mock.get_requests()) == 1


def test_a_break_before_the_first_event_is_retried(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float]
) -> None:
    httpx_mock.add_response(
        stream=Pieces([b": hello\n\n"], error=httpx.ReadError("reset")), headers=SSE
    )
    httpx_mock.add_response(content=sse(chunk(" fine")), headers=SSE)
    assert texts(client) == [" fine"]
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_errors_at_the_start_are_retried(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float], status: int
) -> None:
    httpx_mock.add_response(
        status_code=status, json={"error": "busy"}, headers={"retry-after": "0"}
    )
    httpx_mock.add_response(content=sse(chunk(" ok")), headers=SSE)
    assert texts(client) == [" ok"]
    assert sleeps == [0.0]


def test_an_error_reply_that_is_not_a_stream(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=429, json={"error": {"message": "slow down"}}, is_reusable=True
    )
    with pytest.raises(RateLimitError, match="slow down"):
        read_all(client, max_retries=0)


def test_a_plain_json_completion_instead_of_a_stream(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=fixture_bytes("completion-as-served.json"))
    chunks, final = read_all(client)
    assert [c.text for c in chunks] == [" Because the bicycle was two-tired."]
    assert final.text == " Because the bicycle was two-tired."


def test_a_stream_with_no_events_but_done(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=sse(), headers=SSE)
    chunks, final = read_all(client)
    assert chunks == []
    assert final.text == ""


def test_best_of_cannot_be_streamed(client: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ValidationError, match="best_of cannot be combined with stream"):
        client.stream(model="m", best_of=2) if not isinstance(client, AsyncAdapter) else (
            client.client.stream(model="m", best_of=2)
        )
    assert httpx_mock.get_requests() == []


def test_nothing_is_sent_until_the_stream_starts(client: Any, httpx_mock: HTTPXMock) -> None:
    target = client.client if isinstance(client, AsyncAdapter) else client
    stream = target.stream(model="m")
    assert isinstance(stream, Stream | AsyncStream)
    assert httpx_mock.get_requests() == []
    with pytest.raises(RuntimeError, match="has not started"):
        _ = stream.response


def test_sync_iteration_helpers(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import Client

    httpx_mock.add_response(content=RECORDED, headers={**SSE, "x-request-id": "r1"})
    client = Client(api_key="k", deployment="d", base_url="http://127.0.0.1:1")
    with client, client.stream(model="m", n=3) as stream:
        assert list(stream.text_stream) == [" Once", " upon"]
        assert stream.request_id == "r1"
        assert stream.response.status_code == 200
        assert stream.get_final_completion().choices[2].text == " A B"


async def test_async_iteration_helpers(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import AsyncClient

    httpx_mock.add_response(content=RECORDED, headers={**SSE, "x-request-id": "r1"})
    async with AsyncClient(api_key="k", deployment="d", base_url="http://127.0.0.1:1") as client:
        async with client.stream(model="m", n=3) as stream:
            assert [t async for t in stream.text_stream] == [" Once", " upon"]
            assert stream.request_id == "r1"
            final = await stream.get_final_completion()
        assert final.choices[1].text == " Hi there"
        # Iterating without a context manager works too, and ends the reply at [DONE].
        httpx_mock.add_response(content=sse(chunk(" x")), headers=SSE)
        assert [c.text async for c in client.stream(model="m")] == [" x"]


def test_an_early_break_closes_the_reply(client: Any, httpx_mock: HTTPXMock) -> None:
    body = Pieces([sse(chunk(" a"), chunk(" b"), chunk(" c"))])
    httpx_mock.add_response(stream=body, headers=SSE)
    if isinstance(client, AsyncAdapter):

        async def run() -> None:
            async with client.client.stream(model="m") as stream:
                async for _ in stream:
                    break

        client.run(run())
    else:
        with client.stream(model="m") as stream:
            for _ in stream:
                break
    assert body.closed


def test_an_exception_in_the_loop_body_closes_the_reply(client: Any, httpx_mock: HTTPXMock) -> None:
    body = Pieces([sse(chunk(" a"), chunk(" b"))])
    httpx_mock.add_response(stream=body, headers=SSE)

    def sync_loop() -> None:
        with client.stream(model="m") as stream:
            for _ in stream:
                raise KeyError("user bug")

    async def async_loop() -> None:
        async with client.client.stream(model="m") as stream:
            async for _ in stream:
                raise KeyError("user bug")

    with pytest.raises(KeyError):
        client.run(async_loop()) if isinstance(client, AsyncAdapter) else sync_loop()
    assert body.closed


def test_a_sync_break_without_a_context_manager_closes_the_reply(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import Client

    body = Pieces([sse(chunk(" a"), chunk(" b"))])
    httpx_mock.add_response(stream=body, headers=SSE)
    with Client(api_key="k", deployment="d", base_url="http://127.0.0.1:1") as client:
        for _ in client.stream(model="m"):
            break
        assert body.closed  # the abandoned stream was collected and closed at once


def test_a_failed_start_leaks_no_reply(
    client: Any, httpx_mock: HTTPXMock, sleeps: list[float]
) -> None:
    broken = Pieces([], error=httpx.ReadError("reset"))
    httpx_mock.add_response(stream=broken, headers=SSE)
    httpx_mock.add_response(status_code=500, json={"error": "x"})
    httpx_mock.add_response(content=sse(chunk(" ok")), headers=SSE)
    assert texts(client) == [" ok"]
    assert broken.closed
    httpx_mock.add_response(status_code=500, json={"error": "x"}, is_reusable=True)
    with pytest.raises(InternalServerError):
        read_all(client)


def test_a_broken_or_closed_stream_never_passes_for_a_whole_one(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import Client

    cut = sse(chunk(" Once"), chunk(" upon"), done=False)
    httpx_mock.add_response(stream=Pieces([cut]), headers=SSE)
    client = Client(api_key="k", deployment="d", base_url="http://127.0.0.1:1")
    with client:
        stream = client.stream(model="m")
        with pytest.raises(IncompleteStreamError) as broken:
            list(stream)
        with pytest.raises(IncompleteStreamError) as again:
            next(stream)  # not an empty, seemingly finished stream
        assert again.value is broken.value
        with pytest.raises(IncompleteStreamError):
            stream.get_final_completion()

        httpx_mock.add_response(content=sse(chunk(" a"), chunk(" b")), headers=SSE)
        with client.stream(model="m") as stream:
            next(stream)
        with pytest.raises(IncompleteStreamError, match="closed before it ended") as closed:
            stream.get_final_completion()
        assert closed.value.partial_text == " a"


async def test_a_broken_or_closed_async_stream_never_passes_for_a_whole_one(
    httpx_mock: HTTPXMock,
) -> None:
    from completions_sdk import AsyncClient

    cut = sse(chunk(" Once"), chunk(" upon"), done=False)
    httpx_mock.add_response(stream=Pieces([cut]), headers=SSE)
    async with AsyncClient(api_key="k", deployment="d", base_url="http://127.0.0.1:1") as client:
        stream = client.stream(model="m")
        with pytest.raises(IncompleteStreamError) as broken:
            [c async for c in stream]
        with pytest.raises(IncompleteStreamError) as again:
            await anext(stream)
        assert again.value is broken.value
        with pytest.raises(IncompleteStreamError):
            await stream.get_final_completion()

        httpx_mock.add_response(content=sse(chunk(" a"), chunk(" b")), headers=SSE)
        async with client.stream(model="m") as stream:
            await anext(stream)
        with pytest.raises(IncompleteStreamError, match="closed before it ended"):
            await stream.get_final_completion()


def test_a_streams_repr_says_where_it_stands(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import Client

    httpx_mock.add_response(content=sse(chunk(" a"), chunk(" b")), headers=SSE)
    with Client(api_key="sk-SECRET", deployment="d", base_url="http://127.0.0.1:1") as client:
        stream = client.stream(model="m")
        assert repr(stream) == "Stream(POST /ai-proxy/completions, not started)"
        with stream:
            next(stream)
            assert repr(stream) == "Stream(POST /ai-proxy/completions, 1 chunk)"
            stream.get_final_completion()
        assert repr(stream) == "Stream(POST /ai-proxy/completions, 2 chunks, done)"
        assert "SECRET" not in repr(stream)


@given(st.lists(st.text(max_size=3), max_size=2000))
@settings(max_examples=50, deadline=None)
def test_text_pieces_join_to_the_text_across_blocks(pieces: list[str]) -> None:
    buffer = TextBuffer()
    for piece in pieces:
        buffer.append(piece)
    assert str(buffer) == "".join(pieces)
    assert bool(buffer) == bool(pieces)
