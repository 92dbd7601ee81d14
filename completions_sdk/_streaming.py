"""``Stream`` and ``AsyncStream``: typed chunk iterators over a reply's server-sent events.

Both open their reply lazily (on entering the ``with`` block, on ``await``, or on the first
``next``), retry only until the first chunk is in hand (after that the user has seen text
and a retry would repeat it), and close the reply when the stream ends, breaks or is
exited. The call's deadline bounds the start, the first chunk included; after it, each read
is bounded by the read timeout. At ``data: [DONE]`` the loop ends: the rest of the body is
read only while it is already there (``DONE_GRACE``), else the connection is closed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
from typing_extensions import Self

from ._assembly import StreamAssembler
from ._body import BodyDecoder, BodyReader, ResponseLimits, aiter_raw, content_encoding, iter_raw
from ._core import PreparedCall
from ._decode import unreadable
from ._error_mapping import transport_error
from ._exceptions import CompletionsError, request_id_from
from ._redaction import Redactor
from ._reply_base import ProxyBody, ProxyReply, Usage
from ._retry import Deadline, async_call_with_retries, call_with_retries
from ._sse import SSEDecoder, UnreadableBody
from ._telemetry import Telemetry
from ._telemetry_record import OFF, CallRecord
from ._transport import bind_expiry, bind_expiry_within, reset_expiry

__all__ = ["AsyncStream", "Stream"]

ChunkT = TypeVar("ChunkT", bound=ProxyBody)
ReplyT = TypeVar("ReplyT", bound=ProxyReply)

DONE_GRACE = 0.25
"""Seconds the rest of a body may take after ``[DONE]`` before its connection is closed.

httpcore reuses a connection only when its reply was read to the end; the proxy ends the
body right after ``[DONE]`` (the chunked terminator usually comes in the same packet), so
this normally costs nothing. A server that keeps the body open, or keeps sending comments,
costs at most this, and its connection is closed rather than reused.
"""
_DONE_READS = 16
"""At most this many reads after ``[DONE]``, for a server that trickles comments."""


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "").lower()


def _interrupted(error: httpx.HTTPError, assembler: StreamAssembler[Any, Any]) -> CompletionsError:
    if isinstance(error, httpx.TimeoutException):
        return transport_error(error, assembler.response.request)
    return assembler.incomplete(str(error) or type(error).__name__)


class _Reading:
    """How a stream reads its reply: size limits, and whether the end may be awaited."""

    __slots__ = ("body", "encoding", "limits", "sse", "wait_for_end")

    def __init__(self, response: httpx.Response, limits: ResponseLimits, *, bounded: bool) -> None:
        self.limits = limits
        self.wait_for_end = bounded
        """Whether reads are bounded by the expiry, so the end of the body may be awaited."""
        self.encoding = content_encoding(response)
        self.body: BodyDecoder | None = None
        self.sse = SSEDecoder(limits.max_event_bytes)

    def events_in(self, raw: bytes) -> list[tuple[bytes, bytes]]:
        if self.body is None:  # made here, so that an unknown coding fails in the loop
            self.body = BodyDecoder(self.encoding)
        if self.body.is_identity:
            return self.sse.feed(raw)
        return [event for piece in self.body.decode(raw) for event in self.sse.feed(piece)]

    def events(self, raw_chunks: Iterable[bytes]) -> Generator[tuple[bytes, bytes], None, None]:
        for raw in raw_chunks:
            yield from self.events_in(raw)
        yield from self.sse.end()

    async def aevents(
        self, raw_chunks: AsyncIterable[bytes]
    ) -> AsyncGenerator[tuple[bytes, bytes], None]:
        async for raw in raw_chunks:
            for event in self.events_in(raw):
                yield event
        for event in self.sse.end():
            yield event


# The chunk generators are functions, not methods: a generator holding ``self`` would make
# a reference cycle, and an abandoned sync stream would then wait for the cycle collector
# instead of closing its connection as soon as the loop drops it.


class _StreamWatch:
    """Shows ``record`` a stream's chunks as they pass and tells it how the stream ended."""

    __slots__ = ("_assembler", "_record", "_seen")

    def __init__(self, record: CallRecord, assembler: StreamAssembler[Any, Any]) -> None:
        self._record = record
        self._assembler = assembler
        self._seen = False

    def __enter__(self) -> _StreamWatch:
        return self

    def chunk(self, chunk: ProxyBody) -> None:
        self._record.chunk(chunk)
        self._seen = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, GeneratorExit):  # its end, or closed by its reader
            self._record.stream_ended(self._assembler, None)
        elif self._seen:  # before the first chunk, the start's retries decide
            self._record.stream_ended(self._assembler, exc)


def _chunks_of(
    assembler: StreamAssembler[ChunkT, ReplyT], reading: _Reading, record: CallRecord
) -> Generator[ChunkT, None, None]:
    """The reply's chunks, each shown to ``record``, which is told how the stream ended.

    One generator, not a telemetry one around this one: at the end of ``asyncio.run`` the
    loop closes every open async generator at once, and a wrapper's close would collide
    with its inner generator's (the async twin's reason; the sync one keeps its shape).
    """
    response = assembler.response
    raw_chunks = iter_raw(response)
    with _StreamWatch(record, assembler) as watch:
        try:
            if not _is_event_stream(response):
                body = BodyReader.for_response(response, reading.limits, error=False)
                for raw in raw_chunks:
                    body.feed(raw)
                whole = assembler.decode_body(body.content())
                watch.chunk(whole)
                yield whole
                return
            events = reading.events(raw_chunks)
            for event in events:
                chunk = assembler.decode(event)
                if assembler.done:
                    events.close()
                    if reading.wait_for_end:
                        _read_to_end(raw_chunks)
                    return
                if chunk is not None:
                    watch.chunk(chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise _interrupted(exc, assembler) from exc
        except UnreadableBody as exc:
            raise unreadable(exc, response) from None
        finally:
            raw_chunks.close()
            response.close()
        raise assembler.incomplete("the connection closed")


def _read_to_end(raw_chunks: Iterator[bytes]) -> None:
    token = bind_expiry_within(DONE_GRACE)
    try:
        with contextlib.suppress(httpx.HTTPError):  # the text is complete: nothing to report
            for _ in itertools.islice(raw_chunks, _DONE_READS):
                pass
    finally:
        reset_expiry(token)


async def _achunks_of(
    assembler: StreamAssembler[ChunkT, ReplyT], reading: _Reading, record: CallRecord
) -> AsyncGenerator[ChunkT, None]:
    """``_chunks_of`` for an async stream."""
    response = assembler.response
    raw_chunks = aiter_raw(response)
    with _StreamWatch(record, assembler) as watch:
        try:
            if not _is_event_stream(response):
                body = BodyReader.for_response(response, reading.limits, error=False)
                async for raw in raw_chunks:
                    body.feed(raw)
                whole = assembler.decode_body(body.content())
                watch.chunk(whole)
                yield whole
                return
            events = reading.aevents(raw_chunks)
            try:
                async for event in events:
                    chunk = assembler.decode(event)
                    if assembler.done:
                        await events.aclose()
                        if reading.wait_for_end:
                            await _aread_to_end(raw_chunks)
                        return
                    if chunk is not None:
                        watch.chunk(chunk)
                        yield chunk
            finally:
                await events.aclose()
        except httpx.HTTPError as exc:
            raise _interrupted(exc, assembler) from exc
        except UnreadableBody as exc:
            raise unreadable(exc, response) from None
        finally:
            await raw_chunks.aclose()
            await response.aclose()
        raise assembler.incomplete("the connection closed")


async def _aread_to_end(raw_chunks: AsyncIterator[bytes]) -> None:
    token = bind_expiry_within(DONE_GRACE)
    try:
        with contextlib.suppress(httpx.HTTPError):
            count = 0
            async for _ in raw_chunks:
                count += 1
                if count >= _DONE_READS:
                    break
    finally:
        reset_expiry(token)


class _StreamBase(Generic[ChunkT, ReplyT]):
    """What both streams share: the call, the assembler, and the helpers built on it."""

    _assembler: StreamAssembler[ChunkT, ReplyT] | None = None

    def __init__(
        self,
        call: PreparedCall[ChunkT, ReplyT],
        *,
        redactor: Redactor,
        limits: ResponseLimits,
        bounded_reads: bool,
        telemetry: Telemetry | None = None,
        settle: Callable[[PreparedCall[Any, Any], Usage | None], None] | None = None,
    ) -> None:
        self._call = call
        self._telemetry = telemetry or Telemetry()
        self._settle = settle
        """Told the stream's usage at its end (the rate limit's token estimate)."""
        self._record: CallRecord = OFF
        self._redactor = redactor
        self._limits = limits
        self._bounded_reads = bounded_reads
        self._between_chunks = call.timeout.read if bounded_reads else None
        """The read timeout bounds the wait for each chunk, comments and pings included."""
        self._first: ChunkT | None = None
        self._failure: CompletionsError | None = None
        """What ended the stream early; raised again by every later read."""

    @property
    def response(self) -> httpx.Response:
        """The HTTP reply (available once the stream has started)."""
        if self._assembler is None:
            raise RuntimeError("The stream has not started: iterate it or enter its context")
        return self._assembler.response

    @property
    def request_id(self) -> str | None:
        """The proxy's request id header, if it sent one."""
        return request_id_from(self.response.headers)

    def _ended(self) -> None:
        """The chunks ran out: at the end of the reply, its usage settles the estimate."""
        settle, self._settle = self._settle, None  # once
        if settle is not None and self._assembler is not None and self._assembler.done:
            settle(self._call, self._assembler.usage)

    def _final(self) -> ReplyT:
        if self._failure is not None:
            raise self._failure
        assert self._assembler is not None
        if not self._assembler.done:  # closed early: what it holds is not the whole reply
            raise self._assembler.incomplete("the stream was closed before it ended")
        return self._assembler.final_reply()

    def __repr__(self) -> str:
        assembler = self._assembler
        if self._failure is not None:
            state = f"failed: {type(self._failure).__name__}"
        elif assembler is None:
            state = "not started"
        else:
            count = assembler.chunks_received
            state = f"{count} chunk{'' if count == 1 else 's'}" + (
                ", done" if assembler.done else ""
            )
        return f"{type(self).__name__}(POST {self._call.endpoint.path}, {state})"

    def _new_assembler(self, response: httpx.Response) -> StreamAssembler[ChunkT, ReplyT]:
        self._assembler = self._call.endpoint.assembler(
            response, redactor=self._redactor, max_choices=self._call.max_choices
        )
        return self._assembler

    def _reading(self, response: httpx.Response) -> _Reading:
        return _Reading(response, self._limits, bounded=self._bounded_reads)


class Stream(_StreamBase[ChunkT, ReplyT]):
    """The chunks of a streamed completion, as an iterator and a context manager.

    Examples:
        >>> with client.stream(model="m", prompt="Tell a story") as stream:
        ...     for text in stream.text_stream:
        ...         print(text, end="", flush=True)
        ...     completion = stream.get_final_completion()
    """

    def __init__(
        self,
        call: PreparedCall[ChunkT, ReplyT],
        open_reply: Callable[[PreparedCall[Any, Any], Deadline], httpx.Response],
        **reading: Any,
    ) -> None:
        super().__init__(call, **reading)
        self._open_reply = open_reply
        self._chunks: Generator[ChunkT, None, None] | None = None

    def _start(self) -> None:
        deadline = Deadline(self._call.deadline_seconds)
        token = bind_expiry(deadline.expires)  # the deadline bounds the first chunk too
        try:
            with self._telemetry.call(self._call) as self._record:  # ends with the chunks
                call_with_retries(self._call.retry, deadline, lambda: self._try_start(deadline))
        except CompletionsError as exc:
            self._failure = exc
            raise
        finally:
            reset_expiry(token)

    def _try_start(self, deadline: Deadline) -> None:
        response = self._open_reply(self._call, deadline)
        assembler = self._new_assembler(response)
        self._chunks = _chunks_of(assembler, self._reading(response), self._record)
        self._first = next(self._chunks, None)  # closes the reply itself on failure

    def __iter__(self) -> Iterator[ChunkT]:
        return self

    def __next__(self) -> ChunkT:
        if self._failure is not None:
            raise self._failure
        if self._chunks is None:
            self._start()
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        assert self._chunks is not None
        token = bind_expiry_within(self._between_chunks) if self._between_chunks else None
        try:
            return next(self._chunks)
        except StopIteration:
            self._ended()
            raise
        except CompletionsError as exc:
            self._failure = exc
            raise
        finally:
            if token is not None:
                reset_expiry(token)

    @property
    def text_stream(self) -> Iterator[str]:
        """The text deltas of choice 0, skipping empty ones."""
        for chunk in self:
            text = chunk.text
            if text:
                yield text

    def get_final_completion(self) -> ReplyT:
        """Read the rest of the stream and return the reply its chunks make."""
        for _ in self:
            pass
        return self._final()

    def close(self) -> None:
        """Stop reading and release the connection."""
        if self._chunks is not None:
            self._chunks.close()
        elif self._assembler is not None:
            self._assembler.response.close()

    def __enter__(self) -> Self:
        if self._chunks is None:
            self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStream(_StreamBase[ChunkT, ReplyT]):
    """The chunks of a streamed completion, as an async iterator and context manager.

    Examples:
        >>> async with client.stream(model="m", prompt="hi") as stream:
        ...     async for chunk in stream:
        ...         print(chunk.text, end="")
    """

    def __init__(
        self,
        call: PreparedCall[ChunkT, ReplyT],
        open_reply: Callable[[PreparedCall[Any, Any], Deadline], Awaitable[httpx.Response]],
        **reading: Any,
    ) -> None:
        super().__init__(call, **reading)
        self._open_reply = open_reply
        self._chunks: AsyncGenerator[ChunkT, None] | None = None

    async def _start(self) -> None:
        deadline = Deadline(self._call.deadline_seconds)
        token = bind_expiry(deadline.expires)  # the deadline bounds the first chunk too
        try:
            with self._telemetry.call(self._call) as self._record:  # ends with the chunks
                await async_call_with_retries(
                    self._call.retry, deadline, lambda: self._try_start(deadline)
                )
        except CompletionsError as exc:
            self._failure = exc
            raise
        finally:
            reset_expiry(token)

    async def _try_start(self, deadline: Deadline) -> None:
        response = await self._open_reply(self._call, deadline)
        assembler = self._new_assembler(response)
        self._chunks = _achunks_of(assembler, self._reading(response), self._record)
        self._first = await anext(self._chunks, None)

    def __aiter__(self) -> AsyncIterator[ChunkT]:
        return self

    async def __anext__(self) -> ChunkT:
        if self._failure is not None:
            raise self._failure
        if self._chunks is None:
            await self._start()
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        assert self._chunks is not None
        token = bind_expiry_within(self._between_chunks) if self._between_chunks else None
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._ended()
            raise
        except CompletionsError as exc:
            self._failure = exc
            raise
        finally:
            if token is not None:
                reset_expiry(token)

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        """The text deltas of choice 0, skipping empty ones."""
        async for chunk in self:
            text = chunk.text
            if text:
                yield text

    async def get_final_completion(self) -> ReplyT:
        """Read the rest of the stream and return the reply its chunks make."""
        async for _ in self:
            pass
        return self._final()

    async def close(self) -> None:
        """Stop reading and release the connection."""
        if self._chunks is not None:
            await self._chunks.aclose()
        elif self._assembler is not None:
            await self._assembler.response.aclose()

    async def __aenter__(self) -> Self:
        if self._chunks is None:
            await self._start()
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        """``stream = await client.stream(...)`` starts the stream and returns it.

        The habit of openai's ``await client.completions.create(..., stream=True)``;
        ``async with`` is still the way to be sure the connection is released.
        """
        return self.__aenter__().__await__()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
