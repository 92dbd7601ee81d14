"""Chat reply models: ``ChatCompletion``, ``ChatCompletionChunk`` and their parts.

Built on the same base as the completion models (``_reply_base.py``): unknown fields
kept, free strings for roles and finish reasons; the decode paths read them with
``lenient_validate``, so parts of an unexpected shape become ``None``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from ._chat_request import AssistantMessage, ToolCallParam
from ._reply_base import ProxyBody, ProxyReply, WireModel

__all__ = [
    "ChatChoice",
    "ChatChunkChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatDelta",
    "ChatLogprobs",
    "ChatMessage",
    "FunctionCallInfo",
    "ToolCall",
    "ToolCallDelta",
]


class FunctionCallInfo(WireModel):
    """The function a tool call invokes."""

    name: str | None = None
    """The function's name."""
    arguments: str | None = None
    """The arguments as the model wrote them: JSON text, not always valid."""


class ToolCall(WireModel):
    """A tool call in a reply."""

    id: str | None = None
    """The call's id: the ``tool_call_id`` of the tool message that answers it."""
    type: str | None = None
    """Always ``"function"`` so far."""
    function: FunctionCallInfo | None = None
    """The function to call and its arguments."""

    def to_param(self) -> ToolCallParam:
        """This call as the assistant message's ``tool_calls`` item sends it back."""
        function = self.function or FunctionCallInfo()
        return {
            "id": self.id or "",
            "type": "function",
            "function": {"name": function.name or "", "arguments": function.arguments or ""},
        }

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON (raises ``ValueError`` if they are not JSON)."""
        arguments = self.function.arguments if self.function else None
        return json.loads(arguments or "{}")


class ChatLogprobs(WireModel):
    """Log probabilities of the reply's tokens."""

    content: list[dict[str, Any]] | None = None
    """Per token of the content: ``token``, ``logprob``, ``top_logprobs``."""
    refusal: list[dict[str, Any]] | None = None
    """The same for a refusal."""


class ChatMessage(WireModel):
    """The model's reply message."""

    role: str | None = None
    """Who wrote it: ``"assistant"`` for a reply."""
    content: str | None = None
    """The text; ``None`` when the reply is only tool calls."""
    tool_calls: list[ToolCall] | None = None
    """The functions the model asks you to call."""
    refusal: str | None = None
    """The model's refusal message, when it refused."""

    def to_param(self) -> AssistantMessage:
        """This reply as the assistant message to send back in the conversation.

        Examples:
            >>> messages.append(reply.choices[0].message.to_param())
        """
        message: AssistantMessage = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_param() for call in self.tool_calls]
        return message


class ChatChoice(WireModel):
    """One generated reply."""

    index: int = 0
    """Which of the ``n`` replies this is."""
    message: ChatMessage | None = None
    """The reply message."""
    finish_reason: str | None = None
    """Why generation stopped: ``"stop"``, ``"length"``, ``"tool_calls"``, ... (a free string)."""
    logprobs: ChatLogprobs | None = None


class ChatCompletion(ProxyReply):
    """A chat completion reply (OpenAI's ``chat.completion`` object, plus detections)."""

    choices: list[ChatChoice] = Field(default_factory=list)
    """The replies, one per ``n``."""

    @property
    def text(self) -> str:
        """The message text of choice 0, or ``""``."""
        for choice in self.choices:
            if choice.index == 0 and choice.message is not None:
                return choice.message.content or ""
        return ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls of choice 0."""
        for choice in self.choices:
            if choice.index == 0 and choice.message is not None:
                return choice.message.tool_calls or []
        return []


class ToolCallDelta(WireModel):
    """A piece of a tool call in a streamed chunk (joined by ``index``)."""

    index: int = 0
    """Which tool call of the message this piece belongs to."""
    id: str | None = None
    """The call's id (in its first piece)."""
    type: str | None = None
    function: FunctionCallInfo | None = None
    """The name (first piece) and a piece of the arguments."""


class ChatDelta(WireModel):
    """What a streamed chunk adds to a choice's message."""

    role: str | None = None
    """The role (in the first chunk only)."""
    content: str | None = None
    """The next piece of text."""
    tool_calls: list[ToolCallDelta] | None = None
    """Pieces of tool calls."""
    refusal: str | None = None


class ChatChunkChoice(WireModel):
    """One choice's piece in a streamed chunk."""

    index: int = 0
    """Which choice this piece belongs to."""
    delta: ChatDelta | None = None
    """What this chunk adds to the choice's message."""
    finish_reason: str | None = None
    """Set in the choice's last chunk."""
    logprobs: ChatLogprobs | None = None


class ChatCompletionChunk(ProxyBody):
    """One event of a streamed chat completion."""

    choices: list[ChatChunkChoice] = Field(default_factory=list)
    """This chunk's pieces, by choice."""

    @property
    def text(self) -> str:
        """The content delta of choice 0, or ``""``."""
        for choice in self.choices:
            if choice.index == 0 and choice.delta is not None:
                return choice.delta.content or ""
        return ""
