"""Deterministic chat "model": the reply to a conversation, as text or as a tool call.

The text comes from ``_generation`` with the last user message as the prompt, so a chat
request and a completion request with that prompt and seed get the same words; ``usage``
counts the tokens of the whole conversation. A tool call replaces the text when tools are
given and ``tool_choice`` asks for one: ``"required"``, a named function, or ``"auto"``
(OpenAI's default when tools are given) when the last user message mentions a tool's name.
The call's arguments are ``{"query": <the last user message>}``, whole whatever
``max_tokens`` says (a cut call would be of no use to a test).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._generation import Generation, generate
from ._tokens import conversation_tokens, message_text, tokenize

__all__ = ["ChatGeneration", "ToolCall", "generate_chat"]


@dataclass(frozen=True)
class ToolCall:
    """A call of one of the request's functions."""

    id: str
    name: str
    arguments: str
    """The arguments as JSON text."""

    def body(self) -> dict[str, Any]:
        """The call as a message's ``tool_calls`` item."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True)
class ChatGeneration:
    """The choices of a chat reply, and the tool call that replaces each one's text."""

    generation: Generation
    tool_calls: tuple[ToolCall | None, ...]
    """One item per choice, by index: ``None`` for a text reply."""


def generate_chat(body: Mapping[str, Any]) -> ChatGeneration:
    """Every choice for a validated chat body."""
    messages = body["messages"]
    prompt = _last_user_text(messages)
    top_logprobs = body.get("top_logprobs") or 0
    generation = generate(
        {
            "prompt": prompt,
            "n": body.get("n"),
            "seed": body.get("seed"),
            "stop": body.get("stop"),
            "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens"),
            "logprobs": top_logprobs if body.get("logprobs") else None,
        }
    )
    name = _tool_to_call(body, prompt)
    if name is None:
        calls: tuple[ToolCall | None, ...] = (None,) * len(generation.choices)
        choices = generation.choices
    else:
        arguments = json.dumps({"query": prompt})
        calls = tuple(
            _tool_call(name, arguments, body.get("seed"), choice.index)
            for choice in generation.choices
        )
        choices = tuple(
            replace(
                choice,
                pieces=(),
                completion_tokens=len(tokenize(arguments)),
                finish_reason="tool_calls",
            )
            for choice in generation.choices
        )
    return ChatGeneration(Generation(choices, conversation_tokens(messages)), calls)


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    users = [message for message in messages if message.get("role") == "user"]
    return message_text((users or messages)[-1])


def _tool_to_call(body: Mapping[str, Any], prompt: str) -> str | None:
    """The function the reply calls, or ``None`` for a text reply."""
    names: list[str] = [tool["function"]["name"] for tool in body.get("tools") or ()]
    choice = body.get("tool_choice") or "auto"
    if not names or choice == "none":
        return None
    if isinstance(choice, dict):
        return str(choice["function"]["name"])
    mentioned = [name for name in names if name.lower() in prompt.lower()]
    if mentioned:
        return mentioned[0]
    return names[0] if choice == "required" else None


def _tool_call(name: str, arguments: str, seed: int | None, index: int) -> ToolCall:
    key = f"{name}\x00{arguments}\x00{seed}\x00{index}"
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return ToolCall(f"call_{digest}", name, arguments)
