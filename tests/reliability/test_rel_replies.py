"""Properties of replies (hypothesis): event streams decode the same however they are cut,
and garbage from the server only ever ends in a result or one of the SDK's own exceptions.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from completions_sdk import CompletionsError
from tests._support import Pieces
from tests.reliability._behaviours import raw
from tests.reliability._drive import KINDS, MODES, Kind, Mode, Received, receive, receive_from
from tests.reliability._server import FaultServer
from tests.reliability._strategies import RAW_REPLIES, Garbage, garbage_replies

# ---------------------------------------------------------------- byte splits


def _multi_choice_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    texts = draw(
        st.lists(st.tuples(st.integers(0, 3), st.text(max_size=10)), min_size=1, max_size=12)
    )
    events: list[dict[str, Any]] = []
    for position, (index, text) in enumerate(texts):
        choice: dict[str, Any] = {"text": text, "index": index, "finish_reason": None}
        if draw(st.booleans()):
            choice["logprobs"] = {
                "tokens": [text],
                "token_logprobs": [-0.5],
                "top_logprobs": [{text: -0.5}],
                "text_offset": [position],
            }
        events.append({"id": "cmpl-1", "model": "m", "created": 1, "choices": [choice]})
    events.append({"id": "cmpl-1", "choices": [{"text": "", "index": 0, "finish_reason": "stop"}]})
    events.append(
        {
            "id": "cmpl-1",
            "choices": [],
            "usage": {"prompt_tokens": 2, "completion_tokens": 9, "total_tokens": 11},
        }
    )
    return events


def _render(draw: st.DrawFn, events: list[dict[str, Any]], line_end: str) -> bytes:
    blocks = []
    for data in events:
        # A JSON body may span several data: lines (they are joined with a newline),
        # with or without the optional space after the colon.
        lines = json.dumps(
            data, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
        ).split("\n")
        prefix = draw(st.sampled_from(["data: ", "data:"]))
        noise = draw(st.sampled_from([[], [": keep-alive"], ["id: 7"], ["event: completion"]]))
        blocks.append(line_end.join([*noise, *(prefix + line for line in lines)]))
    blocks += ["retry: 10", "data: [DONE]"]
    return "".join(block + line_end * 2 for block in blocks).encode()


@st.composite
def split_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[bytes]]:
    """A valid multi-choice event stream (logprobs, a usage chunk), its events, and a way
    to cut it."""
    events = _multi_choice_events(draw)
    body = _render(draw, events, draw(st.sampled_from(["\n", "\r\n", "\r"])))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(body) - 1), max_size=40))))
    return events, [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)])]


def _streamed(pieces: list[bytes], kind: Kind) -> list[dict[str, Any]]:
    """Every chunk, then the final completion, as dicts."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Pieces(pieces))

    received = receive_from(handler, kind, "stream", n=4, stream_options={"include_usage": True})
    assert received.error is None and received.final is not None, received.error
    return [item.model_dump() for item in [*received.items, received.final]]


@settings(max_examples=120, deadline=None)
@given(stream=split_streams(), kind=st.sampled_from(KINDS))
def test_any_byte_split_of_a_multi_choice_stream_gives_the_same_completion(
    stream: tuple[list[dict[str, Any]], list[bytes]], kind: Kind
) -> None:
    events, pieces = stream
    whole = _streamed([b"".join(pieces)], kind)
    assert _streamed(pieces, kind) == whole
    # ... and the chunks carry exactly the texts that were sent, choice by choice.
    sent = [(c["index"], c["text"]) for event in events for c in event["choices"]]
    got = [(c["index"], c["text"]) for chunk in whole[:-1] for c in chunk["choices"]]
    assert got == sent
    assert whole[-1]["usage"]["total_tokens"] == 11


# ---------------------------------------------------------------- garbage from the server


def _only_sdk_errors(received: Received) -> None:
    assert received.error is None or isinstance(received.error, CompletionsError)
    if received.error is None:
        assert received.final is not None


@settings(max_examples=400, deadline=None)
@given(reply=garbage_replies(), kind=st.sampled_from(KINDS))
def test_garbage_replies_to_complete_end_in_a_result_or_an_sdk_error(
    reply: Garbage, kind: Kind
) -> None:
    # Anything but an SDK error (AttributeError, KeyError, TypeError, JSONDecodeError, a
    # pydantic ValidationError...) escapes ``receive`` and fails the test.
    _only_sdk_errors(receive_from(reply, kind, "complete"))


ODD_LOGPROBS = b'data: {"choices": [{"text": "a", "logprobs": {"x": 1}}]}\n\ndata: [DONE]\n\n'


@settings(max_examples=400, deadline=None)
@example(
    reply=Garbage(200, {"content-type": "text/event-stream"}, ODD_LOGPROBS),
    kind="sync",
)
@given(reply=garbage_replies(), kind=st.sampled_from(KINDS))
def test_garbage_replies_to_stream_end_in_chunks_or_an_sdk_error(
    reply: Garbage, kind: Kind
) -> None:
    _only_sdk_errors(receive_from(reply, kind, "stream"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=RAW_REPLIES, mode=st.sampled_from(MODES))
def test_garbage_bytes_on_the_wire_end_in_a_result_or_an_sdk_error(
    make_client: Callable[..., Any], fault_server: FaultServer, data: bytes, mode: Mode
) -> None:
    assume(data)
    fault_server.script(raw(data))
    _only_sdk_errors(receive(make_client(base_url=fault_server.url, timeout=5.0), mode))
