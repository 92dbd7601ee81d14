"""Streams cut short over real sockets: exactly the text sent is received, a stream is
retried only while nothing was delivered, and a finished stream frees its connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk import IncompleteStreamError, InternalServerError
from tests.reliability._behaviours import event, json_reply, reply, sse_reply
from tests.reliability._drive import (
    ATTEMPTS,
    BODY,
    MODES,
    STREAMED,
    TEXT,
    AnyClient,
    Mode,
    chunk,
    expect,
    receive,
    sent_text,
)
from tests.reliability._server import FaultServer

# ---------------------------------------------------------------- streams cut short

STREAM_ENDS = ["reset", "close"]


@pytest.mark.parametrize("end", STREAM_ENDS)
def test_stream_cut_after_0_events_is_retried(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, end: Any
) -> None:
    cut = sse_reply([b": keep-alive\n\n", b"id: 1\n\n"], done=False, end=end)
    fault_server.script(cut, sse_reply(event(c) for c in STREAMED))
    received = receive(make_client(base_url=fault_server.url))
    assert received.texts == {0: " Once upon a time"}
    assert received.chunks == 3
    assert len(fault_server.requests) == 2


@pytest.mark.parametrize("end", STREAM_ENDS)
def test_stream_always_cut_after_0_events(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, end: Any
) -> None:
    fault_server.script(sse_reply([b": keep-alive\n\n"], done=False, end=end))
    error = expect(receive(make_client(base_url=fault_server.url)), IncompleteStreamError)
    assert (error.chunks_received, error.partial_texts) == (0, {})
    assert len(fault_server.requests) == ATTEMPTS


def _cut_after(events: list[dict[str, Any]], end: Any) -> Callable[..., Any]:
    return sse_reply([event(e) for e in events], done=False, end=end)


@pytest.mark.parametrize("end", STREAM_ENDS)
def test_stream_cut_after_1_event_is_never_retried(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, end: Any
) -> None:
    fault_server.script(_cut_after([chunk(" Once")], end))
    received = receive(make_client(base_url=fault_server.url))
    error = expect(received, IncompleteStreamError)
    assert error.partial_texts == received.texts == {0: " Once"}
    assert error.chunks_received == received.chunks == 1
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("end", STREAM_ENDS)
def test_stream_cut_after_many_events_is_never_retried(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, end: Any
) -> None:
    pieces = [(i % 3, f" t{i}\u00e9\U0001f600\n") for i in range(300)]
    fault_server.script(_cut_after([chunk(text, index) for index, text in pieces], end))
    received = receive(make_client(base_url=fault_server.url))
    error = expect(received, IncompleteStreamError)
    sent = {c: "".join(text for index, text in pieces if index == c) for c in range(3)}
    assert error.partial_texts == received.texts == sent
    assert error.chunks_received == received.chunks == 300
    assert len(fault_server.requests) == 1


# ---------------------------------------------------------------- resources


def test_a_finished_stream_gives_its_connection_back(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(sse_reply(event(c) for c in STREAMED))
    client = make_client(base_url=fault_server.url)
    for _ in range(5):
        assert receive(client).texts == {0: " Once upon a time"}
    assert (len(fault_server.requests), fault_server.connections) == (5, 1)


@pytest.mark.parametrize("mode", MODES)
def test_error_replies_and_completions_reuse_one_connection(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(json_reply({"error": "busy"}, 503), reply(200, BODY))
    client = make_client(base_url=fault_server.url, max_retries=0)
    expect(receive(client, mode), InternalServerError)
    for _ in range(3):
        assert sent_text(receive(client, "complete")) == TEXT
    assert (len(fault_server.requests), fault_server.connections) == (4, 1)
