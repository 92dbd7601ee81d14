"""Keyword-argument types shared by ``Client`` and ``AsyncClient``.

``CompletionFields`` mirrors ``CompletionRequest`` and ``ChatFields`` mirrors
``ChatCompletionRequest`` (a test keeps them in step) so that an IDE completes
``client.complete(max_tok...`` while the rules stay in the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from typing_extensions import TypedDict

from ._chat_request import ChatMessageParam, ResponseFormat, ToolChoice, ToolParam
from ._request import Prompt
from ._request_base import StreamOptions

__all__ = [
    "ChatArgs",
    "ChatFields",
    "CompletionArgs",
    "CompletionFields",
    "RequestOptions",
    "TimeoutTypes",
]

TimeoutTypes = float | httpx.Timeout | None
"""Seconds for every phase, an ``httpx.Timeout`` per phase, or ``None`` for no timeout."""

Tags = Sequence[str] | str
"""Tags as a list, or as one comma-separated string."""


class _SharedFields(TypedDict, total=False):
    model: str
    enkrypt_context: str | None
    frequency_penalty: float | None
    logit_bias: Mapping[int, float] | Mapping[str, float] | None
    max_tokens: int | None
    n: int | None
    presence_penalty: float | None
    seed: int | None
    stop: str | list[str] | None
    stream_options: StreamOptions | None
    temperature: float | None
    top_p: float | None
    user: str | None


class CompletionFields(_SharedFields, total=False):
    """The body fields of ``CompletionRequest`` (see there for each rule)."""

    prompt: Prompt | None
    best_of: int | None
    echo: bool | None
    logprobs: int | None
    suffix: str | None


class ChatFields(_SharedFields, total=False):
    """The body fields of ``ChatCompletionRequest`` (see there for each rule)."""

    messages: Sequence[ChatMessageParam]
    logprobs: bool | None
    top_logprobs: int | None
    max_completion_tokens: int | None
    response_format: ResponseFormat | None
    tools: Sequence[ToolParam] | None
    tool_choice: ToolChoice | None
    parallel_tool_calls: bool | None


class RequestOptions(TypedDict, total=False):
    """Per-call settings; each one given overrides the client's for this call only."""

    deployment: str
    """The deployment name (``X-Enkrypt-Deployment``)."""
    tags: Tags | None
    """Deployment tags (``X-Enkrypt-Tags``); ``None`` sends none."""
    refresh_cache: bool | None
    """Ask the proxy to refresh its cache (``X-Enkrypt-Refresh-Cache``); ``None`` omits it."""
    timeout: TimeoutTypes
    """Timeout of each attempt."""
    deadline: float | None
    """Seconds for the whole call, every attempt and wait included."""
    max_retries: int
    """Retries after the first attempt."""
    extra_headers: Mapping[str, str]
    """More headers to send (they win over the SDK's own)."""
    extra_body: Mapping[str, Any]
    """More body fields to send, for server features newer than this SDK."""


class CompletionArgs(CompletionFields, RequestOptions, total=False):
    """Everything ``complete()`` and ``stream()`` accept as keywords."""


class ChatArgs(ChatFields, RequestOptions, total=False):
    """Everything ``chat()`` and ``stream_chat()`` accept as keywords."""
