"""Every header the SDK sends: built once per client, with one call's overrides, checked.

``ClientHeaders`` holds a client's headers (proxy headers, the key, ``default_headers``)
for a plain and a streamed call; ``for_call`` applies one call's options. A call without
overrides gets the client's own headers and says so (``CallHeaders.shared``): the client
then sends the httpx headers it merged once, instead of merging them per call.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ._exceptions import ConfigurationError
from ._types import Tags
from ._version import __version__

__all__ = [
    "ACCEPT_ENCODING",
    "USER_AGENT",
    "CallHeaders",
    "ClientHeaders",
    "check_header",
    "check_header_name",
    "parse_tags",
]

USER_AGENT = (
    f"completions-sdk/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
)
ACCEPT_ENCODING = "gzip, deflate"
"""The codings the client inflates itself, in bounded slices (``_body.py``)."""
FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "upgrade", "te", "trailer"}
    | {"keep-alive", "proxy-connection"}
)
"""Headers that frame the message or steer the connection: httpx and h11 set them, and a
second value desynchronises the server or fails deep in h11 (RFC 9112, sections 6-9)."""
_CALL_OPTIONS = frozenset({"deployment", "tags", "refresh_cache", "extra_headers"})


@dataclass(frozen=True, slots=True)
class CallHeaders:
    """The headers of one call."""

    values: dict[str, str]
    shared: bool
    """The client's own headers, unchanged by the call (its pre-merged headers apply)."""
    stream: bool


class ClientHeaders:
    """A client's headers for a plain and a streamed call, built and checked once."""

    __slots__ = ("_plain", "_stream", "deployment", "refresh_cache", "tags")

    def __init__(
        self,
        *,
        api_key: str,
        deployment: str,
        tags: tuple[str, ...] | None,
        refresh_cache: bool | None,
        default_headers: Mapping[str, str],
        authorization: str | None,
    ) -> None:
        self.deployment, self.tags, self.refresh_cache = deployment, tags, refresh_cache
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": USER_AGENT,
        }
        _proxy_headers(headers, deployment, tags, refresh_cache)
        for name, value in default_headers.items():
            _put(headers, name, value)
        _put(headers, "apikey", api_key)
        if authorization is not None:
            _put(headers, "Authorization", authorization)
        self._plain = CallHeaders(headers, shared=True, stream=False)
        self._stream = CallHeaders(
            {**headers, "Accept": "text/event-stream"}, shared=True, stream=True
        )

    def client_headers(self, *, stream: bool) -> dict[str, str]:
        """The client's own headers of a plain or a streamed call."""
        return (self._stream if stream else self._plain).values

    def for_call(self, options: Mapping[str, Any], *, stream: bool) -> CallHeaders:
        """The headers of one call: the client's, with this call's overrides applied."""
        own = self._stream if stream else self._plain
        if not options.keys() & _CALL_OPTIONS:
            return own
        headers = dict(own.values)
        deployment = check_header("deployment", options.get("deployment", self.deployment))
        tags = parse_tags(options["tags"]) if "tags" in options else self.tags
        refresh = options.get("refresh_cache", self.refresh_cache)
        for name in ("X-Enkrypt-Tags", "X-Enkrypt-Refresh-Cache"):
            _put(headers, name, None)
        _proxy_headers(headers, deployment, tags, refresh)
        for name, value in options.get("extra_headers", {}).items():
            _put(headers, check_header_name(name), check_header(f"header {name!r}", value))
        return CallHeaders(headers, shared=False, stream=stream)


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
