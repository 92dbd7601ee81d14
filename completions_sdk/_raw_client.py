"""``client.with_raw_response`` and ``client.with_streaming_response``, for both clients.

Each method takes exactly the arguments of the client's method of the same name (a test
compares their signatures and type hints), so an IDE completes them the same way; it
returns the reply's ``RawResponse`` (or ``StreamingRawResponse``) instead of the reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import Unpack

from ._chat_models import ChatCompletion, ChatCompletionChunk
from ._chat_request import ChatCompletionRequest
from ._core import prepare_call
from ._endpoints import CHAT, COMPLETIONS
from ._models import Completion, CompletionChunk
from ._raw_response import AsyncStreamingRawResponse, RawCapture, RawResponse, StreamingRawResponse
from ._request import CompletionRequest
from ._types import ChatArgs, CompletionArgs

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = [
    "AsyncWithRawResponse",
    "AsyncWithStreamingResponse",
    "WithRawResponse",
    "WithStreamingResponse",
]


class WithRawResponse:
    """``client.with_raw_response``: ``complete`` and ``chat`` returning a ``RawResponse``."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> RawResponse[Completion]:
        """``Client.complete``, returning the reply's status, headers and timing with it.

        Args:
            request: a ``CompletionRequest``; or give its fields as keywords.
            **arguments: body fields (``model``, ``prompt``, ``max_tokens``, ...) and
                per-call options, as ``Client.complete`` takes them.

        Raises:
            CompletionsError: what ``Client.complete`` raises, after the same retries.
        """
        capture = RawCapture()
        call = prepare_call(self._client._config, COMPLETIONS, request, arguments)
        return capture.result(self._client._reply(call, capture))

    def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> RawResponse[ChatCompletion]:
        """``Client.chat``, returning the reply's status, headers and timing with it.

        Takes a ``ChatCompletionRequest`` or its fields, and the per-call options; raises
        what ``Client.chat`` raises.
        """
        capture = RawCapture()
        call = prepare_call(self._client._config, CHAT, request, arguments)
        return capture.result(self._client._reply(call, capture))


class AsyncWithRawResponse:
    """``client.with_raw_response`` of ``AsyncClient``: the same, awaited."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> RawResponse[Completion]:
        """``AsyncClient.complete``, returning the reply's status, headers and timing with it.

        See ``WithRawResponse.complete``.
        """
        capture = RawCapture()
        call = prepare_call(self._client._config, COMPLETIONS, request, arguments)
        return capture.result(await self._client._reply(call, capture))

    async def chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> RawResponse[ChatCompletion]:
        """``AsyncClient.chat``, returning the reply's status, headers and timing with it.

        See ``WithRawResponse.chat``.
        """
        capture = RawCapture()
        call = prepare_call(self._client._config, CHAT, request, arguments)
        return capture.result(await self._client._reply(call, capture))


class WithStreamingResponse:
    """``client.with_streaming_response``: a stream's status and headers before its body."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> StreamingRawResponse[CompletionChunk, Completion]:
        """``Client.stream``, stopping at the reply's head: ``with ... as raw``.

        Takes the arguments of ``Client.stream``. Entering sends the request (retried as
        the plain stream's start is) and raises what it raises; ``raw.parse()`` is then
        the ``Stream`` of the body.
        """
        call = prepare_call(self._client._config, COMPLETIONS, request, arguments, stream=True)
        return StreamingRawResponse(call, self._client._send, **self._client._stream_settings())

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> StreamingRawResponse[ChatCompletionChunk, ChatCompletion]:
        """``Client.stream_chat``, stopping at the reply's head: ``with ... as raw``.

        Works like ``stream``.
        """
        call = prepare_call(self._client._config, CHAT, request, arguments, stream=True)
        return StreamingRawResponse(call, self._client._send, **self._client._stream_settings())


class AsyncWithStreamingResponse:
    """``client.with_streaming_response`` of ``AsyncClient``: ``async with ... as raw``."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> AsyncStreamingRawResponse[CompletionChunk, Completion]:
        """``AsyncClient.stream``, stopping at the reply's head: ``async with ... as raw``.

        See ``WithStreamingResponse.stream``.
        """
        call = prepare_call(self._client._config, COMPLETIONS, request, arguments, stream=True)
        settings = self._client._stream_settings()
        return AsyncStreamingRawResponse(call, self._client._send, **settings)

    def stream_chat(
        self, request: ChatCompletionRequest | None = None, /, **arguments: Unpack[ChatArgs]
    ) -> AsyncStreamingRawResponse[ChatCompletionChunk, ChatCompletion]:
        """``AsyncClient.stream_chat``, stopping at the reply's head.

        See ``WithStreamingResponse.stream``.
        """
        call = prepare_call(self._client._config, CHAT, request, arguments, stream=True)
        settings = self._client._stream_settings()
        return AsyncStreamingRawResponse(call, self._client._send, **settings)
