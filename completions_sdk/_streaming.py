"""``Stream`` and ``AsyncStream``: typed chunk iterators over httpx-sse.

Both open their reply lazily (on entering the ``with`` block or on the first ``next``),
retry only until the first chunk is in hand (after that the user has seen text and a
retry would repeat it), and close the reply when the stream ends, breaks or is exited.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent
from typing_extensions import Self

from ._assembly import StreamAssembler
from ._core import PreparedCall
from ._errors import transport_error
from ._exceptions import CompletionsError, request_id_from
from ._models import ReplyEnvelope
from ._retry import Deadline, async_call_with_retries, call_with_retries

__all__ = ["AsyncStream", "Stream"]

ChunkT = TypeVar("ChunkT", bound=ReplyEnvelope)
ReplyT = TypeVar("ReplyT", bound=ReplyEnvelope)


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


_DRAIN_EVENTS = 16
"""How many events after ``[DONE]`` are read (and dropped) to reach the end of the body.

httpcore reuses a connection only when its reply was read to the end; the proxy ends the
body right after ``[DONE]``, so this normally reads just the chunked terminator. The bound
keeps a server that goes on sending from holding the stream open.
"""


def _drain(events: Iterator[ServerSentEvent]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the text is complete: nothing to report
        for _ in itertools.islice(events, _DRAIN_EVENTS):
            pass


async def _adrain(events: AsyncIterator[ServerSentEvent]) -> None:
    with contextlib.suppress(httpx.HTTPError):
        count = 0
        async for _ in events:
            count += 1
            if count >= _DRAIN_EVENTS:
                break


def _interrupted(error: httpx.HTTPError, assembler: StreamAssembler[Any, Any]) -> CompletionsError:
    if isinstance(error, httpx.TimeoutException):
        return transport_error(error, assembler.response.request)
    return assembler.incomplete(str(error) or type(error).__name__)


# The chunk generators are functions, not methods: a generator holding ``self`` would make
# a reference cycle, and an abandoned sync stream would then wait for the cycle collector
# instead of closing its connection as soon as the loop drops it.


def _chunks_of(assembler: StreamAssembler[ChunkT, ReplyT]) -> Generator[ChunkT, None, None]:
    response = assembler.response
    try:
        if not _is_event_stream(response):
            yield assembler.decode_body(response.read())
            return
        events = EventSource(response).iter_sse()
        for event in events:
            chunk = assembler.decode(event)
            if assembler.done:
                _drain(events)
                return
            if chunk is not None:
                yield chunk
    except httpx.HTTPError as exc:
        raise _interrupted(exc, assembler) from exc
    finally:
        response.close()
    raise assembler.incomplete("the connection closed")


async def _achunks_of(
    assembler: StreamAssembler[ChunkT, ReplyT],
) -> AsyncGenerator[ChunkT, None]:
    response = assembler.response
    try:
        if not _is_event_stream(response):
            yield assembler.decode_body(await response.aread())
            return
        # Closed here, not by the loop's finalizer later (an async for does not close it).
        async with contextlib.aclosing(EventSource(response).aiter_sse()) as events:
            async for event in events:
                chunk = assembler.decode(event)
                if assembler.done:
                    await _adrain(events)
                    return
                if chunk is not None:
                    yield chunk
    except httpx.HTTPError as exc:
        raise _interrupted(exc, assembler) from exc
    finally:
        await response.aclose()
    raise assembler.incomplete("the connection closed")


class _StreamBase(Generic[ChunkT, ReplyT]):
    """What both streams share: the call, the assembler, and the helpers built on it."""

    _assembler: StreamAssembler[ChunkT, ReplyT] | None = None

    def __init__(self, call: PreparedCall[ChunkT, ReplyT], *, secret: str) -> None:
        self._call = call
        self._secret = secret
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
        self._assembler = self._call.endpoint.assembler(response, secret=self._secret)
        return self._assembler


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
        *,
        secret: str,
    ) -> None:
        super().__init__(call, secret=secret)
        self._open_reply = open_reply
        self._chunks: Generator[ChunkT, None, None] | None = None

    def _start(self) -> None:
        deadline = Deadline(self._call.deadline)
        try:
            call_with_retries(self._call.retry, deadline, lambda: self._try_start(deadline))
        except CompletionsError as exc:
            self._failure = exc
            raise

    def _try_start(self, deadline: Deadline) -> None:
        response = self._open_reply(self._call, deadline)
        self._chunks = _chunks_of(self._new_assembler(response))
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
        try:
            return next(self._chunks)
        except CompletionsError as exc:
            self._failure = exc
            raise

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
        *,
        secret: str,
    ) -> None:
        super().__init__(call, secret=secret)
        self._open_reply = open_reply
        self._chunks: AsyncGenerator[ChunkT, None] | None = None

    async def _start(self) -> None:
        deadline = Deadline(self._call.deadline)
        try:
            await async_call_with_retries(
                self._call.retry, deadline, lambda: self._try_start(deadline)
            )
        except CompletionsError as exc:
            self._failure = exc
            raise

    async def _try_start(self, deadline: Deadline) -> None:
        response = await self._open_reply(self._call, deadline)
        self._chunks = _achunks_of(self._new_assembler(response))
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
        try:
            return await anext(self._chunks)
        except CompletionsError as exc:
            self._failure = exc
            raise

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

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
