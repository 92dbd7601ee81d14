"""Error replies in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

The proxy's error schema is not documented (``docs/proxy-api.md``, "Errors"); OpenAI's shape
is what the SDK expects first, so the emulator sends it.
"""

from __future__ import annotations

import http
from dataclasses import dataclass, field
from typing import Any

from ._faults import Faults

__all__ = ["ErrorReply", "error_body", "fault_reply", "invalid"]

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}
_CODES = {429: "rate_limit_exceeded"}


@dataclass(frozen=True)
class ErrorReply:
    """An error to answer: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(
    message: str, *, type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """The ``{"error": {...}}`` body."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_type(status: int) -> str:
    """OpenAI's error ``type`` for a status."""
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def invalid(
    param: str | None, message: str, *, code: str = "invalid_value", status: int = 422
) -> ErrorReply:
    """A request the emulator refuses; ``param`` names the field or header at fault."""
    return ErrorReply(status, error_body(message, type=error_type(status), code=code, param=param))


def fault_reply(faults: Faults) -> ErrorReply:
    """The error reply of a scripted ``status`` fault, with its retry headers."""
    status = faults.status
    assert status is not None  # callers only ask when a status is scripted
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    message = f"{phrase} (emulated fault {faults.spec()!r})"
    code = _CODES.get(status, "server_error" if status >= 500 else "emulated_fault")
    headers: dict[str, str] = {}
    if faults.retry_after is not None:
        seconds = faults.retry_after
        headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
    if faults.retry_after_ms is not None:
        headers["retry-after-ms"] = str(faults.retry_after_ms)
    if faults.x_should_retry is not None:
        headers["x-should-retry"] = "true" if faults.x_should_retry else "false"
    return ErrorReply(status, error_body(message, type=error_type(status), code=code), headers)
