"""Chat reply bodies: a ``chat.completion`` object, or the chunks of a streamed one.

Streamed as OpenAI streams chat: per choice, a first delta with the role, then one
content token per chunk, or a tool call split over several chunks (index, id, type and
function name with empty arguments first, then the arguments ``ARGUMENTS_PIECE``
characters at a time), and last an empty delta with the ``finish_reason``. The envelope,
turns, detections and ``usage`` are ``Answer``'s, shared with completions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._bodies import Answer, Body, ReplyMeta
from ._chat_generation import ToolCall, generate_chat
from ._config import Deployment
from ._generation import GeneratedChoice, Piece

__all__ = ["ARGUMENTS_PIECE", "ChatAnswer", "chat_answer"]

ARGUMENTS_PIECE = 5
"""Characters of a tool call's arguments in each streamed chunk after the first."""


@dataclass(frozen=True)
class ChatAnswer(Answer):
    """A ``chat.completion`` reply."""

    tool_calls: tuple[ToolCall | None, ...]
    logprobs: bool

    @property
    def text(self) -> str:
        """The first choice's content, or the arguments of its tool call."""
        call = self.tool_calls[0]
        return super().text if call is None else call.arguments

    def choice_body(self, choice: GeneratedChoice) -> Body:
        """The whole choice: the assistant's message, log probabilities, finish reason."""
        call = self.tool_calls[choice.index]
        message: Body = {"role": "assistant", "content": None if call else choice.text}
        if call is not None:
            message["tool_calls"] = [call.body()]
        return self._choice(choice, message, choice.pieces, last=True)

    def choice_chunks(self, choice: GeneratedChoice) -> list[Body]:
        """The role, then the content tokens or the tool call in pieces, then the end."""
        call = self.tool_calls[choice.index]
        role = {"role": "assistant", "content": None if call else ""}
        # Only content tokens carry log probabilities (``None``: this delta has none).
        deltas: list[tuple[Body, Sequence[Piece] | None]] = [(role, None)]
        if call is None:
            deltas += [({"content": piece.text}, (piece,)) for piece in choice.pieces]
        else:
            deltas += [(delta, None) for delta in _tool_call_deltas(call)]
        deltas.append(({}, None))
        return [
            self._choice(choice, delta, pieces, last=number == len(deltas) - 1, key="delta")
            for number, (delta, pieces) in enumerate(deltas)
        ]

    def _choice(
        self,
        choice: GeneratedChoice,
        message: Body,
        pieces: Sequence[Piece] | None,
        *,
        last: bool,
        key: str = "message",
    ) -> Body:
        body: Body = {
            "index": choice.index,
            key: message,
            "logprobs": _logprobs(pieces) if self.logprobs and pieces is not None else None,
            "finish_reason": self.meta.finish_reason(choice, last),
        }
        return self.with_seed(body, choice)


def chat_answer(body: Mapping[str, Any], deployment: Deployment) -> ChatAnswer:
    """The reply to a validated chat body."""
    meta = ReplyMeta.new(
        "chatcmpl-emu-", deployment, body, "chat.completion", "chat.completion.chunk"
    )
    chat = generate_chat(body)
    return ChatAnswer(meta, chat.generation, chat.tool_calls, logprobs=body.get("logprobs") is True)


def _tool_call_deltas(call: ToolCall) -> list[Body]:
    """A tool call split: its name with empty arguments, then the arguments in pieces."""
    first = {"index": 0, **call.body()}
    first["function"] = {"name": call.name, "arguments": ""}
    pieces = [
        call.arguments[start : start + ARGUMENTS_PIECE]
        for start in range(0, len(call.arguments), ARGUMENTS_PIECE)
    ]
    rest = [{"index": 0, "function": {"arguments": piece}} for piece in pieces]
    return [{"tool_calls": [part]} for part in (first, *rest)]


def _logprobs(pieces: Sequence[Piece]) -> Body:
    """OpenAI's chat ``logprobs``: a ``content`` entry per token, with its alternatives."""
    return {
        "content": [
            {
                "token": piece.text,
                "logprob": piece.logprob,
                "bytes": list(piece.text.encode()),
                "top_logprobs": [
                    {"token": token, "logprob": logprob, "bytes": list(token.encode())}
                    for token, logprob in (piece.top or {}).items()
                ],
            }
            for piece in pieces
        ],
        "refusal": None,
    }
