"""The one decode step: a body's bytes become a reply or a chunk, or the SDK's error.

Replies, stream chunks and a stream answered with a whole body all pass here: validate
(leniently: a field of an unexpected shape is repaired, not fatal), then raise the error a
body carries. A body that is not UTF-8 is read with U+FFFD in place of the bad bytes, the
same for a reply and a stream. Nothing here does I/O.
"""

from __future__ import annotations

from typing import TypeVar

import httpx
import pydantic

from ._error_mapping import decode_error_body, status_error
from ._exceptions import APIResponseValidationError
from ._lenient import lenient_validate
from ._redaction import Redactor
from ._sse import UnreadableBody

__all__ = ["check_choice_count", "decode", "unreadable"]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)
_EXCERPT = 200


def decode(
    model: type[ModelT],
    data: bytes,
    response: httpx.Response,
    *,
    redactor: Redactor,
    in_stream: bool = False,
) -> ModelT:
    """``data`` validated as ``model``; raises the error it carries, if any."""
    try:
        body = lenient_validate(model, data)
    except pydantic.ValidationError as exc:
        body = _repaired(model, data, exc, response, redactor=redactor, in_stream=in_stream)
    extra = body.model_extra
    if extra and "error" in extra:
        raise status_error(response, decode_error_body(data), secret=redactor, in_stream=in_stream)
    return body


def _repaired(
    model: type[ModelT],
    data: bytes,
    error: pydantic.ValidationError,
    response: httpx.Response,
    *,
    redactor: Redactor,
    in_stream: bool,
) -> ModelT:
    try:
        data.decode()
    except UnicodeDecodeError:
        try:
            return lenient_validate(model, data.decode("utf-8", "replace"))
        except pydantic.ValidationError as exc:
            error = exc
    reason = error.errors(include_url=False)[0]["msg"]
    if in_stream:
        excerpt = redactor.text(data[:_EXCERPT].decode("utf-8", "replace"))
        message = f"A stream event is not a {model.__name__}: {reason} (data: {excerpt!r})"
    else:
        kind = response.headers.get("content-type", "no content type")
        where = f"{response.status_code}, {kind}, {len(data)} bytes"
        message = f"The proxy's reply is not a {model.__name__} ({where}): {reason}"
    raise APIResponseValidationError(message, response=response) from None


def unreadable(error: UnreadableBody, response: httpx.Response) -> APIResponseValidationError:
    """The error for a body past a size limit, or in a coding that cannot be read."""
    return APIResponseValidationError(str(error), response=response)


_SCAN_FROM = 64 * 1024
"""Bodies smaller than this cannot hold enough choices to matter: not scanned."""


def check_choice_count(
    reply: bytes | pydantic.BaseModel, limit: int, response: httpx.Response
) -> None:
    """Refuse a reply with more choices than the request can produce.

    Given the raw bytes of a large body, counts the ``"index"`` keys first (a C-speed
    scan; inside JSON strings quotes are escaped), so that a million choices are refused
    before they cost a gigabyte of objects; given the reply, counts its choices exactly.
    """
    if isinstance(reply, bytes):
        if len(reply) < _SCAN_FROM:
            return
        count = reply.count(b'"index"')
        if count <= 16 * limit + 4096:  # room for tool calls and fields this SDK does not know
            return
    else:
        count = len(getattr(reply, "choices", None) or ())
        if count <= limit:
            return
    raise APIResponseValidationError(
        f"The reply holds {'about ' if isinstance(reply, bytes) else ''}{count:,} choices, "
        f"but the request can produce {limit} (n per prompt): a protocol error",
        response=response,
    )
