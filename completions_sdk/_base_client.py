"""``BaseClient``: configuration and request preparation shared by both clients (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from ._body import ResponseLimits
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, ClientConfig, build_config
from ._core import PreparedCall
from ._exceptions import ConfigurationError
from ._redaction import Redactor
from ._retry import Deadline, RetryPolicy
from ._telemetry import Telemetry
from ._transport import bound_reads, renew_after_fork
from ._types import Tags, TimeoutTypes

__all__ = ["BaseClient", "HttpClient"]

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)


class BaseClient(Generic[HttpClient]):
    """Configuration and request preparation shared by both clients (no I/O)."""

    _config: ClientConfig
    _http: HttpClient
    _owns_http: bool
    _pool_limits: httpx.Limits
    _response_limits: ResponseLimits
    _merged_headers: tuple[httpx.Headers, httpx.Headers] | None

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
        response_limits: ResponseLimits | None = None,
        http_client: HttpClient | None = None,
        limits: httpx.Limits | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        """Configure a client; arguments left out fall back to ``ENKRYPTAI_*`` variables.

        Args:
            api_key: the account's API key (default: ``ENKRYPTAI_API_KEY``).
            deployment: the deployment's saved name (default: ``ENKRYPTAI_DEPLOYMENT``).
            tags: deployment tags, a list or a comma-separated string.
            refresh_cache: ask the proxy to refresh stale deployment/policy/model data.
            base_url: the proxy's address (default: ``ENKRYPTAI_BASE_URL``, then
                ``https://api.enkryptai.com``); an endpoint URL (``.../ai-proxy``,
                ``.../ai-proxy/completions``, ``.../ai-proxy/chat/completions``) is cut
                to its base; a query string is kept; ``user:password@`` is sent as Basic auth.
            timeout: per-attempt timeout in seconds or an ``httpx.Timeout``
                (default: 120 s to read, 10 s to connect).
            max_retries: retries after a failed attempt (default 2; ``0`` disables).
            retry_policy: backoff, ``Retry-After`` cap and sleep functions.
            deadline: seconds for a whole call, attempts and waits included.
            default_headers: more headers sent with every request.
            response_limits: the most bytes of a reply, an error reply or a stream event
                kept in memory (default ``ResponseLimits()``: 64 MiB, 1 MiB, 8 MiB).
            http_client: your own ``httpx`` client (you keep the job of closing it).
            limits: the connection pool's ``httpx.Limits`` (default: 1,000
                connections, all kept alive for 5 s idle); not with ``http_client``.
            tracer_provider: an OpenTelemetry ``TracerProvider`` for this client's spans
                (default: the global one; see docs/observability.md). Not pickled.
            meter_provider: an OpenTelemetry ``MeterProvider`` for its metrics (default:
                the global one). Not pickled.

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
            trust_env=http_client is None or http_client.trust_env,
        )
        if limits is not None and http_client is not None:
            raise ConfigurationError("give limits= to your own http_client, not to both")
        self._pool_limits = DEFAULT_LIMITS if limits is None else limits
        self._response_limits = response_limits or ResponseLimits()
        self._closed = False
        self._forked = False
        self._owns_http = http_client is None
        self._telemetry = Telemetry(tracer_provider, meter_provider)
        self._use(http_client)
        renew_after_fork(self)

    def _new_http_client(self) -> HttpClient:
        raise NotImplementedError

    def _use(self, http_client: HttpClient | None) -> None:
        self._http = self._own_http_client() if http_client is None else http_client
        # Only the SDK's own pools read through the deadline-bounded streams.
        self._bounded_reads = http_client is None and bound_reads(self._http)
        self._merged_headers = self._merge_headers()
        self._forked = False

    def _own_http_client(self) -> HttpClient:
        http = self._new_http_client()
        bound_reads(http)
        return http

    def _after_fork(self) -> None:
        # In the child of a fork: the parent's sockets are left as they are (closing them
        # would end the parent's connections too), and the child opens its own on its
        # first call (no TLS set-up in the fork hook, nor in a child that never calls). A
        # client of the user's own cannot be renewed: see docs/configuration.md.
        if self._owns_http:
            self._forked = True

    def _stream_settings(self) -> dict[str, Any]:
        return {
            "redactor": self._redactor,
            "limits": self._response_limits,
            "bounded_reads": self._bounded_reads,
            "telemetry": self._telemetry,
        }

    def _merge_headers(self) -> tuple[httpx.Headers, httpx.Headers] | None:
        # The httpx client's headers merged with the SDK's, once (plain, streamed); only
        # for a client the SDK built, whose headers nobody else changes.
        if not self._owns_http:
            return None
        merged = []
        for stream in (False, True):
            both = httpx.Headers(self._http.headers)
            both.update(self._config.headers.client_headers(stream=stream))
            merged.append(both)
        return merged[0], merged[1]

    def _build_request(
        self, http: HttpClient, call: PreparedCall[Any, Any], deadline: Deadline
    ) -> httpx.Request:
        timeout = deadline.timeout(call.timeout)
        headers = call.headers
        if headers.shared and self._merged_headers is not None and not http.cookies:
            # What build_request would build, without merging URL and headers per call
            # (about 15 µs); calls with header overrides, or cookies to send, take the
            # general path.
            return httpx.Request(
                "POST",
                call.url,
                content=call.content,
                headers=self._merged_headers[headers.stream],
                extensions={"timeout": timeout.as_dict()},
            )
        return http.build_request(
            "POST", call.url, content=call.content, headers=headers.values, timeout=timeout
        )

    @property
    def _redactor(self) -> Redactor:
        return self._config.redactor

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
        return self._closed if self._owns_http else self._http.is_closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config!r})"

    def __getstate__(self) -> dict[str, object]:
        # Pickling (for multiprocessing, Spark or Ray workers) carries the configuration,
        # never live connections: the copy opens its own. Nor the telemetry providers
        # (they hold exporters and threads): the copy records through its process's global
        # providers.
        if not self._owns_http:
            raise TypeError(
                f"a {type(self).__name__} built with http_client= cannot be pickled: "
                "its connections belong to you; pickle one without it"
            )
        return {
            "config": self._config,
            "pool_limits": self._pool_limits,
            "response_limits": self._response_limits,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        config, limits = state["config"], state.get("response_limits", ResponseLimits())
        assert isinstance(config, ClientConfig)
        assert isinstance(limits, ResponseLimits)
        self._config = config
        pool_limits = state.get("pool_limits", DEFAULT_LIMITS)
        assert isinstance(pool_limits, httpx.Limits)
        self._pool_limits = pool_limits
        self._response_limits = limits
        self._closed = False
        self._owns_http = True
        self._telemetry = Telemetry()
        self._use(None)
        renew_after_fork(self)
