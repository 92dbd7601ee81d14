"""``Client`` and ``AsyncClient``: thin shells wiring the core to httpx.

Everything that does not touch the network lives in ``BaseClient`` and the ``_core``
functions; the two shells differ only by ``async``/``await`` (a test checks that their
public methods and signatures match). Each public method names its endpoint and hands
over to ``_reply`` or a stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import httpx
from typing_extensions import Self, Unpack

from ._base_client import BaseClient
from ._batch import BatchItem, BatchResults, aiter_completed, iter_completed
from ._chat_models import ChatCompletion, ChatCompletionChunk
from ._chat_request import ChatCompletionRequest
from ._core import PreparedCall, parse_reply, raise_for_status
from ._endpoints import CHAT, COMPLETIONS
from ._errors import transport_error
from ._exceptions import CompletionsError
from ._models import Completion, CompletionChunk, ReplyEnvelope
from ._pool import linear_pool
from ._request import CompletionRequest
from ._retry import Deadline, async_call_with_retries, call_with_retries
from ._streaming import AsyncStream, Stream
from ._types import ChatArgs, CompletionArgs, RequestOptions

__all__ = ["AsyncClient", "Client"]

ReplyT = TypeVar("ReplyT", bound=ReplyEnvelope)


class Client(BaseClient[httpx.Client]):
    """A synchronous client for the AI Completions Proxy.

    Examples:
        >>> with Client(api_key="...", deployment="test-deployment-1") as client:
        ...     print(client.complete(model="gpt-3.5-turbo-instruct", prompt="Say hi").text)
    """

    def _new_http_client(self) -> httpx.Client:
        http = httpx.Client(
            timeout=self._config.timeout, follow_redirects=False, limits=self._limits
        )
        return linear_pool(http)

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
        return self._reply(self._prepare(COMPLETIONS, request, arguments))

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
        call = self._prepare(COMPLETIONS, request, arguments, stream=True)
        return Stream(call, self._send_streaming, secret=self._secret)

    def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> ChatCompletion:
        """Send a chat request (``messages``) and return the parsed reply.

        Takes a ``ChatCompletionRequest`` or its fields, and the same per-call options
        and exceptions as ``complete``.
        """
        return self._reply(self._prepare(CHAT, request, arguments))

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> Stream[ChatCompletionChunk, ChatCompletion]:
        """Stream a chat reply: iterate the returned ``Stream`` for ``ChatCompletionChunk``s.

        Works like ``stream``; ``get_final_completion()`` joins content and tool calls.
        """
        call = self._prepare(CHAT, request, arguments, stream=True)
        return Stream(call, self._send_streaming, secret=self._secret)

    @overload
    def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: Literal[False] = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion]: ...
    @overload
    def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: Literal[True],
        **options: Unpack[RequestOptions],
    ) -> list[Completion | CompletionsError]: ...
    def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Any]:
        """Complete many requests, at most ``concurrency`` at a time, in input order.

        Args:
            requests: ``CompletionRequest``s or dicts of their fields; all are validated
                before the first is sent.
            concurrency: how many requests are in flight at once.
            progress: show a progress bar (needs ``tqdm``).
            return_exceptions: put each failed request's ``CompletionsError`` in its place
                in the results instead of raising the first one.
            **options: per-call options applied to every request (``tags``, ``timeout``...).
        """
        batch = BatchResults(requests, progress=progress, return_exceptions=return_exceptions)
        try:
            for index, outcome in iter_completed(
                lambda request: self.complete(request, **options), batch.requests, concurrency
            ):
                batch.add(index, outcome)
        finally:
            batch.close()
        return batch.outcomes

    def _reply(self, call: PreparedCall[Any, ReplyT]) -> ReplyT:
        deadline = Deadline(call.deadline)
        response = call_with_retries(call.retry, deadline, lambda: self._send(call, deadline))
        return parse_reply(response, self._config, call.endpoint.reply_model)

    def _send(
        self, call: PreparedCall[Any, Any], deadline: Deadline, *, stream: bool = False
    ) -> httpx.Response:
        request = self._build_request(call, deadline)
        try:
            response = self._http.send(request, stream=stream)
            if stream and not response.is_success:
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise transport_error(exc, request) from exc
        raise_for_status(response, self._config)
        return response

    def _send_streaming(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Response:
        return self._send(call, deadline, stream=True)

    def close(self) -> None:
        """Close the connections (only those of an ``httpx.Client`` this client created)."""
        if self._owns_http:
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


class AsyncClient(BaseClient[httpx.AsyncClient]):
    """An asynchronous client for the AI Completions Proxy.

    Examples:
        >>> async with AsyncClient() as client:  # key and deployment from the environment
        ...     completion = await client.complete(model="m", prompt="hi")
    """

    def _new_http_client(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            timeout=self._config.timeout, follow_redirects=False, limits=self._limits
        )
        return linear_pool(http)

    async def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Completion:
        """Send a completion request and return the parsed reply.

        See ``Client.complete`` for the arguments and the exceptions.
        """
        return await self._reply(self._prepare(COMPLETIONS, request, arguments))

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> AsyncStream[CompletionChunk, Completion]:
        """Stream a completion: ``async for`` over the returned ``AsyncStream``.

        See ``Client.stream``; use ``async with client.stream(...) as stream``.
        """
        call = self._prepare(COMPLETIONS, request, arguments, stream=True)
        return AsyncStream(call, self._send_streaming, secret=self._secret)

    async def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> ChatCompletion:
        """Send a chat request (``messages``) and return the parsed reply.

        See ``Client.chat``.
        """
        return await self._reply(self._prepare(CHAT, request, arguments))

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> AsyncStream[ChatCompletionChunk, ChatCompletion]:
        """Stream a chat reply: ``async for`` over the returned ``AsyncStream``.

        See ``Client.stream_chat``.
        """
        call = self._prepare(CHAT, request, arguments, stream=True)
        return AsyncStream(call, self._send_streaming, secret=self._secret)

    @overload
    async def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: Literal[False] = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion]: ...
    @overload
    async def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: Literal[True],
        **options: Unpack[RequestOptions],
    ) -> list[Completion | CompletionsError]: ...
    async def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Any]:
        """Complete many requests, at most ``concurrency`` at a time, in input order.

        See ``Client.complete_many``.
        """
        batch = BatchResults(requests, progress=progress, return_exceptions=return_exceptions)
        try:
            async for index, outcome in aiter_completed(
                lambda request: self.complete(request, **options), batch.requests, concurrency
            ):
                batch.add(index, outcome)
        finally:
            batch.close()
        return batch.outcomes

    async def _reply(self, call: PreparedCall[Any, ReplyT]) -> ReplyT:
        deadline = Deadline(call.deadline)
        response = await async_call_with_retries(
            call.retry, deadline, lambda: self._send(call, deadline)
        )
        return parse_reply(response, self._config, call.endpoint.reply_model)

    async def _send(
        self, call: PreparedCall[Any, Any], deadline: Deadline, *, stream: bool = False
    ) -> httpx.Response:
        request = self._build_request(call, deadline)
        try:
            response = await self._http.send(request, stream=stream)
            if stream and not response.is_success:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise transport_error(exc, request) from exc
        raise_for_status(response, self._config)
        return response

    async def _send_streaming(
        self, call: PreparedCall[Any, Any], deadline: Deadline
    ) -> httpx.Response:
        return await self._send(call, deadline, stream=True)

    async def close(self) -> None:
        """Close the connections (only those of an ``httpx.AsyncClient`` this client created)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
