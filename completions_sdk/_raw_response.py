"""A call's HTTP reply beside its parsed value: ``RawResponse`` and the streaming twins.

``client.with_raw_response.complete(...)`` returns a ``RawResponse``: status, headers,
request id, how long the call took and how many retries it needed, and ``parse()`` for the
reply. The call itself is the plain one (same retries, same errors, same bounded read):
the body is read and validated before it returns, and ``parse()`` hands that reply back.

``client.with_streaming_response.stream(...)`` returns a ``StreamingRawResponse``: entering
it sends the request (retrying until a successful status arrives) and stops at the
headers; ``parse()`` then gives the ``Stream`` of the body, which is not retried any more
(its headers were shown). Nothing here keeps the request: its headers hold the API key.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx
from typing_extensions import Self

from ._core import PreparedCall
from ._exceptions import request_id_from
from ._reply_base import ProxyBody, ProxyReply
from ._retry import Attempts, Deadline, async_call_with_retries, call_with_retries
from ._streaming import AsyncStream, Stream
from ._transport import bind_expiry, reset_expiry

__all__ = ["AsyncStreamingRawResponse", "RawCapture", "RawResponse", "StreamingRawResponse"]

T = TypeVar("T")
ChunkT = TypeVar("ChunkT", bound=ProxyBody)
ReplyT = TypeVar("ReplyT", bound=ProxyReply)


class _Head:
    """The parts of a reply's head every raw response shows (no body, no request)."""

    _response: httpx.Response | None = None
    _elapsed = timedelta(0)
    _retries_taken = 0

    def _head(self) -> httpx.Response:
        if self._response is None:
            raise RuntimeError("The request has not been sent: enter the response's context")
        return self._response

    @property
    def status_code(self) -> int:
        """The HTTP status of the reply (a success: an error reply raises instead)."""
        return self._head().status_code

    @property
    def headers(self) -> httpx.Headers:
        """The reply's headers (the proxy's; the request's, with the API key, are not kept)."""
        return self._head().headers

    @property
    def request_id(self) -> str | None:
        """The proxy's request id header (``x-request-id``), if it sent one."""
        return request_id_from(self._head().headers)

    @property
    def retries_taken(self) -> int:
        """Retries the call needed before this reply (``0``: the first attempt)."""
        return self._retries_taken

    @property
    def elapsed(self) -> timedelta:
        """How long the call took: every attempt and wait included."""
        return self._elapsed

    def __repr__(self) -> str:
        if self._response is None:
            return f"{type(self).__name__}(not sent)"
        return (
            f"{type(self).__name__}({self.status_code}, request_id={self.request_id!r}, "
            f"retries_taken={self._retries_taken}, elapsed={self._elapsed.total_seconds():.3f}s)"
        )


class RawResponse(_Head, Generic[T]):
    """A reply's status, headers and timing, with the parsed reply: ``parse()``.

    ``elapsed`` is the whole call, from the first send to the parsed reply, retries and
    their waits included. The repr shows the status, request id, retries and time: never
    a header.

    Examples:
        >>> raw = client.with_raw_response.complete(model="m", prompt="hi")
        >>> raw.status_code, raw.request_id, raw.retries_taken, raw.headers["content-type"]
        >>> completion = raw.parse()
    """

    def __init__(
        self,
        response: httpx.Response,
        content: bytes,
        parsed: T,
        *,
        elapsed: timedelta,
        retries_taken: int,
    ) -> None:
        self._response = response
        self._content = content
        self._parsed = parsed
        self._elapsed = elapsed
        self._retries_taken = retries_taken

    @property
    def content(self) -> bytes:
        """The body as received (decompressed), for logging or replay."""
        return self._content

    def parse(self) -> T:
        """The reply (a ``Completion`` or ``ChatCompletion``), validated during the call.

        The same object on every call; its ``request_id`` is this response's.
        """
        return self._parsed


class RawCapture:
    """What the shells' attempts record for a raw call: its attempts and the last reply."""

    __slots__ = ("attempts", "content", "response", "started")

    def __init__(self) -> None:
        self.attempts = Attempts()
        self.started = time.perf_counter()
        self.response: httpx.Response | None = None
        self.content = b""

    def record(self, response: httpx.Response, content: bytes) -> None:
        """The reply of the attempt that succeeded."""
        self.response, self.content = response, content

    def result(self, parsed: T) -> RawResponse[T]:
        """The ``RawResponse`` of the call whose reply is ``parsed``."""
        assert self.response is not None
        elapsed = timedelta(seconds=time.perf_counter() - self.started)
        # The head alone: an httpx.Response keeps its request, whose headers hold the API
        # key, and a RawResponse gets pickled, cached and logged with its locals.
        head = httpx.Response(self.response.status_code, headers=self.response.headers)
        return RawResponse(
            head,
            self.content,
            parsed,
            elapsed=elapsed,
            retries_taken=self.attempts.retries,
        )


class _StreamingHead(_Head, Generic[ChunkT, ReplyT]):
    """What both streaming raw responses share: the call, and the stream made from it."""

    def __init__(self, call: PreparedCall[ChunkT, ReplyT], open_reply: Any, **reading: Any) -> None:
        self._call = call
        self._open_reply = open_reply
        self._reading = reading
        self._attempts = Attempts()
        self._started = time.perf_counter()
        self._deadline = Deadline(None)

    def _sent(self, response: httpx.Response) -> None:
        self._response = response
        self._elapsed = timedelta(seconds=time.perf_counter() - self._started)
        self._retries_taken = self._attempts.retries

    def _rest(self) -> PreparedCall[ChunkT, ReplyT]:
        # The body's stream is not retried (its headers were shown) and has what is left
        # of the call's deadline.
        left = None if self._deadline.expires is None else self._deadline.remaining()
        retry = self._call.retry.with_max_retries(0)
        return dataclasses.replace(self._call, retry=retry, deadline_seconds=left)


class StreamingRawResponse(_StreamingHead[ChunkT, ReplyT]):
    """A streamed reply's status and headers before its body; ``parse()`` gives the stream.

    Entering sends the request, retrying as the plain call does until a successful status
    arrives; ``elapsed`` is the time until then. Leaving closes the reply.

    Examples:
        >>> with client.with_streaming_response.stream(model="m", prompt="hi") as raw:
        ...     print(raw.status_code, raw.request_id)
        ...     for chunk in raw.parse():
        ...         print(chunk.text, end="")
    """

    _stream: Stream[ChunkT, ReplyT] | None = None

    def __enter__(self) -> Self:
        self._deadline = deadline = Deadline(self._call.deadline_seconds)
        opener: Callable[[PreparedCall[Any, Any], Deadline], httpx.Response] = self._open_reply
        token = bind_expiry(deadline.expires)
        try:
            attempt = self._attempts.counting(lambda: opener(self._call, deadline))
            self._sent(call_with_retries(self._call.retry, deadline, attempt))
        finally:
            reset_expiry(token)
        return self

    def parse(self) -> Stream[ChunkT, ReplyT]:
        """The ``Stream`` of the body's chunks (the same one on every call)."""
        if self._stream is None:
            response = self._head()
            self._stream = Stream(self._rest(), lambda call, deadline: response, **self._reading)
        return self._stream

    def close(self) -> None:
        """Stop reading and release the connection."""
        if self._stream is not None:
            self._stream.close()
        if self._response is not None:
            self._response.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStreamingRawResponse(_StreamingHead[ChunkT, ReplyT]):
    """``StreamingRawResponse`` for ``AsyncClient``: ``async with``, then ``async for``.

    Examples:
        >>> async with client.with_streaming_response.stream(model="m", prompt="hi") as raw:
        ...     print(raw.status_code, raw.request_id)
        ...     async for chunk in raw.parse():
        ...         print(chunk.text, end="")
    """

    _stream: AsyncStream[ChunkT, ReplyT] | None = None

    async def __aenter__(self) -> Self:
        self._deadline = deadline = Deadline(self._call.deadline_seconds)
        opener: Callable[[PreparedCall[Any, Any], Deadline], Awaitable[httpx.Response]] = (
            self._open_reply
        )
        token = bind_expiry(deadline.expires)
        try:
            attempt = self._attempts.counting(lambda: opener(self._call, deadline))
            self._sent(await async_call_with_retries(self._call.retry, deadline, attempt))
        finally:
            reset_expiry(token)
        return self

    def parse(self) -> AsyncStream[ChunkT, ReplyT]:
        """The ``AsyncStream`` of the body's chunks (the same one on every call)."""
        if self._stream is None:
            response = self._head()

            async def opened(call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
                return response

            self._stream = AsyncStream(self._rest(), opened, **self._reading)
        return self._stream

    async def close(self) -> None:
        """Stop reading and release the connection."""
        if self._stream is not None:
            await self._stream.close()
        if self._response is not None:
            await self._response.aclose()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
