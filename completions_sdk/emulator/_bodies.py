"""Reply bodies: a ``text_completion`` object, or the chunks of a streamed one.

Streamed chunks have the completion's shape (``PROXY_API.md``, "Response body"): each
choice carries one token, ``finish_reason`` stays ``null`` until that choice's last
chunk, and the choices of ``n > 1`` (or of several prompts) take turns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._generation import GeneratedChoice, Generation, Piece

__all__ = ["SYSTEM_FINGERPRINT", "ReplyMeta", "chunk_bodies", "completion_body"]

SYSTEM_FINGERPRINT = "fp_emulator"


@dataclass(frozen=True)
class ReplyMeta:
    """What every body of one reply shares."""

    id: str
    created: int
    model: str
    logprobs: bool
    quirks: bool = False

    @classmethod
    def new(cls, model: str, *, logprobs: bool, quirks: bool = False) -> ReplyMeta:
        """Fresh metadata: a unique id and the current time."""
        return cls(f"cmpl-emu-{uuid.uuid4().hex[:24]}", int(time.time()), model, logprobs, quirks)

    def envelope(self) -> dict[str, Any]:
        """The fields that open every body."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "text.completion" if self.quirks else "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        if self.quirks:
            body["prompt"] = []
        return body


def completion_body(
    generation: Generation, meta: ReplyMeta, detections: dict[str, Any] | None
) -> dict[str, Any]:
    """The non-streamed reply."""
    body = meta.envelope()
    body["choices"] = [
        _choice(meta, choice, choice.pieces, choice.finish_reason) for choice in generation.choices
    ]
    body["usage"] = generation.usage()
    if detections is not None:
        body["enkrypt_policy_detections"] = detections
    return body


def chunk_bodies(
    generation: Generation,
    meta: ReplyMeta,
    detections: dict[str, Any] | None,
    *,
    include_usage: bool,
) -> list[dict[str, Any]]:
    """The streamed reply's chunks, content first, then ``usage`` if asked for.

    ``detections`` go on the last content chunk.
    """
    # One chunk per token; a choice left empty by a stop sequence still sends one chunk,
    # to carry its finish_reason.
    lanes: list[list[tuple[Piece, ...]]] = [
        [(piece,) for piece in choice.pieces] or [()] for choice in generation.choices
    ]
    chunks: list[dict[str, Any]] = []
    for position in range(max(map(len, lanes), default=0)):
        for choice, lane in zip(generation.choices, lanes, strict=True):
            if position < len(lane):
                finish_reason = choice.finish_reason if position == len(lane) - 1 else None
                chunk = meta.envelope()
                chunk["choices"] = [_choice(meta, choice, lane[position], finish_reason)]
                chunks.append(chunk)
    if detections is not None and chunks:
        chunks[-1]["enkrypt_policy_detections"] = detections
    if include_usage:
        chunks.append({**meta.envelope(), "choices": [], "usage": generation.usage()})
    return chunks


def _choice(
    meta: ReplyMeta, choice: GeneratedChoice, pieces: Sequence[Piece], finish_reason: str | None
) -> dict[str, Any]:
    if meta.quirks and finish_reason == "stop":
        finish_reason = "eos"  # the public service's word for a natural end
    body: dict[str, Any] = {
        "text": "".join(piece.text for piece in pieces),
        "index": choice.index,
        "logprobs": _logprobs(pieces) if meta.logprobs else None,
        "finish_reason": finish_reason,
    }
    if meta.quirks:
        body["seed"] = choice.seed
    return body


def _logprobs(pieces: Sequence[Piece]) -> dict[str, Any]:
    return {
        "tokens": [piece.text for piece in pieces],
        "token_logprobs": [piece.logprob for piece in pieces],
        "top_logprobs": [piece.top for piece in pieces],
        "text_offset": [piece.offset for piece in pieces],
    }
