"""Decoding stream events into chunks, and chunks into a final reply (no I/O).

A stream is data-only server-sent events ended by ``data: [DONE]``
(``docs/proxy-api.md``, "Response body"); ``_sse.py`` drops events without data
(comments, keep-alives). An ``event: error`` event, or one carrying an ``error``, raises
like an error reply; everything else is a chunk. ``StreamAssembler`` does the part both
endpoints share; a subclass per endpoint knows how its choices grow.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ._decode import decode
from ._error_mapping import decode_error_body, status_error
from ._exceptions import APIResponseValidationError, IncompleteStreamError
from ._lenient import lenient_validate
from ._models import Completion, CompletionChoice, CompletionChunk
from ._redaction import NO_SECRETS, Redactor
from ._reply_base import ProxyBody, ProxyReply, Usage

__all__ = ["ChoiceAccumulator", "CompletionAssembler", "StreamAssembler", "TextBuffer"]

DONE = b"[DONE]"
ChunkT = TypeVar("ChunkT", bound=ProxyBody)
ReplyT = TypeVar("ReplyT", bound=ProxyReply)
_HEADER_FIELDS = ("id", "object", "created", "model", "system_fingerprint")


class TextBuffer:
    """Text that arrives in pieces, kept compactly until it is joined.

    A stream's pieces are often a character or two; a list of them costs a pointer (and
    often an object) per piece. Every ``_BLOCK`` pieces are joined into one block, so a
    long stream costs about a byte per character, and the joining copies each character
    once.
    """

    __slots__ = ("_blocks", "_pieces")
    _BLOCK = 256

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []

    def append(self, piece: str) -> None:
        """Add the next piece."""
        self._pieces.append(piece)
        if len(self._pieces) >= self._BLOCK:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()

    def __bool__(self) -> bool:
        return bool(self._blocks or self._pieces)

    def __str__(self) -> str:
        return "".join(self._blocks) + "".join(self._pieces)


class ChoiceAccumulator:
    """What one choice has received so far; a subclass per endpoint knows what its choices carry."""

    __slots__ = ()

    def add(self, choice: Any) -> None:
        """Take in a chunk's piece of this choice."""
        raise NotImplementedError

    def text(self) -> str:
        """The text received so far."""
        raise NotImplementedError

    def to_dict(self, index: int) -> dict[str, Any]:
        """The choice as the final reply's body has it."""
        raise NotImplementedError


class StreamAssembler(Generic[ChunkT, ReplyT]):
    """Turns events into chunks and remembers what the final reply needs.

    Only the pieces of text (and the like) are kept, never the chunk objects. A choice
    index the request cannot produce (``max_choices``) is a protocol error, not data to
    keep.
    """

    chunk_model: ClassVar[type[Any]]
    reply_model: ClassVar[type[Any]]
    accumulator_type: ClassVar[type[ChoiceAccumulator]]

    def __init__(
        self,
        response: httpx.Response,
        *,
        redactor: Redactor = NO_SECRETS,
        max_choices: int | None = None,
    ) -> None:
        self.response = response
        self.done = False
        self.chunks_received = 0
        self._redactor = redactor
        self._max_choices = max_choices
        self._header: dict[str, Any] = {}
        self._choices: dict[int, ChoiceAccumulator] = {}
        self._usage: Usage | None = None
        self._detections: Any = None

    @property
    def usage(self) -> Usage | None:
        """The token counts a chunk carried (with ``stream_options.include_usage``)."""
        return self._usage

    def decode(self, event: tuple[bytes, bytes]) -> ChunkT | None:
        """The chunk an event carries; ``None`` for ``[DONE]``.

        An ``event: error`` event is an error whatever its data holds.
        """
        kind, data = event
        if data == DONE:
            self.done = True
            return None
        if kind == b"error":
            body = decode_error_body(data)
            raise status_error(self.response, body, secret=self._redactor, in_stream=True)
        chunk = decode(
            self.chunk_model, data, self.response, redactor=self._redactor, in_stream=True
        )
        return self.absorb(chunk)

    def decode_body(self, content: bytes) -> ChunkT:
        """A reply that was plain JSON instead of a stream, as one final chunk."""
        data = self._as_chunk_body(content)
        chunk = self.absorb(decode(self.chunk_model, data, self.response, redactor=self._redactor))
        self.done = True
        return chunk

    def _as_chunk_body(self, content: bytes) -> bytes:
        """A whole reply's body in the shape of a chunk (a completion's already is)."""
        return content

    def absorb(self, chunk: ChunkT) -> ChunkT:
        """Record what the final reply needs from ``chunk``."""
        self.chunks_received += 1
        for name in _HEADER_FIELDS:
            value = getattr(chunk, name)
            if value is not None:
                self._header.setdefault(name, value)
        self._absorb_choices(chunk)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.policy_detections is not None:
            self._detections = chunk.policy_detections.raw
        return chunk

    def _absorb_choices(self, chunk: ChunkT) -> None:
        for choice in getattr(chunk, "choices", ()):
            received = self._choices.get(choice.index)
            if received is None:
                self._check_index(choice.index)
                received = self._choices[choice.index] = self.accumulator_type()
            received.add(choice)

    def _check_index(self, index: int) -> None:
        limit = self._max_choices
        if limit is not None and not 0 <= index < limit:
            raise APIResponseValidationError(
                f"A stream event carries choice index {index}, but the request can produce "
                f"{limit} choice{'' if limit == 1 else 's'} (n per prompt): a protocol error",
                response=self.response,
            )

    def _final_choices(self) -> list[dict[str, Any]]:
        return [received.to_dict(index) for index, received in sorted(self._choices.items())]

    @property
    def partial_texts(self) -> dict[int, str]:
        """The text received so far, by choice index."""
        return {index: received.text() for index, received in sorted(self._choices.items())}

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

    def final_reply(self) -> ReplyT:
        """The reply assembled from every chunk received."""
        body: dict[str, Any] = {
            **self._header,
            "choices": self._final_choices(),
            "usage": self._usage,
        }
        if self._detections is not None:
            body["enkrypt_policy_detections"] = self._detections
        reply: ReplyT = lenient_validate(self.reply_model, body)
        return reply._received_with(self.response.headers)


class CompletionChoiceAccumulator(ChoiceAccumulator):
    """What a completion choice has received: text pieces, finish reason, logprobs."""

    __slots__ = ("finish_reason", "logprobs", "texts")

    def __init__(self) -> None:
        self.texts = TextBuffer()
        self.finish_reason: str | None = None
        self.logprobs: dict[str, list[Any]] | None = None

    def add(self, choice: CompletionChoice) -> None:
        if choice.text:
            self.texts.append(choice.text)
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        if choice.logprobs is not None:
            joined = self.logprobs if self.logprobs is not None else {}
            for key, values in choice.logprobs.model_dump(exclude_none=True).items():
                if isinstance(values, list):  # unknown keys may hold anything
                    joined.setdefault(key, []).extend(values)
            self.logprobs = joined

    def text(self) -> str:
        return str(self.texts)

    def to_dict(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "text": self.text(),
            "finish_reason": self.finish_reason,
            "logprobs": self.logprobs,
        }


class CompletionAssembler(StreamAssembler[CompletionChunk, Completion]):
    """Joins completion chunks into a ``Completion``."""

    chunk_model = CompletionChunk
    reply_model = Completion
    accumulator_type = CompletionChoiceAccumulator
