"""The batch methods of ``Client`` and ``AsyncClient``, one path for both endpoints.

Each public method names its endpoint and hands over to ``_iter_many`` (outcomes as they
end) or ``_many`` (a list in input order, on top of ``_iter_many``). Every call of a batch
runs inside the batch's ``BatchScope``: its sends share a limiter and an adaptive window.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from contextlib import aclosing, closing
from typing import Any, TypeVar

from typing_extensions import Unpack

from ._batch import (
    BatchItem,
    BatchResults,
    aiter_completed,
    check_concurrency,
    iter_completed,
    validated,
)
from ._chat_models import ChatCompletion
from ._config import ClientConfig
from ._core import PreparedCall, prepare_call
from ._endpoints import CHAT, COMPLETIONS, Endpoint
from ._exceptions import CompletionsError
from ._models import Completion
from ._quota import Limiter
from ._quota_gate import BatchScope
from ._raw_response import RawCapture
from ._reply_base import ProxyReply
from ._request_base import RequestBase
from ._types import RequestOptions

__all__ = ["AsyncBatchMethods", "BatchMethods"]

ReplyT = TypeVar("ReplyT", bound=ProxyReply)


class _Batches:
    _config: ClientConfig

    def _client_limiter(self) -> Limiter | None:
        raise NotImplementedError

    def _prepare(
        self, endpoint: Endpoint[Any, ReplyT], concurrency: int, options: RequestOptions
    ) -> tuple[BatchScope | None, Callable[[RequestBase], PreparedCall[Any, ReplyT]]]:
        check_concurrency(concurrency)
        scope = BatchScope.for_batch(self._client_limiter(), concurrency)

        def call(request: RequestBase) -> PreparedCall[Any, ReplyT]:
            return prepare_call(self._config, endpoint, request, options)

        return scope, call


class BatchMethods(_Batches):
    """``Client``'s batch methods: many requests at once, at the proxy's quota."""

    def _reply(self, call: PreparedCall[Any, ReplyT], capture: RawCapture | None = None) -> ReplyT:
        raise NotImplementedError

    def iter_complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> Generator[tuple[int, Completion | CompletionsError], None, None]:
        """Complete many requests; yield ``(index, completion)`` as each one ends.

        Adapts to the proxy's quota: a 429 pauses every send and halves the requests in
        flight, which then grow back up to ``concurrency``; a request held back by the
        quota is sent again without spending its ``max_retries`` (unless the client's
        ``RateLimit(adaptive=False)``). Closing the iterator abandons the calls in flight.

        Args:
            requests: ``CompletionRequest``s or dicts of their fields, taken lazily from
                any iterable (a generator too) and validated as each is pulled.
            concurrency: the most requests in flight (and entries held) at once.
            return_exceptions: yield a failure's ``CompletionsError`` instead of raising it.
            **options: per-call options applied to every request (``tags``, ``deadline``...).
        """
        return self._iter_many(COMPLETIONS, requests, concurrency, return_exceptions, options)

    def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion]:
        """Complete many requests, at most ``concurrency`` at a time, in input order.

        All are validated before the first is sent. The first failure is raised, and
        the calls in flight are abandoned; ``complete_many_settled`` keeps every outcome.
        The quota is followed as by ``iter_complete_many``.

        Args:
            requests: ``CompletionRequest``s or dicts of their fields.
            concurrency: the most requests in flight at once.
            progress: show a progress bar (needs ``tqdm``).
            **options: per-call options applied to every request (``tags``, ``timeout``...).
        """
        return self._many(COMPLETIONS, requests, concurrency, progress, options, settle=False)

    def complete_many_settled(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion | CompletionsError]:
        """``complete_many``, with each failure's ``CompletionsError`` in its place.

        Only the SDK's own errors are kept: a bug or a ``KeyboardInterrupt`` still stops
        the batch.
        """
        return self._many(COMPLETIONS, requests, concurrency, progress, options, settle=True)

    def iter_chat_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> Generator[tuple[int, ChatCompletion | CompletionsError], None, None]:
        """``iter_complete_many`` for chat: ``ChatCompletionRequest``s or dicts of their fields."""
        return self._iter_many(CHAT, requests, concurrency, return_exceptions, options)

    def chat_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[ChatCompletion]:
        """``complete_many`` for chat: ``ChatCompletionRequest``s or dicts of their fields."""
        return self._many(CHAT, requests, concurrency, progress, options, settle=False)

    def chat_many_settled(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[ChatCompletion | CompletionsError]:
        """``complete_many_settled`` for chat."""
        return self._many(CHAT, requests, concurrency, progress, options, settle=True)

    def _iter_many(
        self,
        endpoint: Endpoint[Any, ReplyT],
        requests: Iterable[BatchItem],
        concurrency: int,
        return_exceptions: bool,
        options: RequestOptions,
    ) -> Generator[tuple[int, ReplyT | CompletionsError], None, None]:
        scope, call = self._prepare(endpoint, concurrency, options)

        def send(request: RequestBase) -> ReplyT:
            if scope is None:
                return self._reply(call(request))
            with scope.active():
                return self._reply(call(request))

        entries = validated(requests, endpoint.request_model)
        return iter_completed(send, entries, concurrency, return_exceptions=return_exceptions)

    def _many(
        self,
        endpoint: Endpoint[Any, Any],
        requests: Iterable[BatchItem],
        concurrency: int,
        progress: bool,
        options: RequestOptions,
        *,
        settle: bool,
    ) -> list[Any]:
        batch = BatchResults(requests, endpoint.request_model, progress=progress)
        outcomes = self._iter_many(endpoint, batch.requests, concurrency, settle, options)
        try:
            with closing(outcomes):  # an error abandons the calls in flight
                for index, outcome in outcomes:
                    batch.add(index, outcome)
        finally:
            batch.close()
        return batch.outcomes


class AsyncBatchMethods(_Batches):
    """``AsyncClient``'s batch methods: see ``Client``'s for the arguments."""

    async def _reply(
        self, call: PreparedCall[Any, ReplyT], capture: RawCapture | None = None
    ) -> ReplyT:
        raise NotImplementedError

    def iter_complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> AsyncGenerator[tuple[int, Completion | CompletionsError], None]:
        """Complete many requests: ``async for index, completion in ...`` as each ends.

        See ``Client.iter_complete_many``; leaving the loop cancels the calls in flight.
        """
        return self._iter_many(COMPLETIONS, requests, concurrency, return_exceptions, options)

    async def complete_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion]:
        """Complete many requests, at most ``concurrency`` at a time, in input order.

        See ``Client.complete_many``.
        """
        return await self._many(COMPLETIONS, requests, concurrency, progress, options, False)

    async def complete_many_settled(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[Completion | CompletionsError]:
        """``complete_many``, with each failure's ``CompletionsError`` in its place."""
        return await self._many(COMPLETIONS, requests, concurrency, progress, options, True)

    def iter_chat_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        return_exceptions: bool = False,
        **options: Unpack[RequestOptions],
    ) -> AsyncGenerator[tuple[int, ChatCompletion | CompletionsError], None]:
        """``iter_complete_many`` for chat. See ``Client.iter_chat_many``."""
        return self._iter_many(CHAT, requests, concurrency, return_exceptions, options)

    async def chat_many(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[ChatCompletion]:
        """``complete_many`` for chat. See ``Client.chat_many``."""
        return await self._many(CHAT, requests, concurrency, progress, options, False)

    async def chat_many_settled(
        self,
        requests: Iterable[BatchItem],
        /,
        *,
        concurrency: int = 8,
        progress: bool = False,
        **options: Unpack[RequestOptions],
    ) -> list[ChatCompletion | CompletionsError]:
        """``complete_many_settled`` for chat."""
        return await self._many(CHAT, requests, concurrency, progress, options, True)

    def _iter_many(
        self,
        endpoint: Endpoint[Any, ReplyT],
        requests: Iterable[BatchItem],
        concurrency: int,
        return_exceptions: bool,
        options: RequestOptions,
    ) -> AsyncGenerator[tuple[int, ReplyT | CompletionsError], None]:
        scope, call = self._prepare(endpoint, concurrency, options)

        async def send(request: RequestBase) -> ReplyT:
            if scope is None:
                return await self._reply(call(request))
            with scope.active():
                return await self._reply(call(request))

        entries = validated(requests, endpoint.request_model)
        return aiter_completed(send, entries, concurrency, return_exceptions=return_exceptions)

    async def _many(
        self,
        endpoint: Endpoint[Any, Any],
        requests: Iterable[BatchItem],
        concurrency: int,
        progress: bool,
        options: RequestOptions,
        settle: bool,
    ) -> list[Any]:
        batch = BatchResults(requests, endpoint.request_model, progress=progress)
        outcomes = self._iter_many(endpoint, batch.requests, concurrency, settle, options)
        try:
            async with aclosing(outcomes):  # an error cancels the calls in flight
                async for index, outcome in outcomes:
                    batch.add(index, outcome)
        finally:
            batch.close()
        return batch.outcomes
