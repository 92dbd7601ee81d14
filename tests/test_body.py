"""Reply bodies decoded with bounded memory (``_body.py``)."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from completions_sdk import ResponseLimits
from completions_sdk._body import PIECE_BYTES, BodyDecoder, BodyReader
from completions_sdk._sse import SizeLimitExceeded, UnreadableBody

BOMB = gzip.compress(b"\0" * (64 * PIECE_BYTES))  # 64 MiB inflated, 64 KiB on the wire


def test_a_gzip_bomb_inflates_in_bounded_slices() -> None:
    pieces = BodyDecoder("gzip").decode(BOMB)
    sizes = [len(next(pieces)) for _ in range(3)]
    assert max(sizes) <= PIECE_BYTES  # nothing inflated beyond one slice at a time
    assert sum(len(piece) for piece in pieces) + sum(sizes) == 64 * PIECE_BYTES


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda data: data),
        ("", lambda data: data),
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ],
)
def test_each_coding_the_client_asks_for(encoding: str, encode: object) -> None:
    body = b'{"choices": []}' * 1000
    reader = BodyReader(encoding, ResponseLimits(), error=False)
    wire = encode(body)  # type: ignore[operator]
    for start in range(0, len(wire), 100):
        reader.feed(wire[start : start + 100])
    assert reader.content() == body


def test_a_coding_it_did_not_ask_for_is_refused() -> None:
    with pytest.raises(UnreadableBody, match="'br' is not one the client asked for"):
        BodyDecoder("br")


def test_a_corrupt_gzip_body_is_unreadable() -> None:
    with pytest.raises(UnreadableBody, match="corrupt"):
        list(BodyDecoder("gzip").decode(b"not gzip at all"))


def test_a_reply_body_past_its_limit_raises_naming_the_setting() -> None:
    reader = BodyReader("gzip", ResponseLimits(max_body_bytes=PIECE_BYTES), error=False)
    with pytest.raises(SizeLimitExceeded, match=r"max_body_bytes.*ResponseLimits\("):
        reader.feed(BOMB)


def test_a_declared_length_past_the_limit_fails_before_reading() -> None:
    limits = ResponseLimits(max_body_bytes=10)

    def declared(length: int) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": str(length)}, stream=httpx.ByteStream(b"")
        )

    with pytest.raises(SizeLimitExceeded, match="max_body_bytes"):
        BodyReader.for_response(declared(11), limits, error=False)
    BodyReader.for_response(declared(10), limits, error=False)


def test_an_error_body_past_its_limit_is_cut_there() -> None:
    reader = BodyReader("", ResponseLimits(max_error_body_bytes=5), error=True)
    assert reader.feed(b"abc")
    assert not reader.feed(b"defgh")  # complete: the rest is not read
    assert reader.content() == b"abcde"


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "1"])
def test_limits_are_positive_ints(value: object) -> None:
    with pytest.raises(ValueError, match="max_event_bytes must be a positive int"):
        ResponseLimits(max_event_bytes=value)  # type: ignore[arg-type]
