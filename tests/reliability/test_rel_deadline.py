"""``deadline`` bounds a call's wall-clock time, whatever the server does (issue 12.2).

A server that sends one byte every 0.2 s never lets a read time out: before the fix, each
read's timeout was the only bound, and these calls lasted as long as the server trickled
(~20 s here, measured at 58c7303: 19.9-22.7 s and then a *success*). Now each one raises
``APITimeoutError`` by the deadline (1.5 s; measured 1.5-1.6 s). The margins are generous
(deadline + 3 s): the point is 1.5 s against 20 s, not the milliseconds.

Once the first chunk is in hand, the deadline no longer applies: each later read is bounded
by the read timeout (docs/configuration.md, "Deadline").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from completions_sdk import APITimeoutError
from tests.reliability._behaviours import (
    DONE,
    drip,
    event,
    head,
    sse_head,
    trickle,
)
from tests.reliability._drive import (
    STREAMED,
    AnyClient,
    Mode,
    Received,
    chunk,
    expect,
    receive,
    sent_text,
)
from tests.reliability._server import FaultServer

DEADLINE = 1.5
MARGIN = 3.0
"""Seconds past the deadline a call may take on a loaded machine (the old code took ~20 s)."""
TRICKLE_BYTES = 100
"""Bytes trickled at 0.2 s each: ~20 s, which the deadline must cut to 1.5 s."""


def _padded_completion() -> bytes:
    """A valid completion body of exactly ``TRICKLE_BYTES`` bytes."""
    empty = json.dumps({"id": "t", "choices": [{"text": "", "index": 0}]})
    text = "x" * (TRICKLE_BYTES - len(empty))
    return json.dumps({"id": "t", "choices": [{"text": text, "index": 0}]}).encode()


def _padded_event() -> bytes:
    """One stream event (a chunk) and ``[DONE]``, ``TRICKLE_BYTES`` bytes together."""
    empty = event(chunk("")) + DONE
    return event(chunk("x" * (TRICKLE_BYTES - len(empty)))) + DONE


def _timed(client: AnyClient, mode: Mode, **arguments: Any) -> tuple[Received, float]:
    started = time.monotonic()
    received = receive(client, mode, **arguments)
    return received, time.monotonic() - started


def _expect_deadline(received: Received, elapsed: float, server: FaultServer) -> None:
    expect(received, APITimeoutError)
    assert received.chunks == 0
    assert elapsed < DEADLINE + MARGIN, f"took {elapsed:.1f} s with deadline={DEADLINE}"
    assert server.count >= 1  # the server was reached: it is the trickle that was cut


def test_trickled_body_is_cut_at_the_deadline(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    body = _padded_completion()
    start = head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    fault_server.script(trickle(body, start=start))
    client = make_client(base_url=fault_server.url, timeout=3, deadline=DEADLINE)
    received, elapsed = _timed(client, "complete", prompt="p")
    _expect_deadline(received, elapsed, fault_server)


def test_trickled_headers_are_cut_at_the_deadline(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    body = b'{"choices": [{"text": "late", "index": 0}]}'
    reply = head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    whole = reply + body
    assert len(whole) >= TRICKLE_BYTES
    fault_server.script(trickle(whole))  # the status line itself comes a byte at a time
    client = make_client(base_url=fault_server.url)  # the deadline given per call
    received, elapsed = _timed(client, "complete", prompt="p", timeout=3, deadline=DEADLINE)
    _expect_deadline(received, elapsed, fault_server)


def test_trickled_first_chunk_is_cut_at_the_deadline(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    fault_server.script(trickle(_padded_event(), start=sse_head(chunked=False)))
    client = make_client(base_url=fault_server.url)  # the deadline given per call
    received, elapsed = _timed(client, "stream", prompt="p", timeout=3, deadline=DEADLINE)
    _expect_deadline(received, elapsed, fault_server)


def test_keep_alives_before_the_first_chunk_are_cut_at_the_deadline(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    keep_alives = [b": keep-alive\n\n"] * TRICKLE_BYTES
    pieces = [*keep_alives, event(chunk("late")), DONE]
    fault_server.script(drip(pieces, 0.2, start=sse_head(), chunked=True, end="keep"))
    client = make_client(base_url=fault_server.url, timeout=3, deadline=DEADLINE)
    received, elapsed = _timed(client, "stream", prompt="p")
    _expect_deadline(received, elapsed, fault_server)


# ---------------------------------------------------------------- after the first chunk


def test_chunks_after_the_first_may_outlast_the_deadline(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    # The documented semantics: the deadline covers the start; a stream that keeps
    # delivering within the read timeout runs past it.
    pieces = [event(c) for c in STREAMED] + [event(chunk(" end")), event(chunk(".")), DONE]
    fault_server.script(drip(pieces, 0.3, start=sse_head(), chunked=True, end="keep"))
    client = make_client(base_url=fault_server.url, timeout=3, deadline=1.0)
    received, elapsed = _timed(client, "stream", prompt="p")
    assert sent_text(received) == " Once upon a time end."
    assert elapsed > 1.0  # five gaps of 0.3 s: the stream did run past the deadline
    assert fault_server.count == 1


def test_a_stall_after_the_first_chunk_is_cut_by_the_read_timeout(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    first_then_silence = drip(
        [event(chunk(" Once"))], 0, start=sse_head(), chunked=True, end="hang"
    )
    fault_server.script(first_then_silence)
    client = make_client(base_url=fault_server.url, timeout=0.5, deadline=60)
    received, elapsed = _timed(client, "stream", prompt="p")
    expect(received, APITimeoutError)
    assert received.texts == {0: " Once"}
    assert elapsed < 0.5 + MARGIN  # the read timeout, far from the 60 s deadline
    assert fault_server.count == 1  # text was delivered: never retried


def test_pings_after_the_first_chunk_do_not_stretch_the_wait_for_the_next(
    make_client: Callable[..., AnyClient], fault_server: FaultServer
) -> None:
    # The read timeout is the longest wait between two chunks: a server that sends one
    # chunk, then only comments, would reset a per-read timeout for ever (~20 s here).
    pings = [event(chunk(" Once"))] + [b": ping\n\n"] * 100
    fault_server.script(drip(pings, 0.2, start=sse_head(), chunked=True, end="hang"))
    client = make_client(base_url=fault_server.url, timeout=1.0, deadline=60)
    received, elapsed = _timed(client, "stream", prompt="p")
    expect(received, APITimeoutError)
    assert received.texts == {0: " Once"}
    assert elapsed < 1.0 + MARGIN, f"took {elapsed:.1f} s with a 1 s read timeout"
    assert fault_server.count == 1  # text was delivered: never retried
