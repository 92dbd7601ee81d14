"""Reply bodies decoded with bounded memory (no I/O): content codings and size limits.

httpx inflates each network read whole, so half a megabyte of gzip can become hundreds of
megabytes before anyone counts. The SDK reads the raw bytes instead and inflates them here
in slices of at most ``PIECE_BYTES``, so that a limit is checked before memory is spent.
It asks for ``gzip`` and ``deflate`` only (``_headers.ACCEPT_ENCODING``); a reply in any
other coding is refused with a clear error rather than read as garbage.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, Generator, Iterator
from dataclasses import dataclass
from typing import cast

import httpx

from ._headers import ACCEPT_ENCODING
from ._sse import SizeLimitExceeded, UnreadableBody

__all__ = [
    "PIECE_BYTES",
    "BodyDecoder",
    "BodyReader",
    "ResponseLimits",
    "aiter_raw",
    "content_encoding",
    "iter_raw",
]

PIECE_BYTES = 1 << 20
"""The most a single inflate step may produce."""
_MIB = 1 << 20
_IDENTITY = ("", "identity")


@dataclass(frozen=True)
class ResponseLimits:
    """How much of a reply the client keeps in memory; larger replies fail clearly.

    The defaults are far above what the proxy's replies hold (a long completion with
    logprobs is a few megabytes) and far below what would hurt a worker.

    Attributes:
        max_body_bytes: the decoded body of a reply that is not streamed.
        max_error_body_bytes: the decoded body of an error reply.
        max_event_bytes: one server-sent event of a stream (so one line of it, too).
    """

    max_body_bytes: int = 64 * _MIB
    max_error_body_bytes: int = 1 * _MIB
    max_event_bytes: int = 8 * _MIB

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_error_body_bytes", "max_event_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int of bytes, got {value!r}")


class BodyDecoder:
    """Raw body bytes in, decoded pieces out, for one ``Content-Encoding`` header."""

    __slots__ = ("_decoders",)

    def __init__(self, content_encoding: str) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",")]
        self._decoders = [_inflater(name) for name in reversed(names) if name not in _IDENTITY]

    @property
    def is_identity(self) -> bool:
        """Whether the body is sent as it is (no inflating to do)."""
        return not self._decoders

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``raw``, each at most ``PIECE_BYTES``."""
        pieces: Iterator[bytes] = iter((raw,))
        for decoder in self._decoders:
            pieces = _inflate(decoder, pieces)
        return pieces


class _Inflater:
    __slots__ = ("_deflate", "_zlib")

    def __init__(self, wbits: int, *, deflate: bool) -> None:
        self._zlib = zlib.decompressobj(wbits)
        self._deflate = deflate  # "deflate" may be zlib-wrapped or raw (RFC 9110 8.4.1.2)

    def inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            while data:
                piece = self._zlib.decompress(data, PIECE_BYTES)
                data = self._zlib.unconsumed_tail
                if piece:
                    yield piece
        except zlib.error as exc:
            if not self._deflate:
                raise UnreadableBody(f"The reply's compressed body is corrupt: {exc}") from None
            self._zlib, self._deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
            yield from self.inflate(data)


def _inflater(name: str) -> _Inflater:
    if name in ("gzip", "x-gzip"):
        return _Inflater(zlib.MAX_WBITS | 16, deflate=False)
    if name == "deflate":
        return _Inflater(zlib.MAX_WBITS, deflate=True)
    raise UnreadableBody(
        f"The reply's Content-Encoding {name!r} is not one the client asked for "
        f"(Accept-Encoding: {ACCEPT_ENCODING})"
    )


def _inflate(decoder: _Inflater, pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.inflate(piece)


class BodyReader:
    """Collects a whole body, failing as soon as it exceeds its limit of decoded bytes.

    ``setting`` names the ``ResponseLimits`` field that holds the limit.
    """

    __slots__ = ("_decoder", "_limit", "_parts", "_setting", "_size", "_what")

    def __init__(self, content_encoding: str, limits: ResponseLimits, *, error: bool) -> None:
        self._decoder = BodyDecoder(content_encoding)
        self._setting = "max_error_body_bytes" if error else "max_body_bytes"
        self._what = "the error reply's body" if error else "the reply's body"
        self._limit: int = getattr(limits, self._setting)
        self._parts: list[bytes] = []
        self._size = 0

    @classmethod
    def for_response(
        cls, response: httpx.Response, limits: ResponseLimits, *, error: bool
    ) -> BodyReader:
        """A reader for ``response``'s body; fails at once on a declared length past the limit."""
        reader = cls(content_encoding(response), limits, error=error)
        length = response.headers.get("content-length")
        if length and length.isdigit() and reader._decoder.is_identity:
            reader._count(int(length))
        return reader

    def feed(self, raw: bytes) -> bool:
        """Take the next raw bytes of the body; ``False`` once an error body is complete.

        An error body past its limit is cut there (its status says what went wrong);
        a reply body past its limit raises ``SizeLimitExceeded``.
        """
        for piece in self._decoder.decode(raw):
            if self._size + len(piece) > self._limit:
                self._count(self._size + len(piece))
                self._parts.append(piece[: self._limit - self._size])
                self._size = self._limit
                return False
            self._size += len(piece)
            self._parts.append(piece)
        return True

    def _count(self, size: int) -> None:
        if size > self._limit and self._setting == "max_body_bytes":
            raise SizeLimitExceeded(self._what, self._setting, self._limit)

    def content(self) -> bytes:
        """The decoded body."""
        return self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)


# A transport may hand over a body it has read already (``httpx.MockTransport`` with
# ``httpx.Response(json=...)``): httpx then holds it decoded, and ``iter_raw`` refuses.


def content_encoding(response: httpx.Response) -> str:
    """The coding of the bytes ``iter_raw`` gives (none for a body httpx already read)."""
    return "" if response.is_stream_consumed else response.headers.get("content-encoding", "")


def iter_raw(response: httpx.Response) -> Generator[bytes, None, None]:
    """The body's bytes as they came (or as httpx holds them, if it read them already)."""
    if response.is_stream_consumed:
        yield response.content
    else:
        yield from response.iter_raw()


async def aiter_raw(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """``iter_raw`` for an async response."""
    if response.is_stream_consumed:
        yield response.content
        return
    raw_chunks = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    try:
        async for raw in raw_chunks:
            yield raw
    finally:  # an async for leaves it to the loop's finalizer otherwise
        await raw_chunks.aclose()
