"""A stream ends at ``data: [DONE]``, whatever the server does after it (issue 12.4).

A server that leaves the body open after ``[DONE]``, or keeps sending ``: ping`` comments,
held the loop for the whole read timeout (10 s here; 120 s by default) or for as long as it
pinged (20 s here), measured at 58c7303. Now the loop ends within ``DONE_GRACE`` (0.25 s;
measured 0.25-0.3 s after ``[DONE]``) and that connection is closed, not put back in the
pool: the next call opens a new one. A body that does end after ``[DONE]`` keeps its
connection for the next call, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from completions_sdk._streaming import DONE_GRACE
from tests.reliability._behaviours import DONE, drip, event, reply, sse_head, sse_reply
from tests.reliability._drive import (
    BODY,
    KINDS,
    STREAMED,
    TEXT,
    AnyClient,
    Kind,
    Received,
    over_users_http,
    receive,
    sent_text,
)
from tests.reliability._server import FaultServer

READ_TIMEOUT = 10.0
"""What a call waited before the fix: far above ``DONE_GRACE`` plus the margin."""
MARGIN = 2.5
"""Seconds allowed beyond ``DONE_GRACE`` (and the server's own pacing) on a loaded machine."""
SENT = " Once upon a time"


def _stream(client: AnyClient) -> tuple[Received, float]:
    started = time.monotonic()
    received = receive(client, "stream", prompt="p")
    return received, time.monotonic() - started


def _wait_until_closed(server: FaultServer, seconds: float = 5.0) -> int:
    """The server's open connections once none are left, or after ``seconds``."""
    until = time.monotonic() + seconds
    while server.open_connections and time.monotonic() < until:
        time.sleep(0.01)
    return server.open_connections


def _then_a_call_opens_a_new_connection(client: AnyClient, server: FaultServer) -> None:
    assert _wait_until_closed(server) == 0  # the client closed the connection it left
    assert sent_text(receive(client, "complete", prompt="p")) == TEXT
    assert server.connections == 2


def test_a_body_left_open_after_done_ends_the_stream(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    pieces = [*(event(c) for c in STREAMED), DONE]  # no terminating chunk, then silence
    left_open = drip(pieces, 0, start=sse_head(), chunked=True, end="hang")
    fault_server.script(left_open, reply(200, BODY))
    client = make_client(base_url=fault_server.url, timeout=READ_TIMEOUT)
    received, elapsed = _stream(client)
    assert sent_text(received) == SENT
    assert elapsed < DONE_GRACE + MARGIN, f"took {elapsed:.2f} s after [DONE]"
    _then_a_call_opens_a_new_connection(client, fault_server)


def test_pings_after_done_do_not_hold_the_stream(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    pings = [b": ping\n\n"] * 200  # one every 0.1 s for 20 s, each a fresh read
    pieces = [*(event(c) for c in STREAMED), DONE, *pings]
    pinging = drip(pieces, 0.1, start=sse_head(), chunked=True, end="keep")
    fault_server.script(pinging, reply(200, BODY))
    client = make_client(base_url=fault_server.url, timeout=READ_TIMEOUT)
    received, elapsed = _stream(client)
    assert sent_text(received) == SENT
    paced = 0.1 * len(STREAMED)  # the server's own pacing up to [DONE]
    assert elapsed < paced + DONE_GRACE + MARGIN, f"took {elapsed:.2f} s"
    _then_a_call_opens_a_new_connection(client, fault_server)


@pytest.mark.parametrize("kind", KINDS)
def test_over_a_users_http_client_a_body_left_open_after_done_ends_the_stream(
    fault_server: FaultServer, kind: Kind
) -> None:
    # Its reads are not bounded by the SDK: the connection is closed at [DONE] at once.
    pieces = [*(event(c) for c in STREAMED), DONE]
    left_open = drip(pieces, 0, start=sse_head(), chunked=True, end="hang")
    fault_server.script(left_open, reply(200, BODY))
    options = {"base_url": fault_server.url, "timeout": READ_TIMEOUT}
    with over_users_http(kind, {}, **options) as client:
        received, elapsed = _stream(client)
        assert sent_text(received) == SENT
        assert elapsed < DONE_GRACE + MARGIN, f"took {elapsed:.2f} s after [DONE]"
        _then_a_call_opens_a_new_connection(client, fault_server)


def test_a_body_that_ends_after_done_keeps_its_connection(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(sse_reply(event(c) for c in STREAMED))  # [DONE], then the last chunk
    client = make_client(base_url=fault_server.url, timeout=READ_TIMEOUT)
    assert sent_text(receive(client, "stream", prompt="p")) == SENT
    assert sent_text(receive(client, "stream", prompt="p")) == SENT
    assert (fault_server.count, fault_server.connections) == (2, 1)
    assert fault_server.open_connections == 1
