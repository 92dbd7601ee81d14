"""Joining chat chunks: message content, refusals and tool-call deltas per choice (no I/O).

Tool calls arrive in pieces: the first delta of a call names its ``index``, ``id`` and
function name, later ones with the same ``index`` add to its ``arguments`` text.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from ._assembly import ChoiceAccumulator, StreamAssembler, TextBuffer
from ._chat_models import ChatChunkChoice, ChatCompletion, ChatCompletionChunk, ToolCallDelta

__all__ = ["ChatAssembler"]


class _ToolCallAccumulator:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.arguments = TextBuffer()

    def add(self, call: ToolCallDelta) -> None:
        self.id = call.id or self.id
        self.type = call.type or self.type
        if call.function is not None:
            self.name = call.function.name or self.name
            if call.function.arguments:
                self.arguments.append(call.function.arguments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type or "function",
            "function": {"name": self.name, "arguments": str(self.arguments)},
        }


class ChatChoiceAccumulator(ChoiceAccumulator):
    """What a chat choice has received: role, content, refusal, tool calls, logprobs."""

    __slots__ = ("content", "finish_reason", "logprobs", "refusal", "role", "tool_calls")

    def __init__(self) -> None:
        self.role: str | None = None
        self.content = TextBuffer()
        self.refusal = TextBuffer()
        self.tool_calls: dict[int, _ToolCallAccumulator] = {}
        self.finish_reason: str | None = None
        self.logprobs: list[dict[str, Any]] | None = None

    def add(self, choice: ChatChunkChoice) -> None:
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        if choice.logprobs is not None and choice.logprobs.content:
            if self.logprobs is None:
                self.logprobs = []
            self.logprobs.extend(choice.logprobs.content)
        delta = choice.delta
        if delta is None:
            return
        self.role = delta.role or self.role
        if delta.content:
            self.content.append(delta.content)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            tool = self.tool_calls.get(call.index)
            if tool is None:
                tool = self.tool_calls[call.index] = _ToolCallAccumulator()
            tool.add(call)

    def text(self) -> str:
        return str(self.content)

    def to_dict(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role or "assistant",
            "content": self.text() if self.content else None,
        }
        if self.refusal:
            message["refusal"] = str(self.refusal)
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
    accumulator_type = ChatChoiceAccumulator

    def _as_chunk_body(self, content: bytes) -> bytes:
        """A whole ``ChatCompletion`` shaped as one chunk: each ``message`` becomes a ``delta``.

        For a stream request answered with one JSON reply instead of events.
        """
        try:
            body = pydantic_core.from_json(content)
        except ValueError:
            return content  # decode() reports it
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list):
            return content
        reshaped = False
        for choice in choices:
            if isinstance(choice, dict) and "delta" not in choice and "message" in choice:
                choice["delta"] = message = choice.pop("message")
                _index_tool_calls(message)
                reshaped = True
        return pydantic_core.to_json(body) if reshaped else content


def _index_tool_calls(message: Any) -> None:
    # A message's tool calls carry no ``index``, a delta's do (and default to 0): without
    # one, the assembler joins them all into one call.
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    for position, call in enumerate(calls if isinstance(calls, list) else ()):
        if isinstance(call, dict):
            call.setdefault("index", position)
