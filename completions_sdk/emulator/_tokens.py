"""What the emulated model reads: the texts of a prompt or a conversation, and their tokens.

A token is a word with the whitespace before it: the prompt ``"Say hi"`` is the two
tokens ``"Say"`` and ``" hi"``. Token ids in a prompt read as words of ``VOCABULARY``.
Validation (the context length), generation (``usage``) and the guardrails (what they
check) all read a request through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "END_OF_TEXT",
    "VOCABULARY",
    "conversation_tokens",
    "input_texts",
    "message_text",
    "prompt_texts",
    "tokenize",
]

DEFAULT_MAX_TOKENS = 16
END_OF_TEXT = "<|endoftext|>"
"""What the model sees when no prompt is given (``docs/proxy-api.md``, "Request body")."""
# No word is a prefix of another, so a token cut by a stop sequence never equals a word.
VOCABULARY = (
    "amber", "bridge", "cedar", "delta", "ember", "fjord", "granite", "harbor",
    "island", "juniper", "kestrel", "lantern", "meadow", "nectar", "orchid", "pebble",
    "quartz", "river", "saffron", "thistle", "umber", "valley", "willow", "xenon",
    "yarrow", "zephyr", "acorn", "breeze", "canyon", "dune", "estuary", "fern",
)  # fmt: skip
_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens (words with their leading whitespace)."""
    return _TOKEN.findall(text)


def prompt_texts(prompt: Any) -> list[str]:
    """The prompt(s) of a (validated) body as texts; token ids become vocabulary words."""
    if prompt is None:
        return [END_OF_TEXT]
    if isinstance(prompt, str):
        return [prompt]
    if prompt and all(isinstance(item, int) for item in prompt):
        return [_decode(prompt)]
    return [item if isinstance(item, str) else _decode(item) for item in prompt]


def _decode(token_ids: Sequence[int]) -> str:
    return "".join(" " + VOCABULARY[token % len(VOCABULARY)] for token in token_ids)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a (validated) message: its string content, or its text parts joined."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "\n".join(part["text"] for part in parts if part.get("type") == "text")


def input_texts(body: Mapping[str, Any]) -> list[str]:
    """What the input guardrails read: the text of every user and system message."""
    return [
        message_text(message)
        for message in body["messages"]
        if message.get("role") in ("user", "system")
    ]


def conversation_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """The prompt tokens of a conversation: those of every message's text."""
    return sum(len(tokenize(message_text(message))) for message in messages)
