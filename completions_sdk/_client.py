"""``Client`` and ``AsyncClient``: thin shells wiring the core to httpx.

Everything that does not touch the network lives in ``_BaseClient`` and the ``_core``
functions; the two shells differ only by ``async``/``await`` (a test checks that their
public methods and signatures match).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

import httpx
from pydantic import SecretStr
from typing_extensions import Self, Unpack

from ._batch import BatchItem, BatchResults, aiter_completed, iter_completed
from ._config import DEFAULT_TIMEOUT, ClientConfig, build_config
from ._core import PreparedCall, parse_completion, prepare_call, raise_for_status
from ._errors import transport_error
from ._exceptions import CompletionsError
from ._models import Completion
from ._request import CompletionRequest
from ._retry import Deadline, RetryPolicy, async_retrying, retrying
from ._streaming import AsyncStream, Stream
from ._types import CompletionArgs, RequestOptions, Tags, TimeoutTypes

__all__ = ["AsyncClient", "Client"]

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)


class _BaseClient(Generic[HttpClient]):
    """Configuration and request preparation shared by both clients (no I/O)."""

    _config: ClientConfig
    _http: HttpClient
    _owns_http: bool

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        deployment: str | None = None,
        tags: Tags | None = None,
        refresh_cache: bool | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClient | None = None,
    ) -> None:
        """Configure a client; arguments left out fall back to ``ENKRYPTAI_*`` variables.

        Args:
            api_key: the account's API key (default: ``ENKRYPTAI_API_KEY``).
            deployment: the deployment's saved name (default: ``ENKRYPTAI_DEPLOYMENT``).
            tags: deployment tags, a list or a comma-separated string.
            refresh_cache: ask the proxy to refresh stale deployment/policy/model data.
            base_url: the proxy's address (default: ``ENKRYPTAI_BASE_URL``, then
                ``https://api.enkryptai.com``).
            timeout: per-attempt timeout in seconds or an ``httpx.Timeout``
                (default: 120 s to read, 10 s to connect).
            max_retries: retries after a failed attempt (default 2; ``0`` disables).
            retry_policy: backoff, ``Retry-After`` cap and sleep functions.
            deadline: seconds for a whole call, attempts and waits included.
            default_headers: more headers sent with every request.
            http_client: your own ``httpx`` client (you keep the job of closing it).

        Raises:
            ConfigurationError: no API key or deployment, or a bad header value.
        """
        self._config = build_config(
            api_key=api_key,
            deployment=deployment,
            tags=tags,
            refresh_cache=refresh_cache,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            deadline=deadline,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = self._new_http_client() if http_client is None else http_client

    def _new_http_client(self) -> HttpClient:
        raise NotImplementedError

    def _prepare(
        self, request: CompletionRequest | None, arguments: CompletionArgs, *, stream: bool
    ) -> PreparedCall:
        return prepare_call(self._config, request, arguments, stream=stream)

    def _build_request(self, call: PreparedCall, deadline: Deadline) -> httpx.Request:
        return self._http.build_request(
            "POST",
            call.url,
            content=call.content,
            headers=call.headers,
            timeout=deadline.timeout(call.timeout),
        )

    @property
    def _secret(self) -> str:
        return self._config.api_key.get_secret_value()

    @property
    def base_url(self) -> httpx.URL:
        """The proxy's base URL."""
        return self._config.base_url

    @property
    def deployment(self) -> str:
        """The deployment requests go to, unless a call names another."""
        return self._config.deployment

    @property
    def is_closed(self) -> bool:
        """Whether the client's connections have been closed."""
        return self._http.is_closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config!r})"

    def __getstate__(self) -> dict[str, object]:
        # Pickling (for multiprocessing, Spark or Ray workers) carries the configuration,
        # never live connections: the copy opens its own.
        if not self._owns_http:
            raise TypeError(
                f"a {type(self).__name__} built with http_client= cannot be pickled: "
                "its connections belong to you; pickle one without it"
            )
        return {"config": self._config}

    def __setstate__(self, state: dict[str, object]) -> None:
        config = state["config"]
        assert isinstance(config, ClientConfig)
        self._config = config
        self._owns_http = True
        self._http = self._new_http_client()


class Client(_BaseClient[httpx.Client]):
    """A synchronous client for the AI Completions Proxy.

    Example:
        >>> with Client(api_key="...", deployment="test-deployment-1") as client:
        ...     print(client.complete(model="gpt-3.5-turbo-instruct", prompt="Say hi").text)
    """

    def _new_http_client(self) -> httpx.Client:
        return httpx.Client(timeout=self._config.timeout, follow_redirects=False)

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
        call = self._prepare(request, arguments, stream=False)
        deadline = Deadline(call.deadline)
        response = retrying(call.retry, deadline)(self._send, call, deadline)
        return parse_completion(response, self._config)

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Stream:
        """Stream a completion: iterate the returned ``Stream`` for ``CompletionChunk``s.

        Takes the same arguments as ``complete``; ``stream=True`` is set for you. The
        request is validated now; it is sent when the stream is entered or first iterated.
        Use it as a context manager (or read it to the end) to release the connection.

        Raises:
            pydantic.ValidationError: an invalid field (``best_of`` cannot be streamed).
            IncompleteStreamError: (while iterating) the stream broke before its end.
        """
        call = self._prepare(request, arguments, stream=True)
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

    def _send(
        self, call: PreparedCall, deadline: Deadline, *, stream: bool = False
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

    def _send_streaming(self, call: PreparedCall, deadline: Deadline) -> httpx.Response:
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


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """An asynchronous client for the AI Completions Proxy.

    Example:
        >>> async with AsyncClient() as client:  # key and deployment from the environment
        ...     completion = await client.complete(model="m", prompt="hi")
    """

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._config.timeout, follow_redirects=False)

    async def complete(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> Completion:
        """Send a completion request and return the parsed reply.

        See ``Client.complete`` for the arguments and the exceptions.
        """
        call = self._prepare(request, arguments, stream=False)
        deadline = Deadline(call.deadline)
        response: httpx.Response = await async_retrying(call.retry, deadline)(
            self._send, call, deadline
        )
        return parse_completion(response, self._config)

    def stream(
        self, request: CompletionRequest | None = None, /, **arguments: Unpack[CompletionArgs]
    ) -> AsyncStream:
        """Stream a completion: ``async for`` over the returned ``AsyncStream``.

        See ``Client.stream``; use ``async with client.stream(...) as stream``.
        """
        call = self._prepare(request, arguments, stream=True)
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

    async def _send(
        self, call: PreparedCall, deadline: Deadline, *, stream: bool = False
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

    async def _send_streaming(self, call: PreparedCall, deadline: Deadline) -> httpx.Response:
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
