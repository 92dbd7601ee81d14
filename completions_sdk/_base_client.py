"""``BaseClient``: configuration and request preparation shared by both clients (no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr
from typing_extensions import Self, TypedDict, Unpack

from ._body import ResponseLimits
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, ClientConfig, build_config
from ._core import PreparedCall
from ._exceptions import ConfigurationError
from ._quota import Limiter, RateLimit, estimate_tokens
from ._quota_gate import Gate, batch_scope
from ._redaction import Redactor
from ._reply_base import Usage
from ._retry import Deadline, RetryPolicy
from ._telemetry import Telemetry
from ._transport import bound_reads, renew_after_fork
from ._types import Tags, TimeoutTypes

__all__ = ["BaseClient", "ClientOptions", "HttpClient"]

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)


class ClientOptions(TypedDict, total=False):
    """The settings ``with_options`` can change; each one given replaces the original's.

    They mean what ``Client``'s arguments of the same names mean. The connection pool
    (``http_client``, ``limits``), the quota (``rate_limit``) and the telemetry providers
    are not among them: a copy shares the original's, so that the copies together keep to
    one quota.
    """

    api_key: str | SecretStr
    """The account's API key."""
    deployment: str
    """The deployment requests go to."""
    tags: Tags | None
    """Deployment tags (``None``: none)."""
    refresh_cache: bool | None
    """Ask the proxy to refresh its cache (``None``: the header is left out)."""
    base_url: str | httpx.URL
    """The proxy's address."""
    timeout: TimeoutTypes
    """Timeout of each attempt."""
    max_retries: int
    """Retries after a failed attempt."""
    retry_policy: RetryPolicy
    """Backoff, ``Retry-After`` cap and sleep functions."""
    deadline: float | None
    """Seconds for a whole call (``None``: no deadline)."""
    default_headers: Mapping[str, str]
    """More headers sent with every request (they replace the original's extra headers)."""
    response_limits: ResponseLimits
    """The most bytes of a reply, an error reply or a stream event kept in memory."""


class BaseClient(Generic[HttpClient]):
    """Configuration and request preparation shared by both clients (no I/O)."""

    _config: ClientConfig
    _http: HttpClient
    _owns_http: bool
    _pool_limits: httpx.Limits
    _response_limits: ResponseLimits
    _merged_headers: tuple[httpx.Headers, httpx.Headers] | None
    _shared_from: Self | None = None
    """The client whose pools this ``with_options`` copy uses (``None``: its own)."""

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
        rate_limit: RateLimit | None = None,
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
            rate_limit: a ``RateLimit`` every call of this client keeps to (threads,
                tasks and batches together); batches follow the server's 429s even
                without it.
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
        self._set_rate_limit(rate_limit)
        self._response_limits = response_limits or ResponseLimits()
        self._closed = False
        self._forked = False
        self._owns_http = http_client is None
        self._telemetry = Telemetry(tracer_provider, meter_provider)
        self._use(http_client)
        renew_after_fork(self)

    def with_options(self, **settings: Unpack[ClientOptions]) -> Self:
        """A client with other settings, sharing this one's connection pool.

        The original is unchanged. The copy sends through the original's pools (in a
        forked child, or under another event loop, the ones the original makes there):
        closing the copy leaves them open, closing the original closes them for both.

        Examples:
            >>> fast = client.with_options(timeout=5, max_retries=0, tags=["batch"])

        Raises:
            ConfigurationError: a setting is invalid, as ``Client(...)`` would say.
        """
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)  # what else a client holds is shared too
        copy._config = _reconfigure(self._config, settings, trust_env=self._http.trust_env)
        copy._response_limits = settings.get("response_limits", self._response_limits)
        copy._shared_from = self if self._shared_from is None else self._shared_from
        copy._merged_headers = copy._merge_headers()
        return copy

    def _new_http_client(self) -> HttpClient:
        raise NotImplementedError

    def _set_rate_limit(self, rate_limit: RateLimit | None) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError(
                f"rate_limit must be a RateLimit, got {type(rate_limit).__name__}"
            )
        self._rate_limit = rate_limit
        self._limiter = None if rate_limit is None else Limiter(rate_limit)

    def _client_limiter(self) -> Limiter | None:
        # A with_options copy keeps to its original's quota: also to the fresh limiter
        # the original makes in a forked child (the copy's would hold the parent's lock).
        return (self._shared_from or self)._limiter

    def _gate(self, call: PreparedCall[Any, Any], deadline: Deadline) -> Gate | None:
        """How this call's sends pass the quota: ``None`` when no limiter applies."""
        scope = batch_scope()
        limiter = self._client_limiter() if scope is None else scope.limiter
        if limiter is None:
            return None
        window = None if scope is None else scope.window
        tokens = estimate_tokens(call.request)
        return Gate(limiter, window, tokens, deadline, call.retry.max_retry_after)

    def _settle(self, call: PreparedCall[Any, Any], usage: Usage | None) -> None:
        """Correct the limiter's token estimate from the reply's ``usage`` (or a stream's)."""
        scope = batch_scope()
        limiter = self._client_limiter() if scope is None else scope.limiter
        used = usage.total_tokens if usage is not None else None
        if limiter is not None and used is not None:
            limiter.correct(estimate_tokens(call.request), used)

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
        # The parent's limiter lock may be held by a thread that does not exist here: the
        # child starts a fresh limiter (each process then keeps to the whole rate).
        self._set_rate_limit(self._rate_limit)

    def _stream_settings(self) -> dict[str, Any]:
        return {
            "redactor": self._redactor,
            "limits": self._response_limits,
            "bounded_reads": self._bounded_reads,
            "telemetry": self._telemetry,
            "settle": self._settle,
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
        if self._shared_from is not None:
            return self._shared_from.is_closed
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
            "rate_limit": self._rate_limit,
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
        rate_limit = state.get("rate_limit")
        assert rate_limit is None or isinstance(rate_limit, RateLimit)
        self._set_rate_limit(rate_limit)
        self._closed = False
        self._owns_http = True
        self._telemetry = Telemetry()
        self._use(None)
        renew_after_fork(self)


def _reconfigure(config: ClientConfig, settings: ClientOptions, *, trust_env: bool) -> ClientConfig:
    """``config`` with ``settings`` in place of its own, checked as ``build_config`` checks."""
    base_url = settings.get("base_url")
    new = build_config(
        api_key=settings.get("api_key", config.api_key),
        deployment=settings.get("deployment", config.deployment),
        tags=settings.get("tags", config.tags),
        refresh_cache=settings.get("refresh_cache", config.refresh_cache),
        base_url=config.base_url if base_url is None else base_url,
        timeout=settings.get("timeout", config.timeout),
        max_retries=settings.get("max_retries"),
        retry_policy=settings.get("retry_policy", config.retry),
        deadline=settings.get("deadline", config.deadline),
        default_headers=settings.get("default_headers", config.default_headers),
        trust_env=trust_env,
    )
    if base_url is not None or config.authorization is None:
        return new
    # The original base URL's user and password live in ``authorization``, not its URL.
    if any(header.lower() == "authorization" for header in new.default_headers):
        raise ConfigurationError(
            "base_url has a user and password and default_headers an Authorization header: "
            "give one of them"
        )
    return dataclasses.replace(
        new, authorization=config.authorization, url_secrets=config.url_secrets
    )
