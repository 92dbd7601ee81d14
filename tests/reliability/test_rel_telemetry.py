"""Telemetry over the raw scripted server: a 500 then a 200 is one span with one retry
event, and a stream cut by a reset after its first chunks ends its span in error.
Each test body runs for the sync and the async client (``make_client``).
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import StatusCode

from completions_sdk import IncompleteStreamError
from tests._support import API_KEY
from tests._support.telemetry import Recorded
from tests.reliability._behaviours import drip, event, json_reply, sse_head
from tests.reliability._drive import AnyClient, expect, receive, sent_text
from tests.reliability._server import FaultServer

REPLY = {
    "id": "cmpl-1",
    "model": "m-1",
    "choices": [{"index": 0, "text": "hi", "finish_reason": "stop"}],
}
REPLY["usage"] = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}


def test_a_500_then_a_200_is_one_span_with_a_retry_event(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, sleeps: list[float]
) -> None:
    recorded = Recorded()
    fault_server.script(json_reply({"error": "oops"}, 500), json_reply(REPLY))
    client = make_client(base_url=fault_server.url, **recorded.providers())
    assert sent_text(receive(client, "complete")) == "hi"
    span = recorded.span()
    assert span.status.status_code is StatusCode.UNSET
    retries = [dict(e.attributes or {}) for e in span.events if e.name == "enkrypt_ai.retry"]
    assert retries == [
        {"enkrypt_ai.retry.attempt": 1, "error.type": "500", "enkrypt_ai.retry.wait": sleeps[0]}
    ]
    assert span.attributes["gen_ai.response.id"] == "cmpl-1"
    assert span.attributes["gen_ai.usage.input_tokens"] == 3
    assert len(fault_server.requests) == 2
    assert API_KEY not in recorded.strings()


def test_a_stream_reset_after_two_chunks_ends_its_span_in_error(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    recorded = Recorded()
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "text": "a"}]}
    fault_server.script(drip([event(chunk), event(chunk)], 0.0, start=sse_head(chunked=False)))
    client = make_client(base_url=fault_server.url, **recorded.providers())
    expect(receive(client, "stream", n=1), IncompleteStreamError)
    span = recorded.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "IncompleteStreamError"
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert not [e for e in span.events if e.name == "enkrypt_ai.retry"]  # never after a chunk
    assert len(fault_server.requests) == 1
