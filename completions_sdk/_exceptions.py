"""The exceptions the SDK raises, all under one root.

::

    CompletionsError
    ├── ConfigurationError          bad client or call configuration (also a ValueError)
    ├── APIConnectionError          the request did not get a complete reply
    │   ├── APITimeoutError         connect/read/write/pool timeout or the call's deadline
    │   └── IncompleteStreamError   a stream ended before ``data: [DONE]``
    ├── APIResponseValidationError  a reply that could not be understood
    └── APIStatusError              the proxy answered with an error
        ├── BadRequestError             400
        ├── AuthenticationError         401
        ├── PermissionDeniedError       403
        ├── NotFoundError               404
        ├── ConflictError               409
        ├── UnprocessableEntityError    422
        ├── RateLimitError              429
        ├── InternalServerError         >= 500
        └── GuardrailViolation          blocked by the proxy's guardrails (any status)

Pydantic's ``ValidationError`` (not part of this tree) is raised for an invalid request,
before anything is sent.

Every one pickles (for ``multiprocessing`` and ``concurrent.futures`` workers) with its
attributes. The ``request`` and ``response`` they carry are scrubbed when the error is
made: credential headers (``apikey``, ``Authorization``...) read ``[redacted]`` and URLs
have no password, so neither a traceback nor a pickle shows a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._redaction import NO_SECRETS

if TYPE_CHECKING:
    from ._detections import PolicyDetections

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CompletionsError",
    "ConfigurationError",
    "ConflictError",
    "GuardrailViolation",
    "IncompleteStreamError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
]


class CompletionsError(Exception):
    """Root of every error this SDK raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``cls(*args)``, which the keyword-only arguments of
        # most of our errors refuse: unpickling failed and a multiprocessing.Pool hung.
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: type[CompletionsError], args: tuple[Any, ...]) -> CompletionsError:
    """An error of ``cls`` with ``args``, its attributes set by unpickling, not ``__init__``."""
    return cls.__new__(cls, *args)


class ConfigurationError(CompletionsError, ValueError):
    """A client argument, environment variable or header value is missing or invalid."""


class APIConnectionError(CompletionsError):
    """The request could not be sent, or its reply could not be read to the end.

    Attributes:
        message: what went wrong, in one line.
        request: the ``httpx.Request`` that failed, when one was built.
    """

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = None if request is None else NO_SECRETS.request(request)


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout, or the call's overall deadline, ran out."""


class IncompleteStreamError(APIConnectionError):
    """A streamed reply ended before ``data: [DONE]``.

    Attributes:
        partial_texts: the text received so far, by choice index.
        chunks_received: how many chunks were delivered before the break (when none
            were, the call was retried like any connection error).
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        partial_texts: Mapping[int, str] | None = None,
        chunks_received: int = 0,
    ) -> None:
        super().__init__(message, request=request)
        self.partial_texts: dict[int, str] = dict(partial_texts or {})
        self.chunks_received = chunks_received

    @property
    def partial_text(self) -> str:
        """The text of choice 0 received before the stream broke."""
        return self.partial_texts.get(0, "")


class APIResponseValidationError(CompletionsError):
    """The proxy's reply was not a body this SDK can understand (not JSON, wrong shape).

    Attributes:
        message: what was wrong with the reply, with a short excerpt of it.
        response: the ``httpx.Response``, when there was one.
    """

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = None if response is None else NO_SECRETS.response(response)


class APIStatusError(CompletionsError):
    """The proxy answered with an error.

    Attributes:
        status_code: the HTTP status of the reply.
        request_id: the proxy's request id header, if it sent one (quote it to support).
        body: the decoded error body (a dict when it was JSON, else the text).
        error_type: the error's ``type`` (or ``code``) when the body named one.
        response: the ``httpx.Response``.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.response = NO_SECRETS.response(response)
        self.status_code = response.status_code
        self.body = body
        self.error_type = error_type
        self.request_id = request_id_from(response.headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400: the proxy rejected the request body or headers."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this deployment."""


class NotFoundError(APIStatusError):
    """404: unknown deployment (or wrong ``base_url``)."""


class ConflictError(APIStatusError):
    """409: a conflicting request; retried by default."""


class UnprocessableEntityError(APIStatusError):
    """422: the body was well-formed but its values were refused."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried by default, honouring ``Retry-After``."""


class InternalServerError(APIStatusError):
    """5xx: a fault in the proxy or the model behind it; retried by default."""


class GuardrailViolation(APIStatusError):
    """The proxy's guardrails blocked the request or its output.

    Attributes:
        detections: what the input and output guardrails found, parsed.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        error_type: str | None = None,
        detections: PolicyDetections,
    ) -> None:
        super().__init__(message, response=response, body=body, error_type=error_type)
        self.detections = detections


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for(status_code: int) -> type[APIStatusError]:
    """The exception class for an error status."""
    if status_code >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status_code, APIStatusError)


_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-enkrypt-request-id")


def request_id_from(headers: httpx.Headers) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None
