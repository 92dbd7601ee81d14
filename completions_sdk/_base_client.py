"""``BaseClient``: configuration and request preparation shared by both clients (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from ._config import DEFAULT_TIMEOUT, ClientConfig, build_config
from ._core import PreparedCall, prepare_call
from ._endpoints import Endpoint
from ._exceptions import ConfigurationError
from ._models import ReplyEnvelope
from ._pool import DEFAULT_LIMITS
from ._request import RequestBase
from ._retry import Deadline, RetryPolicy
from ._types import Tags, TimeoutTypes

__all__ = ["BaseClient", "HttpClient"]

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)
ChunkT = TypeVar("ChunkT", bound=ReplyEnvelope)
ReplyT = TypeVar("ReplyT", bound=ReplyEnvelope)


class BaseClient(Generic[HttpClient]):
    """Configuration and request preparation shared by both clients (no I/O)."""

    _config: ClientConfig
    _http: HttpClient
    _owns_http: bool
    _limits: httpx.Limits
    _merged_headers: tuple[tuple[dict[str, str], httpx.Headers], ...]

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
        limits: httpx.Limits | None = None,
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
            limits: the connection pool's ``httpx.Limits`` (default: 1,000
                connections, all kept alive for 5 s idle); not with ``http_client``.

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
        if limits is not None and http_client is not None:
            raise ConfigurationError("give limits= to your own http_client, not to both")
        self._limits = DEFAULT_LIMITS if limits is None else limits
        self._owns_http = http_client is None
        self._http = self._new_http_client() if http_client is None else http_client
        self._merged_headers = self._merge_headers()

    def _new_http_client(self) -> HttpClient:
        raise NotImplementedError

    def _prepare(
        self,
        endpoint: Endpoint[ChunkT, ReplyT],
        request: RequestBase | None,
        arguments: Mapping[str, Any],
        *,
        stream: bool = False,
    ) -> PreparedCall[ChunkT, ReplyT]:
        return prepare_call(self._config, endpoint, request, arguments, stream=stream)

    def _merge_headers(self) -> tuple[tuple[dict[str, str], httpx.Headers], ...]:
        # The httpx client's headers merged with the SDK's, once; only for a client the
        # SDK built, whose headers nobody else changes.
        if not self._owns_http:
            return ()
        merged = []
        for headers in (self._config.headers, self._config.stream_headers):
            both = httpx.Headers(self._http.headers)
            both.update(headers)
            merged.append((headers, both))
        return tuple(merged)

    def _build_request(self, call: PreparedCall[Any, Any], deadline: Deadline) -> httpx.Request:
        timeout = deadline.timeout(call.timeout)
        if not self._http.cookies:
            # What build_request would build, without merging URL and headers per call
            # (about 15 µs); calls with header overrides, or cookies to send, take the
            # general path.
            for headers, merged in self._merged_headers:
                if call.headers is headers:
                    return httpx.Request(
                        "POST",
                        call.url,
                        content=call.content,
                        headers=merged,
                        extensions={"timeout": timeout.as_dict()},
                    )
        return self._http.build_request(
            "POST", call.url, content=call.content, headers=call.headers, timeout=timeout
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
        return {"config": self._config, "limits": self._limits}

    def __setstate__(self, state: dict[str, object]) -> None:
        config = state["config"]
        assert isinstance(config, ClientConfig)
        self._config = config
        limits = state.get("limits", DEFAULT_LIMITS)
        assert isinstance(limits, httpx.Limits)
        self._limits = limits
        self._owns_http = True
        self._http = self._new_http_client()
        self._merged_headers = self._merge_headers()
