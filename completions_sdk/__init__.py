"""A typed Python client for Enkrypt AI's AI Completions Proxy."""

from ._client import AsyncClient, Client
from ._config import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, InsecureTransportWarning
from ._detections import (
    BiasDetection,
    GuardrailDetails,
    GuardrailReport,
    GuardrailSummary,
    InjectionAttackDetection,
    KeywordDetection,
    NsfwDetection,
    PiiDetection,
    PolicyDetections,
    PolicyViolationDetection,
)
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompletionsError,
    ConfigurationError,
    ConflictError,
    GuardrailViolation,
    IncompleteStreamError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._models import Completion, CompletionChoice, CompletionChunk, Logprobs, Usage
from ._request import CompletionRequest, StreamOptions
from ._retry import RetryPolicy
from ._streaming import AsyncStream, Stream
from ._types import CompletionArgs, CompletionFields, RequestOptions
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "BiasDetection",
    "Client",
    "Completion",
    "CompletionArgs",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionFields",
    "CompletionRequest",
    "CompletionsError",
    "ConfigurationError",
    "ConflictError",
    "GuardrailDetails",
    "GuardrailReport",
    "GuardrailSummary",
    "GuardrailViolation",
    "IncompleteStreamError",
    "InjectionAttackDetection",
    "InsecureTransportWarning",
    "InternalServerError",
    "KeywordDetection",
    "Logprobs",
    "NotFoundError",
    "NsfwDetection",
    "PermissionDeniedError",
    "PiiDetection",
    "PolicyDetections",
    "PolicyViolationDetection",
    "RateLimitError",
    "RequestOptions",
    "RetryPolicy",
    "Stream",
    "StreamOptions",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
]
