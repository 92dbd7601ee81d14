"""Frozen client configuration: arguments, ``ENKRYPTAI_*`` fallbacks and header checks."""

from __future__ import annotations

import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from ._base_url import InsecureTransportWarning, endpoint_url, parse_base_url
from ._exceptions import ConfigurationError
from ._redaction import Redactor
from ._retry import RetryPolicy
from ._types import Tags, TimeoutTypes
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ClientConfig", "InsecureTransportWarning"]

DEFAULT_BASE_URL = "https://api.enkryptai.com"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
"""Two minutes per attempt to read a reply (guardrails plus a long completion), 10 s to connect."""

USER_AGENT = (
    f"completions-sdk/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
)

FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "upgrade", "te", "trailer"}
    | {"keep-alive", "proxy-connection"}
)
"""Headers that frame the message or steer the connection: httpx and h11 set them, and a
second value desynchronises the server or fails deep in h11 (RFC 9112, sections 6-9)."""


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
    headers: dict[str, str] = field(init=False)
    """The headers of a call without per-call overrides, built once."""
    stream_headers: dict[str, str] = field(init=False)
    """The same for a streamed call (``Accept: text/event-stream``)."""
    _urls: dict[str, httpx.URL] = field(init=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "redactor", Redactor(self.api_key.get_secret_value(), *self.url_secrets)
        )
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        _proxy_headers(headers, self.deployment, self.tags, self.refresh_cache)
        for name, value in self.default_headers.items():
            _put(headers, name, value)
        _put(headers, "apikey", self.api_key.get_secret_value())
        if self.authorization is not None:
            _put(headers, "Authorization", self.authorization.get_secret_value())
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "stream_headers", {**headers, "Accept": "text/event-stream"})

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of an endpoint path, parsed once per path.

        httpx takes an ``httpx.URL`` as it is; a ``str`` would be joined and parsed again
        on every request (about 50 µs of a 300 µs call).
        """
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = endpoint_url(self.base_url, path)
        return url

    def headers_for(self, options: Mapping[str, Any]) -> dict[str, str]:
        """The headers of one call: the client's, with this call's overrides applied."""
        if not options.keys() & {"deployment", "tags", "refresh_cache", "extra_headers"}:
            return self.headers
        headers = dict(self.headers)
        deployment = check_header("deployment", options.get("deployment", self.deployment))
        tags = parse_tags(options["tags"]) if "tags" in options else self.tags
        refresh = options.get("refresh_cache", self.refresh_cache)
        for name in ("X-Enkrypt-Tags", "X-Enkrypt-Refresh-Cache"):
            _put(headers, name, None)
        _proxy_headers(headers, deployment, tags, refresh)
        for name, value in options.get("extra_headers", {}).items():
            _put(headers, check_header_name(name), check_header(f"header {name!r}", value))
        return headers

    def __repr__(self) -> str:
        return (
            f"base_url={str(self.base_url)!r}, deployment={self.deployment!r}, "
            f"tags={list(self.tags) if self.tags else None!r}"
        )


def _proxy_headers(
    headers: dict[str, str], deployment: str, tags: Sequence[str] | None, refresh: bool | None
) -> None:
    if not deployment:
        raise ConfigurationError("deployment must not be empty")
    if refresh is not None and not isinstance(refresh, bool):
        raise ConfigurationError(
            f"refresh_cache must be True, False or None, got {type(refresh).__name__}"
        )
    _put(headers, "X-Enkrypt-Deployment", deployment)
    if tags:
        _put(headers, "X-Enkrypt-Tags", ",".join(tags))
    if refresh is not None:
        _put(headers, "X-Enkrypt-Refresh-Cache", "true" if refresh else "false")


def _put(headers: dict[str, str], name: str, value: str | None) -> None:
    """Set (or, with ``None``, remove) a header whatever the case of a name already there."""
    lower = name.lower()
    for existing in [key for key in headers if key.lower() == lower]:
        del headers[existing]
    if value is not None:
        headers[name] = value


_FIELD_VALUE = re.compile(r"[\x21-\x7e]([\t\x20-\x7e]*[\x21-\x7e])?|")
"""RFC 9110 field-value, ASCII only: visible characters with inner spaces or tabs."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110 token, the grammar of a header name."""


def check_header(what: str, value: str) -> str:
    """Reject a header value that could split or corrupt the request, or that h11 refuses.

    The message never quotes the value: it may be the API key.
    """
    _refuse_request_splitting(what, value)
    if not _FIELD_VALUE.fullmatch(value):
        raise ConfigurationError(
            f"{what} must be printable ASCII without leading or trailing whitespace"
        )
    return value


def check_header_name(name: str) -> str:
    """Reject a header name that is not an RFC 9110 token, or that frames the request."""
    _refuse_request_splitting("a header name", name)
    if not _TOKEN.fullmatch(name):
        raise ConfigurationError(f"header name {name!r} is not a valid HTTP token")
    if name.lower() in FRAMING_HEADERS:
        raise ConfigurationError(
            f"header {name!r} cannot be set: httpx frames the request and manages the "
            "connection itself"
        )
    return name


def _refuse_request_splitting(what: str, value: str) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")
    if any(char in value for char in "\r\n\0"):
        raise ConfigurationError(f"{what} must not contain CR, LF or NUL characters")


def parse_tags(tags: Tags | None) -> tuple[str, ...] | None:
    """Tags from a list or a comma string; each non-empty, without commas or line breaks."""
    if tags is None:
        return None
    items = [tag.strip() for tag in tags.split(",")] if isinstance(tags, str) else list(tags)
    for tag in items:
        check_header("tags", tag)
        if not tag.strip() or "," in tag:
            raise ConfigurationError(
                f"tags must be non-empty and contain no commas, got {tag!r} in {items!r}"
            )
    return tuple(items) or None


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
