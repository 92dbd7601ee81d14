"""The proxy's two endpoints, described as data so that one machinery serves both.

Each says only what differs: its path, how its body is validated, which texts the input
guardrails read, how its reply is made, and how many tokens a quota charges for it.
Headers, faults, guardrails, quotas, recording, streaming, pacing and cuts are the
application's, the same for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._bodies import Answer, completion_answer
from ._chat_bodies import chat_answer
from ._chat_validation import validate_chat
from ._config import Deployment
from ._errors import ErrorReply
from ._quota import chat_tokens_requested, completion_tokens_requested
from ._tokens import input_texts, prompt_texts
from ._validation import validate_completion

__all__ = ["CHAT", "COMPLETIONS", "ENDPOINTS", "Endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """One ``POST`` path of the proxy and what is particular to it."""

    path: str
    validate: Callable[[Any, int], ErrorReply | None]
    """The 422 reply for an invalid body (given the context length), or ``None``."""
    input_texts: Callable[[Mapping[str, Any]], list[str]]
    """The texts of a valid body that the input guardrails read."""
    answer: Callable[[Mapping[str, Any], Deployment], Answer]
    """The reply to a valid body, for this deployment."""
    tokens_requested: Callable[[Mapping[str, Any]], int]
    """A valid body's token estimate, charged to a quota before the reply exists."""


def _prompts(body: Mapping[str, Any]) -> list[str]:
    return prompt_texts(body.get("prompt"))


COMPLETIONS = Endpoint(
    "/ai-proxy/completions",
    validate_completion,
    _prompts,
    completion_answer,
    completion_tokens_requested,
)
CHAT = Endpoint(
    "/ai-proxy/chat/completions", validate_chat, input_texts, chat_answer, chat_tokens_requested
)
ENDPOINTS = (COMPLETIONS, CHAT)
