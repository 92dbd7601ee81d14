"""Decoding stream events into chunks, and chunks into a final ``Completion`` (no I/O).

A stream is data-only server-sent events ended by ``data: [DONE]``
(``shared/spec/PROXY_API.md``, "Response body"). Events without data (only ``id:`` or
``retry:`` fields, comments, keep-alives) are skipped; an event carrying an ``error`` raises
like an error reply; everything else is a ``CompletionChunk``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pydantic
from httpx_sse import ServerSentEvent

from ._errors import decode_error_body, status_error
from ._exceptions import APIResponseValidationError, IncompleteStreamError
from ._models import Completion, CompletionChunk, Usage

__all__ = ["StreamAssembler"]

DONE = "[DONE]"


class _ChoiceParts:
    __slots__ = ("finish_reason", "logprobs", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.finish_reason: str | None = None
        self.logprobs: dict[str, list[Any]] | None = None


class StreamAssembler:
    """Turns events into chunks and remembers what a final ``Completion`` needs.

    Only the pieces of text (and logprobs) are kept, never the chunk objects.
    """

    def __init__(self, response: httpx.Response, *, secret: str | None = None) -> None:
        self.response = response
        self.done = False
        self.chunks_received = 0
        self._secret = secret
        self._header: dict[str, Any] = {}
        self._choices: dict[int, _ChoiceParts] = {}
        self._usage: Usage | None = None
        self._detections: Any = None

    def decode(self, event: ServerSentEvent) -> CompletionChunk | None:
        """The chunk an event carries; ``None`` for ``[DONE]`` and events without data."""
        data = event.data
        if not data:
            return None
        if data == DONE:
            self.done = True
            return None
        return self.absorb(self._parse(data.encode()))

    def decode_body(self, content: bytes) -> CompletionChunk:
        """A reply that was plain JSON instead of a stream, as one final chunk."""
        chunk = self.absorb(self._parse(content))
        self.done = True
        return chunk

    def _parse(self, data: bytes) -> CompletionChunk:
        try:
            chunk = CompletionChunk.model_validate_json(data)
        except pydantic.ValidationError as exc:
            raise APIResponseValidationError(
                f"A stream event is not a completion chunk: "
                f"{exc.errors(include_url=False)[0]['msg']} (data: {data[:200]!r})",
                response=self.response,
            ) from None
        if chunk.model_extra and "error" in chunk.model_extra:
            raise status_error(self.response, decode_error_body(data), secret=self._secret)
        return chunk

    def absorb(self, chunk: CompletionChunk) -> CompletionChunk:
        """Record what the final completion needs from ``chunk``."""
        self.chunks_received += 1
        for name in ("id", "object", "created", "model", "system_fingerprint"):
            value = getattr(chunk, name)
            if value is not None:
                self._header.setdefault(name, value)
        for choice in chunk.choices:
            parts = self._choices.get(choice.index)
            if parts is None:
                parts = self._choices[choice.index] = _ChoiceParts()
            if choice.text:
                parts.texts.append(choice.text)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason
            if choice.logprobs is not None:
                _join_logprobs(parts, choice.logprobs.model_dump(exclude_none=True))
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.policy_detections is not None:
            self._detections = chunk.policy_detections.raw
        return chunk

    @property
    def partial_texts(self) -> dict[int, str]:
        """The text received so far, by choice index."""
        return {index: "".join(parts.texts) for index, parts in sorted(self._choices.items())}

    def incomplete(self, reason: str) -> IncompleteStreamError:
        """The error for a stream that ended before ``[DONE]``."""
        request = self.response.request
        return IncompleteStreamError(
            f"The stream from {request.method} {request.url} ended before data: [DONE] "
            f"after {self.chunks_received} chunks: {reason}",
            request=request,
            partial_texts=self.partial_texts,
            chunks_received=self.chunks_received,
        )

    def final_completion(self) -> Completion:
        """A ``Completion`` assembled from every chunk received."""
        choices = [
            {
                "index": index,
                "text": "".join(parts.texts),
                "finish_reason": parts.finish_reason,
                "logprobs": parts.logprobs,
            }
            for index, parts in sorted(self._choices.items())
        ]
        body: dict[str, Any] = {**self._header, "choices": choices, "usage": self._usage}
        if self._detections is not None:
            body["enkrypt_policy_detections"] = self._detections
        return Completion.model_validate(body)


def _join_logprobs(parts: _ChoiceParts, logprobs: dict[str, list[Any]]) -> None:
    if parts.logprobs is None:
        parts.logprobs = {}
    for key, values in logprobs.items():
        parts.logprobs.setdefault(key, []).extend(values)
