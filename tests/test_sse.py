"""The SDK's own server-sent event decoder (``_sse.py``): the WHATWG parsing rules, bounded."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from completions_sdk._sse import SizeLimitExceeded, SSEDecoder

STREAM = (
    b'data: {"text":"a"}\n\n'
    b": keep-alive\n\n"
    b"event: error\ndata: oops\n\n"
    b"id: 7\nretry: 10\n\n"
    b"data: one\ndata:two\ndata\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = [
    (b"", b'{"text":"a"}'),
    (b"error", b"oops"),
    (b"", b"one\ntwo\n"),
    (b"", b"[DONE]"),
]


def decode(*chunks: bytes, limit: int = 1 << 20) -> list[tuple[bytes, bytes]]:
    decoder = SSEDecoder(limit)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.end()


def test_events_fields_comments_and_multi_line_data() -> None:
    assert decode(STREAM) == EVENTS


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_the_standard_allows(newline: bytes) -> None:
    assert decode(STREAM.replace(b"\n", newline)) == EVENTS


@given(st.data())
def test_any_split_into_chunks_gives_the_same_events(data: st.DataObject) -> None:
    stream = data.draw(st.sampled_from([STREAM, STREAM.replace(b"\n", b"\r\n")]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(*chunks) == EVENTS


def test_a_byte_order_mark_at_the_start_is_dropped_even_split() -> None:
    body = b"\xef\xbb\xbfdata: x\n\n"
    assert decode(body) == [(b"", b"x")]
    assert decode(body[:1], body[1:2], body[2:]) == [(b"", b"x")]
    assert decode(b"data: \xef\xbb\xbfx\n\n") == [(b"", b"\xef\xbb\xbfx")]  # only at the start


def test_unicode_line_separators_inside_data_are_not_line_ends() -> None:
    text = "a\u2028b\u2029c\u0085d\x0be\x0cf".encode()
    assert decode(b"data: " + text + b"\n\n") == [(b"", text)]


def test_an_event_cut_by_the_end_of_the_body_is_dropped() -> None:
    assert decode(b"data: whole\n\ndata: cut") == [(b"", b"whole")]
    assert decode(b"data: whole\r\r") == [(b"", b"whole")]  # a last CR ends its line


@pytest.mark.parametrize(
    "body",
    [
        b"data: " + b"x" * 2000,  # one line without a line end
        b"data: " + b"x" * 200 + b"\n" + b"data: y\n" * 300,  # data lines, no blank line
        b": " + b"c" * 2000 + b"\n",  # a comment counts too
    ],
)
def test_an_event_past_its_limit_raises_naming_the_setting(body: bytes) -> None:
    with pytest.raises(SizeLimitExceeded, match="max_event_bytes"):
        decode(body, limit=1024)


def test_many_small_events_never_reach_the_limit() -> None:
    assert len(decode(b"data: x\n\n" * 10_000, limit=64)) == 10_000
    assert decode(b": ping\n\n" * 10_000, limit=64) == []


def test_a_long_line_in_many_reads_is_limited_and_decoded_whole() -> None:
    pieces = [b"data: ", *([b"x" * 100] * 30)]
    with pytest.raises(SizeLimitExceeded, match="max_event_bytes"):
        decode(*pieces, limit=1024)
    assert decode(*pieces, b"\r", b"\n\n", limit=4096) == [(b"", b"x" * 3000)]
    assert decode(*pieces, b"\r", b"\r", limit=4096) == [(b"", b"x" * 3000)]


def test_a_long_line_costs_linear_time_in_its_reads() -> None:
    # Joining the pending bytes at every read copied the line once per read: a 32 MiB line
    # in 8 KiB reads (4,096 copies of 16 MiB on average) did not end within 60 s; now 0.2 s.
    size = 32 << 20
    line = b"data: " + b"y" * size
    decoder = SSEDecoder(64 << 20)
    started = time.process_time()
    for start in range(0, len(line), 8192):
        assert decoder.feed(line[start : start + 8192]) == []
    assert decoder.feed(b"\n\n") == [(b"", b"y" * size)]
    assert time.process_time() - started < 3  # 30x room either way on a loaded machine
