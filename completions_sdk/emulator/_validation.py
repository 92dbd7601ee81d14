"""The emulator's own check of a completion body, independent of the SDK's models.

The rules are written out again from ``docs/proxy-api.md`` ("Request body") rather than taken
from ``completions_sdk.CompletionRequest``: a check shared with the client could not catch
the client's mistakes. Unknown fields pass (new server features arrive before SDKs do);
``null`` means "not given", as it does for OpenAI.

The gates both endpoints share are in ``_rules``; ``validate_completion`` adds the
completion fields (``_chat_validation`` adds the chat ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import ErrorReply, invalid
from ._rules import Rules, check_context, integer, is_bool, is_int, is_str, validate_request
from ._tokens import prompt_texts, tokenize

__all__ = ["validate_completion"]


def _is_token_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(is_int(v) and v >= 0 for v in value)


def _is_prompt(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, list) or not value:
        return False
    return (
        all(isinstance(item, str) for item in value)
        or _is_token_ids(value)
        or all(_is_token_ids(item) for item in value)
    )


_COMPLETION_RULES: Rules = {
    "prompt": (
        _is_prompt,
        "must be a string, a non-empty list of strings, a list of token ids "
        "or a list of token-id lists",
    ),
    "best_of": (integer(1, 20), "must be an integer from 1 to 20"),
    "echo": (is_bool, "must be a boolean"),
    "logprobs": (integer(0, 5), "must be an integer from 0 to 5"),
    "suffix": (is_str, "must be a string"),
}


def validate_completion(body: Any, context_length: int) -> ErrorReply | None:
    """The 422 reply for an invalid completion body, or ``None`` when it is valid."""
    problem = validate_request(body, _COMPLETION_RULES) or _check_best_of(body)
    if problem is not None:
        return problem
    prompt_tokens = max(len(tokenize(text)) for text in prompt_texts(body.get("prompt")))
    return check_context(prompt_tokens, body.get("max_tokens"), context_length)


def _check_best_of(body: Mapping[str, Any]) -> ErrorReply | None:
    best_of, n = body.get("best_of"), body.get("n")
    if best_of is not None and n is not None and best_of <= n:
        return invalid("best_of", f"best_of must be greater than n (got best_of={best_of}, n={n})")
    if best_of is not None and body.get("stream"):
        return invalid("best_of", "best_of cannot be combined with stream")
    return None
