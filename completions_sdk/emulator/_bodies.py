"""Reply bodies: the envelope and streaming both endpoints share, and the completion ones.

``Answer`` is what the application needs from either endpoint: the text the output
guardrails judge, the JSON body, and the streamed chunks. An endpoint says only what one
choice looks like (whole, and as the chunks of a stream); the envelope, ``usage``, the
detections and the order of the chunks are made here, once.

Streamed choices take turns, one chunk each (``n > 1``, or several prompts);
``finish_reason`` stays ``null`` until a choice's last chunk; the detections ride on the
last chunk with choices, and ``usage`` comes last, in a chunk of its own, when asked for.
Completion chunks have the completion's shape (``docs/proxy-api.md``, "Response body").
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._config import Deployment
from ._generation import GeneratedChoice, Generation, Piece, generate

__all__ = [
    "SYSTEM_FINGERPRINT",
    "Answer",
    "Body",
    "CompletionAnswer",
    "ReplyMeta",
    "completion_answer",
]

SYSTEM_FINGERPRINT = "fp_emulator"
Body = dict[str, Any]


@dataclass(frozen=True)
class ReplyMeta:
    """What every body of one reply shares: id, time, model, object names, quirks."""

    id: str
    created: int
    model: str
    object: str
    chunk_object: str
    quirks: bool = False

    @classmethod
    def new(
        cls, prefix: str, deployment: Deployment, body: Mapping[str, Any], *objects: str
    ) -> ReplyMeta:
        """Fresh metadata: a unique id with ``prefix``, the current time, the served model.

        ``objects`` are the ``object`` of the whole body, then of a chunk (default: the same).
        """
        return cls(
            f"{prefix}{uuid.uuid4().hex[:24]}",
            int(time.time()),
            deployment.model or body["model"],
            objects[0],
            objects[-1],
            deployment.quirks,
        )

    def envelope(self, *, chunk: bool = False) -> Body:
        """The fields that open every body (or every chunk)."""
        body: Body = {
            "id": self.id,
            "object": self.chunk_object if chunk else self.object,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        if self.quirks:
            body["prompt"] = []
        return body

    def finish_reason(self, choice: GeneratedChoice, last: bool = True) -> str | None:
        """The choice's ``finish_reason`` on its last body, in the service's words."""
        if not last:
            return None
        if self.quirks and choice.finish_reason == "stop":
            return "eos"  # the public service's word for a natural end
        return choice.finish_reason


@dataclass(frozen=True)
class Answer(ABC):
    """A generated reply, ready to be sent whole or streamed."""

    meta: ReplyMeta
    generation: Generation

    @property
    def text(self) -> str:
        """What the output guardrails judge: the first choice's text."""
        return self.generation.choices[0].text

    @abstractmethod
    def choice_body(self, choice: GeneratedChoice) -> Body:
        """One choice of the whole body."""

    @abstractmethod
    def choice_chunks(self, choice: GeneratedChoice) -> list[Body]:
        """One choice as streamed: its part of each of its chunks, in order."""

    def with_seed(self, body: Body, choice: GeneratedChoice) -> Body:
        """``body`` with the choice's ``seed``, which the public service sent (quirks)."""
        if self.meta.quirks:
            body["seed"] = choice.seed
        return body

    def body(self, detections: Body | None) -> Body:
        """The non-streamed reply."""
        body = self.meta.envelope()
        body["choices"] = [self.choice_body(choice) for choice in self.generation.choices]
        body["usage"] = self.generation.usage()
        if detections is not None:
            body["enkrypt_policy_detections"] = detections
        return body

    def chunks(self, detections: Body | None, *, include_usage: bool) -> list[Body]:
        """The streamed reply's chunks, choices taking turns, then ``usage`` if asked for."""
        lanes = [self.choice_chunks(choice) for choice in self.generation.choices]
        turns = (
            lane[position]
            for position in range(max(map(len, lanes), default=0))
            for lane in lanes
            if position < len(lane)
        )
        chunks = [{**self.meta.envelope(chunk=True), "choices": [choice]} for choice in turns]
        if detections is not None and chunks:
            chunks[-1]["enkrypt_policy_detections"] = detections
        if include_usage:
            usage = {"choices": [], "usage": self.generation.usage()}
            chunks.append({**self.meta.envelope(chunk=True), **usage})
        return chunks


@dataclass(frozen=True)
class CompletionAnswer(Answer):
    """A ``text_completion`` reply."""

    logprobs: bool

    def choice_body(self, choice: GeneratedChoice) -> Body:
        """The whole choice: text, log probabilities, finish reason."""
        return self._choice(choice, choice.pieces, last=True)

    def choice_chunks(self, choice: GeneratedChoice) -> list[Body]:
        """One token per chunk; a choice left empty by a stop sequence still sends one."""
        pieces: list[tuple[Piece, ...]] = [(piece,) for piece in choice.pieces] or [()]
        return [
            self._choice(choice, part, last=number == len(pieces) - 1)
            for number, part in enumerate(pieces)
        ]

    def _choice(self, choice: GeneratedChoice, pieces: Sequence[Piece], *, last: bool) -> Body:
        body: Body = {
            "text": "".join(piece.text for piece in pieces),
            "index": choice.index,
            "logprobs": _logprobs(pieces) if self.logprobs else None,
            "finish_reason": self.meta.finish_reason(choice, last),
        }
        return self.with_seed(body, choice)


def completion_answer(body: Mapping[str, Any], deployment: Deployment) -> CompletionAnswer:
    """The reply to a validated completion body."""
    served = "text.completion" if deployment.quirks else "text_completion"
    meta = ReplyMeta.new("cmpl-emu-", deployment, body, served)
    return CompletionAnswer(meta, generate(body), logprobs=body.get("logprobs") is not None)


def _logprobs(pieces: Sequence[Piece]) -> Body:
    return {
        "tokens": [piece.text for piece in pieces],
        "token_logprobs": [piece.logprob for piece in pieces],
        "top_logprobs": [piece.top for piece in pieces],
        "text_offset": [piece.offset for piece in pieces],
    }
