"""``Client`` and ``AsyncClient``: thin shells wiring the core to httpx.

Everything that does not touch the network lives in ``BaseClient`` and the ``_core``
functions; the two shells differ only by ``async``/``await`` (a test checks that their
public methods and signatures match). Each public method names its endpoint and hands
over to ``_reply`` or a stream.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Any, TypeVar

import httpx
from typing_extensions import Self, Unpack

from ._base_client import BaseClient
from ._batch_client import AsyncBatchMethods, BatchMethods
from ._body import BodyReader, aiter_raw, iter_raw
from ._cancel import watch
from ._chat_models import ChatCompletion, ChatCompletionChunk
from ._chat_request import ChatCompletionRequest
from ._core import PreparedCall, failure, parse_reply, prepare_call, read_error
from ._decode import unreadable
from ._endpoints import CHAT, COMPLETIONS
from ._models import Completion, CompletionChunk
from ._raw_client import (
    AsyncWithRawResponse,
    AsyncWithStreamingResponse,
    WithRawResponse,
    WithStreamingResponse,
)
from ._raw_response import RawCapture
from ._reply_base import ProxyReply
from ._request import CompletionRequest
from ._retry import Deadline, async_call_with_retries, async_sleep, call_with_retries
from ._sse import UnreadableBody
from ._streaming import AsyncStream, Stream
from ._transport import bind_expiry, close_with_loop, reset_expiry
from ._types import ChatArgs, CompletionArgs

__all__ = ["AsyncClient", "Client"]

ReplyT = TypeVar("ReplyT", bound=ProxyReply)
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


def _linear_pool(http: HttpT) -> HttpT:
    # Imported with the first client, not with the package: ``_pool`` subclasses httpcore's
    # pools, and httpx itself imports httpcore only when it builds a transport.
    from ._pool import linear_pool

    return linear_pool(http)


class Client(BaseClient[httpx.Client], BatchMethods):
    """A synchronous client for the AI Completions Proxy.

    Examples:
        >>> with Client(api_key="...", deployment="test-deployment-1") as client:
        ...     print(client.complete(model="gpt-3.5-turbo-instruct", prompt="Say hi").text)
    """

    def _new_http_client(self) -> httpx.Client:
        http = httpx.Client(
            timeout=self._config.timeout, follow_redirects=False, limits=self._pool_limits
        )
        return _linear_pool(http)

    def _current_http(self) -> httpx.Client:
        if self._shared_from is not None:  # a with_options copy: the original's pool
            return self._shared_from._current_http()
        if self._forked:  # the first call in a forked child: a pool of its own
            self._use(None)
        return self._http

    def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Completion:
        """Send a completion request and return the parsed reply.

        Args:
            request: a ``CompletionRequest``; or give its fields as keywords.
            **arguments: body fields (``model``, ``prompt``, ``max_tokens``, ...), which
                override the request's, and per-call options (``deployment``, ``tags``,
                ``refresh_cache``, ``timeout``, ``deadline``, ``max_retries``,
                ``extra_headers``, ``extra_body``).

        Raises:
            pydantic.ValidationError: an invalid field, before anything is sent.
            GuardrailViolation: the proxy's guardrails blocked the request.
            APIStatusError: another error reply (a subclass per status).
            APIConnectionError: no complete reply (``APITimeoutError`` on timeouts).
        """
        return self._reply(prepare_call(self._config, COMPLETIONS, request, arguments))

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Stream[CompletionChunk, Completion]:
        """Stream a completion: iterate the returned ``Stream`` for ``CompletionChunk``s.

        Takes the same arguments as ``complete``; ``stream=True`` is set for you. The
        request is validated now; it is sent when the stream is entered or first iterated.
        Use it as a context manager (or read it to the end) to release the connection.

        Raises:
            pydantic.ValidationError: an invalid field (``best_of`` cannot be streamed).
            IncompleteStreamError: (while iterating) the stream broke before its end.
        """
        call = prepare_call(self._config, COMPLETIONS, request, arguments, stream=True)
        return Stream(call, self._send, **self._stream_settings())

    def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> ChatCompletion:
        """Send a chat request (``messages``) and return the parsed reply.

        Takes a ``ChatCompletionRequest`` or its fields, and the same per-call options
        and exceptions as ``complete``.
        """
        return self._reply(prepare_call(self._config, CHAT, request, arguments))

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> Stream[ChatCompletionChunk, ChatCompletion]:
        """Stream a chat reply: iterate the returned ``Stream`` for ``ChatCompletionChunk``s.

        Works like ``stream``; ``get_final_completion()`` joins content and tool calls.
        """
        call = prepare_call(self._config, CHAT, request, arguments, stream=True)
        return Stream(call, self._send, **self._stream_settings())

    @property
    def with_raw_response(self) -> WithRawResponse:
        """``complete`` and ``chat`` returning a ``RawResponse`` (status, headers, timing)."""
        return WithRawResponse(self)

    @property
    def with_streaming_response(self) -> WithStreamingResponse:
        """``stream`` and ``stream_chat`` giving status and headers before the body."""
        return WithStreamingResponse(self)

    def _reply(self, call: PreparedCall[Any, ReplyT], capture: RawCapture | None = None) -> ReplyT:
        deadline = Deadline(call.deadline_seconds)
        token = bind_expiry(deadline.expires)
        attempt = lambda: self._attempt(call, deadline, capture)  # noqa: E731
        if capture is not None:
            attempt = capture.attempts.counting(attempt)
        try:
            with self._telemetry.call(call) as record:
                reply = record.reply(call_with_retries(call.retry, deadline, attempt))
        finally:
            reset_expiry(token)
        self._settle(call, reply.usage)
        return reply

    def _attempt(
        self, call: PreparedCall[Any, ReplyT], deadline: Deadline, capture: RawCapture | None
    ) -> ReplyT:
        response = self._send(call, deadline)
        content = self._read(response, deadline, error=False)
        if capture is not None:
            capture.record(response, content)
        return parse_reply(call, response, content, self._redactor)

    def _send(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
        """The reply, its body still to read, sent within the quota (``_quota_gate``)."""
        gate = self._gate(call, deadline)
        if gate is None:
            return self._send_once(call, deadline)
        while True:
            wait = gate.wait()
            if wait > 0:
                try:
                    time.sleep(wait)
                except BaseException:
                    gate.cancelled()
                    raise
                continue
            try:
                response = self._send_once(call, deadline)
            except BaseException as exc:  # held_back frees the window's place
                if gate.held_back(exc):
                    continue
                raise
            gate.sent()
            return response

    def _send_once(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
        """The reply, its body still to read; an error reply is read and raised."""
        http = self._current_http()
        request = self._build_request(http, call, deadline)
        watch(request)
        try:
            response = http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise failure(exc, request, deadline) from exc
        if not response.is_success:
            raise read_error(response, self._read(response, deadline, error=True), self._redactor)
        return response

    def _read(self, response: httpx.Response, deadline: Deadline, *, error: bool) -> bytes:
        raw_chunks = iter_raw(response)
        try:
            reader = BodyReader.for_response(response, self._response_limits, error=error)
            for raw in raw_chunks:
                if not reader.feed(raw):
                    break
        except httpx.HTTPError as exc:
            raise failure(exc, response.request, deadline) from exc
        except UnreadableBody as exc:
            raise unreadable(exc, response) from None
        finally:
            raw_chunks.close()
            response.close()
        return reader.content()

    def close(self) -> None:
        """Close the connections (only those of an ``httpx.Client`` this client created).

        A ``with_options`` copy has none of its own: closing it leaves the original's open.
        """
        if self._owns_http and self._shared_from is None:
            self._closed = True
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(BaseClient[httpx.AsyncClient], AsyncBatchMethods):
    """An asynchronous client for the AI Completions Proxy.

    Examples:
        >>> async with AsyncClient() as client:  # key and deployment from the environment
        ...     completion = await client.complete(model="m", prompt="hi")
    """

    _loop_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
    _loop_closers: tuple[AsyncGenerator[None, None], ...] = ()

    def _new_http_client(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            timeout=self._config.timeout, follow_redirects=False, limits=self._pool_limits
        )
        return _linear_pool(http)

    def _use(self, http_client: httpx.AsyncClient | None) -> None:
        super()._use(http_client)
        self._loop_pools = weakref.WeakKeyDictionary()
        self._loop_lock = threading.Lock()

    async def _current_http(self) -> httpx.AsyncClient:
        if self._shared_from is not None:  # a with_options copy: the original's pools
            return await self._shared_from._current_http()
        # A pool's connections belong to the event loop that opened them: each loop that
        # uses the client (asyncio.run twice, pytest-asyncio's loop per test, a thread
        # with a loop of its own) gets a pool of its own, closed when that loop ends.
        if not self._owns_http or self._closed:
            return self._http
        if self._forked:  # the first call in a forked child: pools of its own
            self._use(None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): one pool, as httpx has it
            return self._http
        http = self._loop_pools.get(loop)
        return http if http is not None else await self._pool_for(loop)

    async def _pool_for(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
        with self._loop_lock:
            http = self._loop_pools.get(loop)
            if http is not None:
                return http
            # The pool made with the client serves the first loop; each other its own.
            http = self._own_http_client() if self._loop_pools else self._http
            self._loop_pools[loop] = http
            closer = close_with_loop(http)
            live = tuple(c for c in self._loop_closers if getattr(c, "ag_frame", None))
            self._loop_closers = (*live, closer)
        await anext(closer)
        return http

    async def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Completion:
        """Send a completion request and return the parsed reply.

        See ``Client.complete`` for the arguments and the exceptions.
        """
        return await self._reply(prepare_call(self._config, COMPLETIONS, request, arguments))

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> AsyncStream[CompletionChunk, Completion]:
        """Stream a completion: ``async for`` over the returned ``AsyncStream``.

        See ``Client.stream``; use ``async with client.stream(...) as stream``.
        """
        call = prepare_call(self._config, COMPLETIONS, request, arguments, stream=True)
        return AsyncStream(call, self._send, **self._stream_settings())

    async def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> ChatCompletion:
        """Send a chat request (``messages``) and return the parsed reply.

        See ``Client.chat``.
        """
        return await self._reply(prepare_call(self._config, CHAT, request, arguments))

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> AsyncStream[ChatCompletionChunk, ChatCompletion]:
        """Stream a chat reply: ``async for`` over the returned ``AsyncStream``.

        See ``Client.stream_chat``.
        """
        call = prepare_call(self._config, CHAT, request, arguments, stream=True)
        return AsyncStream(call, self._send, **self._stream_settings())

    @property
    def with_raw_response(self) -> AsyncWithRawResponse:
        """``complete`` and ``chat`` returning a ``RawResponse`` (awaited)."""
        return AsyncWithRawResponse(self)

    @property
    def with_streaming_response(self) -> AsyncWithStreamingResponse:
        """``stream`` and ``stream_chat`` giving status and headers before the body."""
        return AsyncWithStreamingResponse(self)

    async def _reply(
        self, call: PreparedCall[Any, ReplyT], capture: RawCapture | None = None
    ) -> ReplyT:
        deadline = Deadline(call.deadline_seconds)
        token = bind_expiry(deadline.expires)
        attempt = lambda: self._attempt(call, deadline, capture)  # noqa: E731
        if capture is not None:
            attempt = capture.attempts.counting(attempt)
        try:
            with self._telemetry.call(call) as record:
                reply = record.reply(await async_call_with_retries(call.retry, deadline, attempt))
        finally:
            reset_expiry(token)
        self._settle(call, reply.usage)
        return reply

    async def _attempt(
        self, call: PreparedCall[Any, ReplyT], deadline: Deadline, capture: RawCapture | None
    ) -> ReplyT:
        response = await self._send(call, deadline)
        content = await self._read(response, deadline, error=False)
        if capture is not None:
            capture.record(response, content)
        return parse_reply(call, response, content, self._redactor)

    async def _send(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
        """The reply, its body still to read, sent within the quota (``_quota_gate``)."""
        gate = self._gate(call, deadline)
        if gate is None:
            return await self._send_once(call, deadline)
        while True:
            wait = gate.wait()
            if wait > 0:
                try:
                    await async_sleep(wait)
                except BaseException:  # cancelled: the slot and window place go back
                    gate.cancelled()
                    raise
                continue
            try:
                response = await self._send_once(call, deadline)
            except BaseException as exc:  # held_back frees the window's place
                if gate.held_back(exc):
                    continue
                raise
            gate.sent()
            return response

    async def _send_once(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
        """The reply, its body still to read; an error reply is read and raised."""
        http = await self._current_http()
        request = self._build_request(http, call, deadline)
        try:
            response = await http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise failure(exc, request, deadline) from exc
        if not response.is_success:
            raise read_error(
                response, await self._read(response, deadline, error=True), self._redactor
            )
        return response

    async def _read(self, response: httpx.Response, deadline: Deadline, *, error: bool) -> bytes:
        raw_chunks = aiter_raw(response)
        try:
            reader = BodyReader.for_response(response, self._response_limits, error=error)
            async for raw in raw_chunks:
                if not reader.feed(raw):
                    break
        except httpx.HTTPError as exc:
            raise failure(exc, response.request, deadline) from exc
        except UnreadableBody as exc:
            raise unreadable(exc, response) from None
        finally:
            await raw_chunks.aclose()
            await response.aclose()
        return reader.content()

    async def close(self) -> None:
        """Close the connections (only those of an ``httpx.AsyncClient`` this client created).

        The pool of the running event loop is closed now; those of other loops when
        their loops end. A ``with_options`` copy has none of its own: closing it leaves
        the original's open.
        """
        if self._owns_http and not self._closed and self._shared_from is None:
            self._closed = True
            try:
                http = self._loop_pools.get(asyncio.get_running_loop())
            except RuntimeError:  # not asyncio (trio): the one pool
                http = self._http
            if http is None and not self._loop_pools:
                http = self._http  # never used: nothing bound to any loop yet
            if http is not None:  # other loops' pools close when their loops end
                await http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
