"""Request building and reply parsing, shared by both clients; no sockets, no sleeping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from ._config import ClientConfig, as_timeout, check_deadline
from ._decode import check_choice_count, decode
from ._endpoints import Endpoint
from ._error_mapping import decode_error_body, status_error, transport_error
from ._exceptions import APIStatusError, CompletionsError, ConfigurationError
from ._headers import CallHeaders
from ._redaction import Redactor
from ._reply_base import ProxyBody, ProxyReply
from ._request_base import RequestBase
from ._retry import Deadline, RetryPolicy
from ._types import RequestOptions

__all__ = ["PreparedCall", "failure", "parse_reply", "prepare_call", "read_error"]

_OPTION_NAMES = frozenset(RequestOptions.__annotations__)
ReplyT = TypeVar("ReplyT", bound=ProxyReply)
ChunkT = TypeVar("ChunkT", bound=ProxyBody)


@dataclass(frozen=True, slots=True)
class PreparedCall(Generic[ChunkT, ReplyT]):
    """One validated call, ready to be sent as many times as the retry policy allows."""

    endpoint: Endpoint[ChunkT, ReplyT]
    url: httpx.URL
    content: bytes
    headers: CallHeaders = field(repr=False)  # the API key is among them
    timeout: httpx.Timeout
    retry: RetryPolicy
    deadline_seconds: float | None
    request: RequestBase
    max_choices: int
    """The most choices the request can produce: ``n`` per prompt."""


def prepare_call(
    config: ClientConfig,
    endpoint: Endpoint[ChunkT, ReplyT],
    request: RequestBase | None,
    arguments: Mapping[str, Any],
    *,
    stream: bool = False,
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
        headers=config.headers.for_call(options, stream=stream),
        timeout=timeout,
        retry=retry,
        deadline_seconds=(
            check_deadline(options["deadline"]) if "deadline" in options else config.deadline
        ),
        request=body,
        max_choices=_max_choices(body),
    )


def _max_choices(request: RequestBase) -> int:
    n = max(getattr(request, "n", None) or 1, getattr(request, "best_of", None) or 1)
    prompt = getattr(request, "prompt", None)
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        return int(n) * len(prompt)  # a list of prompts, not one prompt of token ids
    return int(n)


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


def read_error(response: httpx.Response, content: bytes, redactor: Redactor) -> APIStatusError:
    """The SDK's exception for an error reply whose (bounded) body is ``content``."""
    readable = httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"],
        content=content,
        request=response.request,
        extensions=response.extensions,
    )
    return status_error(readable, decode_error_body(content), secret=redactor)


def parse_reply(
    call: PreparedCall[Any, ReplyT], response: httpx.Response, content: bytes, redactor: Redactor
) -> ReplyT:
    """The reply in a successful response; an ``error`` in a 200 body still raises."""
    check_choice_count(content, call.max_choices, response)
    reply = decode(call.endpoint.reply_model, content, response, redactor=redactor)
    check_choice_count(reply, call.max_choices, response)
    return reply._received_with(response.headers)


def failure(error: httpx.HTTPError, request: httpx.Request, deadline: Deadline) -> CompletionsError:
    """The SDK's exception for a failed send or read: a passed deadline says so."""
    if deadline.passed():
        return deadline.error(request)
    return transport_error(error, request)
