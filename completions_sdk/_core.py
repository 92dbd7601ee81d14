"""Request building and reply parsing, shared by both clients; no sockets, no sleeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pydantic

from ._config import COMPLETIONS_PATH, ClientConfig, as_timeout
from ._errors import decode_error_body, status_error
from ._exceptions import APIResponseValidationError, APIStatusError, ConfigurationError
from ._models import Completion
from ._request import CompletionRequest
from ._retry import RetryPolicy
from ._types import CompletionArgs, RequestOptions

__all__ = ["PreparedCall", "parse_completion", "prepare_call", "raise_for_status"]

_OPTION_NAMES = frozenset(RequestOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """One validated call, ready to be sent as many times as the retry policy allows."""

    url: str
    content: bytes
    headers: dict[str, str]
    timeout: httpx.Timeout
    retry: RetryPolicy
    deadline: float | None
    request: CompletionRequest


def prepare_call(
    config: ClientConfig,
    request: CompletionRequest | None,
    arguments: CompletionArgs,
    *,
    stream: bool,
) -> PreparedCall:
    """Validate a call's request and options; raises before anything is sent."""
    options: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for name, value in arguments.items():
        (options if name in _OPTION_NAMES else fields)[name] = value
    fields.update(options.pop("extra_body", None) or {})
    body = _body(request, fields, stream=stream)
    timeout = as_timeout(options["timeout"]) if "timeout" in options else config.timeout
    retry = config.retry
    if "max_retries" in options:
        retry = retry.with_max_retries(options["max_retries"])
    return PreparedCall(
        url=config.url(COMPLETIONS_PATH),
        content=body.to_json(),
        headers=_headers(config, options, stream=stream),
        timeout=timeout,
        retry=retry,
        deadline=options.get("deadline", config.deadline),
        request=body,
    )


def _headers(config: ClientConfig, options: dict[str, Any], *, stream: bool) -> dict[str, str]:
    headers = config.headers_for(options)  # type: ignore[arg-type]
    if stream:
        headers = {**headers, "Accept": "text/event-stream"}
    return headers


def _body(
    request: CompletionRequest | None, fields: dict[str, Any], *, stream: bool
) -> CompletionRequest:
    if request is not None and not isinstance(request, CompletionRequest):
        raise TypeError(
            f"request must be a CompletionRequest, got {type(request).__name__}; "
            "pass fields as keywords instead"
        )
    wants_stream = fields.get("stream", request.stream if request is not None else None)
    if not stream and wants_stream:
        raise ConfigurationError("complete() does not stream: call stream() for a streamed reply")
    if stream:
        fields["stream"] = True
    if request is None:
        return CompletionRequest(**fields)
    if not fields:
        return request
    # Re-validate the merged fields: model_copy(update=...) would skip every rule.
    return CompletionRequest(**{**request.model_dump(exclude_unset=True), **fields})


def raise_for_status(response: httpx.Response, config: ClientConfig) -> None:
    """Raise the SDK's exception for an error reply; the body must have been read."""
    if response.is_success:
        return
    body = decode_error_body(response.content)
    raise status_error(response, body, secret=config.api_key.get_secret_value())


def parse_completion(response: httpx.Response, config: ClientConfig) -> Completion:
    """The ``Completion`` in a successful reply; an ``error`` in a 200 body still raises."""
    try:
        completion = Completion.model_validate_json(response.content)
    except pydantic.ValidationError as exc:
        raise APIResponseValidationError(
            f"The proxy's reply is not a completion ({_describe(response)}): "
            f"{exc.errors(include_url=False)[0]['msg']}",
            response=response,
        ) from None
    extra = completion.model_extra
    if extra and "error" in extra:
        raise _error_in_success(response, config)
    return completion


def _error_in_success(response: httpx.Response, config: ClientConfig) -> APIStatusError:
    return status_error(
        response, decode_error_body(response.content), secret=config.api_key.get_secret_value()
    )


def _describe(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type")
    return f"{response.status_code}, {kind}, {len(response.content)} bytes"
