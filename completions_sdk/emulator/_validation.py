"""The emulator's own check of a request body, independent of the SDK's model.

The rules are written out again from ``PROXY_API.md`` ("Request body") rather than taken
from ``completions_sdk.CompletionRequest``: a check shared with the client could not catch
the client's mistakes. Unknown fields pass (new server features arrive before SDKs do);
``null`` means "not given", as it does for OpenAI.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ErrorReply, invalid
from ._generation import DEFAULT_MAX_TOKENS, prompt_texts, tokenize

__all__ = ["validate_body"]

Check = Callable[[Any], bool]
INT64 = 2**63


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not 1


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _integer(low: int, high: int) -> Check:
    return lambda value: _is_int(value) and low <= value <= high


def _number(low: float, high: float) -> Check:
    return lambda value: _is_number(value) and low <= value <= high


def _is_token_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_int(v) and v >= 0 for v in value)


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


def _is_logit_bias(value: Any) -> bool:
    return isinstance(value, dict) and all(
        key.isdigit() and _is_number(bias) and -100 <= bias <= 100 for key, bias in value.items()
    )


def _is_stop(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return (
        isinstance(value, list)
        and len(value) <= 4
        and all(isinstance(item, str) and item for item in value)
    )


def _is_stream_options(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("include_usage", False), bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_RULES: dict[str, tuple[Check, str]] = {
    "prompt": (
        _is_prompt,
        "must be a string, a non-empty list of strings, a list of token ids "
        "or a list of token-id lists",
    ),
    "best_of": (_integer(1, 20), "must be an integer from 1 to 20"),
    "echo": (_is_bool, "must be a boolean"),
    "enkrypt_context": (_is_str, "must be a string"),
    "frequency_penalty": (_number(-2, 2), "must be a number from -2.0 to 2.0"),
    "logit_bias": (_is_logit_bias, "must map token ids to numbers from -100 to 100"),
    "logprobs": (_integer(0, 5), "must be an integer from 0 to 5"),
    "max_tokens": (_integer(1, INT64 - 1), "must be an integer greater than 0"),
    "n": (_integer(1, 128), "must be an integer from 1 to 128"),
    "presence_penalty": (_number(-2, 2), "must be a number from -2.0 to 2.0"),
    "seed": (_integer(-INT64, INT64 - 1), "must be a signed 64-bit integer"),
    "stop": (_is_stop, "must be a non-empty string or a list of at most 4 non-empty strings"),
    "stream": (_is_bool, "must be a boolean"),
    "stream_options": (_is_stream_options, "must be an object with a boolean include_usage"),
    "suffix": (_is_str, "must be a string"),
    "temperature": (_number(0, 2), "must be a number from 0 to 2"),
    "top_p": (_number(0, 1), "must be a number from 0 to 1"),
    "user": (_is_str, "must be a string"),
}


def validate_body(body: Any, *, context_length: int) -> ErrorReply | None:
    """The 422 reply for a body that breaks a rule, or ``None`` when it is valid.

    The reply's ``param`` names the field and its message names the rule.
    """
    if not isinstance(body, dict):
        return invalid(None, "The request body must be a JSON object", code="invalid_body")
    model = body.get("model")
    if model is None:
        return invalid("model", "model is required", code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        return invalid("model", f"model must be a non-empty string (got {_show(model)})")
    for name, (check, rule) in _RULES.items():
        value = body.get(name)
        if value is not None and not check(value):
            return invalid(name, f"{name} {rule} (got {_show(value)})")
    return _check_combinations(body) or _check_context(body, context_length)


def _check_combinations(body: Mapping[str, Any]) -> ErrorReply | None:
    best_of, n, stream = body.get("best_of"), body.get("n"), body.get("stream")
    if best_of is not None and n is not None and best_of <= n:
        return invalid("best_of", f"best_of must be greater than n (got best_of={best_of}, n={n})")
    if best_of is not None and stream:
        return invalid("best_of", "best_of cannot be combined with stream")
    if body.get("stream_options") is not None and not stream:
        return invalid("stream_options", "stream_options is only allowed when stream is true")
    return None


def _check_context(body: Mapping[str, Any], context_length: int) -> ErrorReply | None:
    # Server-side rule: prompt tokens plus max_tokens must fit in the model's context.
    prompt_tokens = max(len(tokenize(text)) for text in prompt_texts(body.get("prompt")))
    max_tokens = body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if prompt_tokens + max_tokens <= context_length:
        return None
    return invalid(
        "max_tokens",
        f"max_tokens plus the prompt's tokens must not exceed the context length of "
        f"{context_length} (got {max_tokens} + {prompt_tokens})",
        code="context_length_exceeded",
    )


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
