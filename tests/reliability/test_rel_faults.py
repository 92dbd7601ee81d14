"""Faults over real loopback sockets: the exact error and the exact number of attempts,
for connections that are refused, reset, cut, silent or answered with garbage, and for
gzip-encoded replies. Sync and async run each body.

The retry policy is the default one (``max_retries=2``: three attempts for a retryable
fault) with a recording sleep, so nothing here really waits between attempts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
)
from tests._support import fixture_bytes
from tests.reliability._behaviours import event, hang, raw, reply, reset, sse_reply
from tests.reliability._drive import (
    ATTEMPTS,
    BODY,
    MODES,
    SHORT,
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

# ---------------------------------------------------------------- connection level


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused(
    make_client: Callable[..., AnyClient], closed_port: int, sleeps: list[float], mode: Mode
) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}")
    expect(receive(client, mode), APIConnectionError)
    assert len(sleeps) == ATTEMPTS - 1


@pytest.mark.parametrize("mode", MODES)
def test_reset_before_any_response(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(reset())
    client = make_client(base_url=fault_server.url)
    expect(receive(client, mode), APIConnectionError)
    assert len(fault_server.requests) == ATTEMPTS


@pytest.mark.parametrize("mode", MODES)
def test_two_resets_then_a_reply(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    good = sse_reply(event(c) for c in STREAMED) if mode == "stream" else reply(200, BODY)
    fault_server.script(reset(), reset(), good)
    received = receive(make_client(base_url=fault_server.url), mode)
    assert sent_text(received) == (" Once upon a time" if mode == "stream" else TEXT)
    assert len(fault_server.requests) == ATTEMPTS


@pytest.mark.parametrize("end", ["reset", "close", "hang"])
def test_json_reply_cut_mid_body(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, end: Any
) -> None:
    # The headers promise the whole body; a third of it arrives, then the connection dies.
    fault_server.script(reply(200, BODY[: len(BODY) // 3], content_length=len(BODY), end=end))
    client = make_client(base_url=fault_server.url, **({"timeout": SHORT} if end == "hang" else {}))
    expect(receive(client, "complete"), APITimeoutError if end == "hang" else APIConnectionError)
    assert len(fault_server.requests) == ATTEMPTS


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("framing", ["content-length", "connection-close"])
def test_reply_truncated_inside_a_json_value(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, framing: str, mode: Mode
) -> None:
    # A complete HTTP message whose JSON stops inside a string: a bad reply, not a
    # transport fault, so it is not retried.
    cut = BODY[: BODY.index(b"bicycle")]
    if framing == "content-length":
        fault_server.script(reply(200, cut))
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        fault_server.script(raw(head + cut))
    received = receive(make_client(base_url=fault_server.url), mode)
    assert "not a completion" in str(expect(received, APIResponseValidationError)).lower()
    assert len(fault_server.requests) == 1


GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    + b"<!-- padding -->\r\n" * 200
    + b"</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize("mode", MODES)
def test_html_502_from_a_gateway(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(reply(502, GATEWAY_PAGE, {"Content-Type": "text/html"}))
    error = expect(receive(make_client(base_url=fault_server.url), mode), InternalServerError)
    assert error.status_code == 502
    assert str(error).startswith("502 Bad Gateway: <html>")
    assert len(str(error)) < 1100  # the page is cut, not pasted whole into the message
    assert len(fault_server.requests) == ATTEMPTS


@pytest.mark.parametrize("mode", MODES)
def test_200_with_a_body_that_is_not_json(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(reply(200, b"<html>Service OK</html>", {"Content-Type": "text/html"}))
    error = expect(
        receive(make_client(base_url=fault_server.url), mode), APIResponseValidationError
    )
    assert error.response is not None and error.response.status_code == 200
    assert len(fault_server.requests) == 1


def test_an_event_stream_with_no_events_and_no_end_is_retried(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    # A 200 event stream that ends cleanly without one event or [DONE]: nothing was
    # delivered, so each attempt is retried, then the break is reported.
    fault_server.script(sse_reply([b"hello, not an event\n\n"], done=False, end="close"))
    error = expect(receive(make_client(base_url=fault_server.url)), IncompleteStreamError)
    assert (error.chunks_received, error.partial_texts) == (0, {})
    assert len(fault_server.requests) == ATTEMPTS


# ---------------------------------------------------------------- gzip


def test_gzip_json_reply(make_client: Callable[..., AnyClient], fault_server: FaultServer) -> None:
    fault_server.script(reply(200, fixture_bytes("completion-as-served.json"), gzip=True))
    received = receive(make_client(base_url=fault_server.url), "complete")
    assert sent_text(received) == TEXT
    assert received.final is not None and received.final.policy_detections is not None


def test_gzip_event_stream(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    events = [event(chunk(f" w{i}\u00e9\U0001f600", index=i % 3)) for i in range(60)]
    fault_server.script(sse_reply(events, gzip=True))
    received = receive(make_client(base_url=fault_server.url))
    assert received.error is None
    assert received.texts == {
        c: "".join(f" w{i}\u00e9\U0001f600" for i in range(c, 60, 3)) for c in range(3)
    }


def test_gzip_error_body(make_client: Callable[..., AnyClient], fault_server: FaultServer) -> None:
    body = json.dumps({"error": {"message": "bad prompt", "type": "invalid_request"}}).encode()
    fault_server.script(reply(400, body, gzip=True))
    error = expect(receive(make_client(base_url=fault_server.url), "complete"), BadRequestError)
    assert "bad prompt" in str(error) and error.error_type == "invalid_request"


# ---------------------------------------------------------------- timeouts


@pytest.mark.parametrize("mode", MODES)
def test_connect_timeout(
    make_client: Callable[..., AnyClient], unaccepting_port: int, sleeps: list[float], mode: Mode
) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{unaccepting_port}", timeout=SHORT)
    assert "connect timeout" in str(expect(receive(client, mode), APITimeoutError))
    assert len(sleeps) == ATTEMPTS - 1


@pytest.mark.parametrize("mode", MODES)
def test_read_timeout_when_the_server_never_answers(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(hang())
    client = make_client(base_url=fault_server.url, timeout=SHORT)
    assert "read timeout" in str(expect(receive(client, mode), APITimeoutError))
    assert len(fault_server.requests) == ATTEMPTS


def test_read_timeout_after_the_first_event_is_not_retried(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(sse_reply([event(chunk(" Once"))], done=False, end="hang"))
    received = receive(make_client(base_url=fault_server.url, timeout=SHORT))
    assert "read timeout" in str(expect(received, APITimeoutError))
    assert received.texts == {0: " Once"}
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_deadline_bounds_the_whole_call(
    make_client: Callable[..., AnyClient], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(hang())
    client = make_client(base_url=fault_server.url, timeout=5.0, deadline=0.3)
    started = time.monotonic()
    expect(receive(client, mode), APITimeoutError)
    assert time.monotonic() - started < 2.0
    assert len(fault_server.requests) == 1  # no time left for a retry
