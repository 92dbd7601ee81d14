"""The one place where failures become the SDK's exceptions.

``transport_error`` maps httpx's exceptions; ``status_error`` maps an error reply (or an
error event in a stream). The error body's shape is not documented
(``docs/proxy-api.md``, "Errors"): ``error`` may be an object, a plain string, a
JSON string, or a Python dict printed into a string. Each form is parsed without ``eval``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import httpx
import pydantic_core

from ._base_url import API_PREFIX
from ._detections import PolicyDetections
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CompletionsError,
    GuardrailViolation,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    error_class_for,
)
from ._lenient import lenient_validate
from ._redaction import NO_SECRETS, Redactor

__all__ = ["as_redactor", "decode_error_body", "redact", "status_error", "transport_error"]

MAX_LITERAL_LENGTH = 64 * 1024
"""Longest string parsed as a Python literal: bounds the work a hostile body can cause."""
MAX_MESSAGE_LENGTH = 1000

_HINTS: dict[type[APIStatusError], str] = {
    AuthenticationError: "Check the API key (api_key= or ENKRYPTAI_API_KEY).",
    PermissionDeniedError: "Check that this API key may use the deployment.",
    NotFoundError: "Check the deployment name and base_url.",
    RateLimitError: "Slow down, or raise max_retries to wait for the limit to reset.",
}
_DOUBLED_PATH_HINT = (
    "The path {path!r} names the endpoint twice: base_url must be the proxy's base "
    "address (e.g. https://api.enkryptai.com), not an endpoint's URL."
)


def transport_error(error: httpx.HTTPError, request: httpx.Request | None) -> CompletionsError:
    """The SDK exception for an httpx transport failure."""
    target = "the request"
    if request is not None:
        target = f"{request.method} {NO_SECRETS.url(request.url)}"
    if _is_timeout(error):
        kind = type(error).__name__.replace("Timeout", " timeout").lower()
        return APITimeoutError(f"{target} failed: {kind}", request=request)
    reason = str(error) or type(error).__name__
    return APIConnectionError(f"{target} failed: {reason}", request=request)


def _is_timeout(error: httpx.HTTPError) -> bool:
    if not isinstance(error, httpx.TimeoutException):
        return False
    # httpx-aiohttp reports every aiohttp connection error as ConnectTimeout, a refused
    # connection included: only a timeout underneath makes it one.
    cause = error.__cause__
    return not (
        type(cause).__module__.startswith("aiohttp") and not isinstance(cause, TimeoutError)
    )


def status_error(
    response: httpx.Response,
    body: Any,
    *,
    secret: Redactor | str | None = None,
    in_stream: bool = False,
) -> APIStatusError:
    """The SDK exception for an error reply whose body was decoded into ``body``.

    ``secret``: the client's ``Redactor`` (or its API key), to hide what a server echoes.
    ``in_stream``: the error came as an event of a stream whose status was a success.
    """
    redactor = as_redactor(secret)
    error = _error_object(body)
    message = redactor.text(_message(error, body, response))
    error_type = _field(error, "type") or _field(error, "code")
    try:
        body = redactor.value(body)
    except RecursionError:  # too deep to search for a secret: not kept
        body = None
    detections = _detections(body, error)
    status = f"{response.status_code} {response.reason_phrase}".strip()
    if in_stream:
        status = "an error event in the stream"
    response = redactor.response(response)
    if detections is not None:
        return GuardrailViolation(
            f"Blocked by the proxy's guardrails ({status}): {message}",
            response=response,
            body=body,
            error_type=error_type,
            detections=detections,
        )
    cls = error_class_for(response.status_code)
    hint = _hint(cls, response)
    text = f"{status}: {message}"
    if hint:
        text = f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {hint}"
    return cls(text, response=response, body=body, error_type=error_type)


def _hint(cls: type[APIStatusError], response: httpx.Response) -> str | None:
    if cls is NotFoundError:
        # An endpoint URL given as base_url that the SDK could not take apart (a gateway's
        # own prefix in between, say): the endpoint path then shows twice.
        path = _request_path(response)
        if path.count(API_PREFIX + "/") >= 2:
            return _DOUBLED_PATH_HINT.format(path=path)
    return _HINTS.get(cls)


def _request_path(response: httpx.Response) -> str:
    try:
        return response.request.url.path
    except RuntimeError:  # a reply built without its request
        return ""


def as_redactor(secret: Redactor | str | None) -> Redactor:
    """A ``Redactor`` as given, or one for a bare API key."""
    if isinstance(secret, Redactor):
        return secret
    return Redactor(secret) if secret else NO_SECRETS


def redact(text: str, secret: Redactor | str | None) -> str:
    """``text`` with the secrets replaced by ``[redacted]`` (a server may echo them back)."""
    return as_redactor(secret).text(text)


def decode_error_body(content: bytes) -> Any:
    """An error body as a dict when it is JSON (or a printed dict), else as text."""
    try:
        body = pydantic_core.from_json(content)
    except ValueError:
        body = content.decode("utf-8", "replace")
    if isinstance(body, str):
        return _loose_mapping(body) or body
    return body


def _loose_mapping(text: str) -> dict[str, Any] | None:
    """A dict from JSON text or a Python dict's repr; ``None`` when it is neither."""
    text = text.strip()
    if not text.startswith("{") or len(text) > MAX_LITERAL_LENGTH:
        return None
    try:
        value = pydantic_core.from_json(text)
    except ValueError:
        try:
            # literal_eval only builds literals: no names, calls or attributes are run.
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _error_object(body: Any) -> Any:
    if not isinstance(body, Mapping):
        return body
    error = body.get("error", body)
    if isinstance(error, str):
        return _loose_mapping(error) or error
    return error


def _field(error: Any, name: str) -> str | None:
    value = error.get(name) if isinstance(error, Mapping) else None
    return str(value) if value is not None else None


def _message(error: Any, body: Any, response: httpx.Response) -> str:
    message: Any = None
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("detail") or error.get("error")
    elif isinstance(error, str):
        message = error
    if not message and isinstance(body, Mapping):
        message = body.get("message") or body.get("detail")
    if not message:
        message = response.reason_phrase or "no error message in the reply"
    text = message if isinstance(message, str) else str(message)
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[:MAX_MESSAGE_LENGTH] + "..."
    return text


def _detections(body: Any, error: Any) -> PolicyDetections | None:
    for holder in (body, error):
        if isinstance(holder, Mapping):
            raw = holder.get("enkrypt_policy_detections")
            if isinstance(raw, Mapping):
                return lenient_validate(PolicyDetections, dict(raw))
    return None
