"""Frozen client configuration: arguments, ``ENKRYPTAI_*`` fallbacks and header checks."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from ._base_url import InsecureTransportWarning, endpoint_url, parse_base_url
from ._exceptions import ConfigurationError
from ._headers import ClientHeaders, check_header, check_header_name, parse_tags
from ._redaction import Redactor
from ._retry import RetryPolicy
from ._types import Tags, TimeoutTypes

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "ClientConfig",
    "InsecureTransportWarning",
]

DEFAULT_BASE_URL = "https://api.enkryptai.com"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(
    max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=5.0
)
"""1,000 connections as openai allows, all kept alive (a busy connection must not push
an idle one out), each closed after 5 s idle as httpx does (see ``_pool.py``)."""
"""Two minutes per attempt to read a reply (guardrails plus a long completion), 10 s to connect."""


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """Everything a client needs to build requests; built once, never mutated."""

    api_key: SecretStr
    deployment: str
    base_url: httpx.URL
    timeout: httpx.Timeout
    retry: RetryPolicy
    deadline: float | None = None
    tags: tuple[str, ...] | None = None
    refresh_cache: bool | None = None
    default_headers: Mapping[str, str] = field(default_factory=dict)
    authorization: SecretStr | None = None
    """``Authorization`` built from the base URL's credentials, which the URL then lacks."""
    url_secrets: tuple[str, ...] = ()
    """The base URL's password in its written forms, for the redactor."""
    redactor: Redactor = field(init=False, compare=False)
    """Hides the API key and the base URL's password: hand it, not them, to what shows text."""
    headers: ClientHeaders = field(init=False, compare=False)
    """The headers of every call, built once (``_headers.py``)."""
    _urls: dict[str, httpx.URL] = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "redactor", Redactor(self.api_key.get_secret_value(), *self.url_secrets)
        )
        authorization = self.authorization.get_secret_value() if self.authorization else None
        headers = ClientHeaders(
            api_key=self.api_key.get_secret_value(),
            deployment=self.deployment,
            tags=self.tags,
            refresh_cache=self.refresh_cache,
            default_headers=self.default_headers,
            authorization=authorization,
        )
        object.__setattr__(self, "headers", headers)

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of an endpoint path, parsed once per path.

        httpx takes an ``httpx.URL`` as it is; a ``str`` would be joined and parsed again
        on every request (about 50 µs of a 300 µs call).
        """
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = endpoint_url(self.base_url, path)
        return url

    def __repr__(self) -> str:
        return (
            f"base_url={str(self.base_url)!r}, deployment={self.deployment!r}, "
            f"tags={list(self.tags) if self.tags else None!r}"
        )


def _from_env(value: str | None, variable: str) -> str | None:
    if value is not None:
        return value
    return os.environ.get(variable) or None


def _require(value: str | None, argument: str, variable: str, example: str) -> str:
    if not value:
        raise ConfigurationError(
            f"No {argument} given: pass {argument}={example} or set the {variable} variable"
        )
    return check_header(argument, value)


def build_config(
    *,
    api_key: str | SecretStr | None,
    deployment: str | None,
    tags: Tags | None,
    refresh_cache: bool | None,
    base_url: str | httpx.URL | None,
    timeout: TimeoutTypes,
    max_retries: int | None,
    retry_policy: RetryPolicy | None,
    deadline: float | None,
    default_headers: Mapping[str, str] | None,
    trust_env: bool = True,
) -> ClientConfig:
    """Resolve client arguments and environment fallbacks into a ``ClientConfig``.

    ``trust_env``: whether the httpx client takes proxies from the environment.
    """
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    key = _require(_from_env(api_key, "ENKRYPTAI_API_KEY"), "api_key", "ENKRYPTAI_API_KEY", "...")
    name = _require(
        _from_env(deployment, "ENKRYPTAI_DEPLOYMENT"),
        "deployment",
        "ENKRYPTAI_DEPLOYMENT",
        '"my-deployment"',
    )
    base = parse_base_url(
        _from_env(str(base_url) if base_url else None, "ENKRYPTAI_BASE_URL") or DEFAULT_BASE_URL,
        trust_env=trust_env,
    )
    policy = retry_policy or RetryPolicy()
    if max_retries is not None:
        policy = policy.with_max_retries(max_retries)
    extra: dict[str, Any] = {}
    for header, value in (default_headers or {}).items():
        extra[check_header_name(header)] = check_header(f"header {header!r}", value)
    if base.authorization and any(header.lower() == "authorization" for header in extra):
        raise ConfigurationError(
            "base_url has a user and password and default_headers an Authorization header: "
            "give one of them"
        )
    return ClientConfig(
        api_key=SecretStr(key),
        deployment=name,
        base_url=base.url,
        authorization=SecretStr(base.authorization) if base.authorization else None,
        url_secrets=base.secrets,
        timeout=as_timeout(timeout),
        retry=policy,
        deadline=check_deadline(deadline),
        tags=parse_tags(tags),
        refresh_cache=refresh_cache,
        default_headers=extra,
    )


def as_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """An ``httpx.Timeout`` from seconds, a ``Timeout`` or ``None`` (no timeout).

    Each phase must be ``None`` or a positive, finite number of seconds.
    """
    if not isinstance(timeout, httpx.Timeout):
        _check_seconds("timeout", timeout)
        return httpx.Timeout(timeout)
    for phase, seconds in timeout.as_dict().items():
        _check_seconds(f"timeout.{phase}", seconds)
    return timeout


def check_deadline(deadline: float | None) -> float | None:
    """A deadline must be ``None`` or a positive, finite number of seconds."""
    _check_seconds("deadline", deadline)
    return deadline


def _check_seconds(what: str, seconds: object) -> None:
    if seconds is None:
        return
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not (0 < seconds < math.inf)
    ):
        raise ConfigurationError(
            f"{what} must be None or a positive, finite number of seconds, got {seconds!r}"
        )
