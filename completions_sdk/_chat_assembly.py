"""Joining chat chunks: message content, refusals and tool-call deltas per choice (no I/O).

Tool calls arrive in pieces: the first delta of a call names its ``index``, ``id`` and
function name, later ones with the same ``index`` add to its ``arguments`` text.
"""

from __future__ import annotations

from typing import Any

import httpx

from ._assembly import StreamAssembler
from ._chat_models import ChatChunkChoice, ChatCompletion, ChatCompletionChunk

__all__ = ["ChatAssembler"]


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type or "function",
            "function": {"name": self.name, "arguments": "".join(self.arguments)},
        }


class _MessageParts:
    __slots__ = ("content", "finish_reason", "logprobs", "refusal", "role", "tool_calls")

    def __init__(self) -> None:
        self.role: str | None = None
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, _ToolCallParts] = {}
        self.finish_reason: str | None = None
        self.logprobs: list[dict[str, Any]] | None = None

    def to_dict(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role or "assistant",
            "content": "".join(self.content) if self.content else None,
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [c.to_dict() for _, c in sorted(self.tool_calls.items())]
        return {
            "index": index,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": None if self.logprobs is None else {"content": self.logprobs},
        }


class ChatAssembler(StreamAssembler[ChatCompletionChunk, ChatCompletion]):
    """Joins chat chunks into a ``ChatCompletion``."""

    chunk_model = ChatCompletionChunk
    reply_model = ChatCompletion

    def __init__(self, response: httpx.Response, *, secret: str | None = None) -> None:
        super().__init__(response, secret=secret)
        self._choices: dict[int, _MessageParts] = {}

    def _absorb_choices(self, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            self._absorb_choice(choice)

    def _absorb_choice(self, choice: ChatChunkChoice) -> None:
        parts = self._choices.get(choice.index)
        if parts is None:
            parts = self._choices[choice.index] = _MessageParts()
        if choice.finish_reason is not None:
            parts.finish_reason = choice.finish_reason
        if choice.logprobs is not None and choice.logprobs.content:
            parts.logprobs = [*(parts.logprobs or []), *choice.logprobs.content]
        delta = choice.delta
        if delta is None:
            return
        parts.role = delta.role or parts.role
        if delta.content:
            parts.content.append(delta.content)
        if delta.refusal:
            parts.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            tool = parts.tool_calls.get(call.index)
            if tool is None:
                tool = parts.tool_calls[call.index] = _ToolCallParts()
            tool.id = call.id or tool.id
            tool.type = call.type or tool.type
            if call.function is not None:
                tool.name = call.function.name or tool.name
                if call.function.arguments:
                    tool.arguments.append(call.function.arguments)

    def _final_choices(self) -> list[dict[str, Any]]:
        return [parts.to_dict(index) for index, parts in sorted(self._choices.items())]

    @property
    def partial_texts(self) -> dict[int, str]:
        """The message content received so far, by choice index."""
        return {index: "".join(parts.content) for index, parts in sorted(self._choices.items())}
