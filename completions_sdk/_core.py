"""Request building and reply parsing, shared by both clients; no sockets, no sleeping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import pydantic

from ._config import ClientConfig, as_timeout, check_deadline
from ._endpoints import Endpoint
from ._errors import decode_error_body, status_error
from ._exceptions import APIResponseValidationError, ConfigurationError
from ._models import ReplyEnvelope
from ._request import RequestBase
from ._retry import RetryPolicy
from ._types import RequestOptions

__all__ = ["PreparedCall", "parse_reply", "prepare_call", "raise_for_status"]

_OPTION_NAMES = frozenset(RequestOptions.__annotations__)
ReplyT = TypeVar("ReplyT", bound=ReplyEnvelope)
ChunkT = TypeVar("ChunkT", bound=ReplyEnvelope)


@dataclass(frozen=True, slots=True)
class PreparedCall(Generic[ChunkT, ReplyT]):
    """One validated call, ready to be sent as many times as the retry policy allows."""

    endpoint: Endpoint[ChunkT, ReplyT]
    url: httpx.URL
    content: bytes
    headers: dict[str, str] = field(repr=False)  # the API key is among them
    timeout: httpx.Timeout
    retry: RetryPolicy
    deadline: float | None
    request: RequestBase


def prepare_call(
    config: ClientConfig,
    endpoint: Endpoint[ChunkT, ReplyT],
    request: RequestBase | None,
    arguments: Mapping[str, Any],
    *,
    stream: bool,
) -> PreparedCall[ChunkT, ReplyT]:
    """Validate a call's request and options; raises before anything is sent."""
    options: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for name, value in arguments.items():
        (options if name in _OPTION_NAMES else fields)[name] = value
    fields.update(options.pop("extra_body", None) or {})
    body = _body(endpoint, request, fields, stream=stream)
    timeout = as_timeout(options["timeout"]) if "timeout" in options else config.timeout
    retry = config.retry
    if "max_retries" in options:
        retry = retry.with_max_retries(options["max_retries"])
    return PreparedCall(
        endpoint=endpoint,
        url=config.url(endpoint.path),
        content=body.to_json(),
        headers=_headers(config, options, stream=stream),
        timeout=timeout,
        retry=retry,
        deadline=check_deadline(options["deadline"]) if "deadline" in options else config.deadline,
        request=body,
    )


def _headers(config: ClientConfig, options: dict[str, Any], *, stream: bool) -> dict[str, str]:
    headers = config.headers_for(options)
    if not stream:
        return headers
    if headers is config.headers:
        return config.stream_headers
    return {**headers, "Accept": "text/event-stream"}


def _body(
    endpoint: Endpoint[Any, Any],
    request: RequestBase | None,
    fields: dict[str, Any],
    *,
    stream: bool,
) -> RequestBase:
    model = endpoint.request_model
    if request is not None and not isinstance(request, model):
        raise TypeError(
            f"request must be a {model.__name__}, got {type(request).__name__}; "
            "pass fields as keywords instead"
        )
    wants_stream = fields.get("stream", request.stream if request is not None else None)
    if not stream and wants_stream:
        raise ConfigurationError(
            f"{endpoint.method}() does not stream: call {endpoint.stream_method}() "
            "for a streamed reply"
        )
    if stream:
        fields["stream"] = True
    if request is None:
        return model(**fields)
    if not fields:
        return request
    # Re-validate the merged fields: model_copy(update=...) would skip every rule.
    return model(**{**request.model_dump(exclude_unset=True), **fields})


def raise_for_status(response: httpx.Response, config: ClientConfig) -> None:
    """Raise the SDK's exception for an error reply; the body must have been read."""
    if response.is_success:
        return
    body = decode_error_body(response.content)
    raise status_error(response, body, secret=config.redactor)


def parse_reply(response: httpx.Response, config: ClientConfig, model: type[ReplyT]) -> ReplyT:
    """The reply in a successful response; an ``error`` in a 200 body still raises."""
    try:
        reply = model.model_validate_json(response.content)
    except pydantic.ValidationError as exc:
        raise APIResponseValidationError(
            f"The proxy's reply is not a {model.__name__} ({_describe(response)}): "
            f"{exc.errors(include_url=False)[0]['msg']}",
            response=response,
        ) from None
    extra = reply.model_extra
    if extra and "error" in extra:
        body = decode_error_body(response.content)
        raise status_error(response, body, secret=config.redactor)
    return reply


def _describe(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type")
    return f"{response.status_code}, {kind}, {len(response.content)} bytes"
