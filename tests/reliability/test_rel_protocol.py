"""The event-stream protocol's edges, over real sockets (issue 12.12).

Each was wrong at 58c7303: a UTF-8 byte order mark dropped the first chunk; an
``event: error`` event without an ``error`` key passed for a chunk (and the partial text
for a whole reply); ``Text/Event-Stream`` was refused; a ``charset`` parameter mangled the
text (an event stream is UTF-8 by definition); a chat stream answered with one whole JSON
reply lost the message's content; invalid UTF-8 was an error from ``complete()`` but
U+FFFD from ``stream()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk import APIStatusError
from tests._support import read_all
from tests.reliability._behaviours import DONE, drip, event, reply, sse_head, sse_reply
from tests.reliability._drive import (
    BODY,
    STREAMED,
    TEXT,
    AnyClient,
    chunk,
    receive,
    sent_text,
)
from tests.reliability._server import FaultServer

BOM = b"\xef\xbb\xbf"
SENT = " Once upon a time"
MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_byte_order_mark_keeps_the_first_chunk(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    first, *rest = (event(c) for c in STREAMED)
    fault_server.script(sse_reply([BOM + first, *rest]))
    received = receive(make_client(base_url=fault_server.url), prompt="p")
    assert sent_text(received) == SENT
    assert received.chunks == len(STREAMED)


def test_a_byte_order_mark_split_across_reads_keeps_the_first_chunk(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    first = event(chunk(" Once"))
    pieces = [BOM[:1], BOM[1:2], BOM[2:] + first[:2], first[2:], event(chunk(" upon")), DONE]
    fault_server.script(drip(pieces, 0.05, start=sse_head(), chunked=True, end="keep"))
    received = receive(make_client(base_url=fault_server.url), prompt="p")
    assert sent_text(received) == " Once upon"


@pytest.mark.parametrize(
    "data",
    [b'{"message": "overloaded", "code": 529}', b"overloaded", b"{}"],
    ids=["no-error-key", "not-json", "empty-object"],
)
def test_an_error_event_without_an_error_key_raises(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, data: bytes
) -> None:
    error_event = b"event: error\ndata: " + data + b"\n\n"
    fault_server.script(sse_reply([event(chunk(" Once")), error_event, event(chunk(" upon"))]))
    received = receive(make_client(base_url=fault_server.url), prompt="p")
    assert isinstance(received.error, APIStatusError), received
    assert received.final is None  # the partial text is not passed off as a whole reply
    assert received.texts == {0: " Once"}


UNICODE = " caf\u00e9 \U0001f600 \u2028 na\u00efve"


@pytest.mark.parametrize(
    "content_type",
    [
        "Text/Event-Stream",
        "TEXT/EVENT-STREAM; charset=utf-8",
        "text/event-stream; charset=latin-1",
        "text/event-stream;charset=ISO-8859-1",
    ],
)
def test_event_stream_content_types_are_read_as_utf8(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, content_type: str
) -> None:
    events = [event(chunk(UNICODE)), event(chunk("!", finish="stop"))]
    fault_server.script(sse_reply(events, headers={"Content-Type": content_type}))
    received = receive(make_client(base_url=fault_server.url), prompt="p")
    assert sent_text(received) == UNICODE + "!"
    assert received.chunks == 2


CHAT_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1736924194,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def test_a_chat_stream_answered_with_a_whole_reply_keeps_the_content(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(reply(200, json.dumps(CHAT_REPLY).encode()))
    client = make_client(base_url=fault_server.url)
    chunks, final = read_all(client, "stream_chat", messages=MESSAGES)
    assert [c.text for c in chunks] == ["Hello there"]
    assert final.text == "Hello there"
    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.total_tokens == 3


TOOL_CALLS = [
    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"a": 1}'}},
    {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": '{"b": 2}'}},
]


def test_a_chat_stream_answered_with_a_whole_reply_keeps_each_tool_call(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    # A message's tool calls carry no ``index`` (a delta's do): they were joined into one
    # call with the last one's id and name and both arguments run together.
    message = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    fault_server.script(reply(200, json.dumps({**CHAT_REPLY, "choices": [choice]}).encode()))
    client = make_client(base_url=fault_server.url)
    _, final = read_all(client, "stream_chat", messages=MESSAGES)
    calls = final.choices[0].message.tool_calls
    assert [c.model_dump(exclude_none=True) for c in calls] == TOOL_CALLS
    assert final.choices[0].finish_reason == "tool_calls"


def test_a_completion_stream_answered_with_a_whole_reply_keeps_the_text(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(reply(200, BODY))
    chunks, final = read_all(make_client(base_url=fault_server.url), "stream", prompt="p")
    assert [c.text for c in chunks] == [TEXT]
    assert final.text == TEXT


def _with_bad_bytes(body: Any) -> bytes:
    """``body`` as JSON with its ``@`` characters replaced by bytes that are not UTF-8."""
    return json.dumps(body).encode().replace(b"@", b"\xff\xfe")


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_invalid_utf8_gives_the_same_text_from_complete_and_stream(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Any
) -> None:
    body = {"id": "c", "choices": [{"text": "a@b", "index": 0, "finish_reason": "stop"}]}
    if mode == "complete":
        fault_server.script(reply(200, _with_bad_bytes(body)))
    else:
        fault_server.script(sse_reply([b"data: " + _with_bad_bytes(body) + b"\n\n"]))
    received = receive(make_client(base_url=fault_server.url), mode, prompt="p")
    assert sent_text(received) == "a\ufffd\ufffdb"
