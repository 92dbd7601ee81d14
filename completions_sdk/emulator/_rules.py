"""The field rules both endpoints' validation is written in, and the gates they share.

A rule is a check and the rule in words (for the 422's message); ``validate_request``
applies the rules every body obeys (an object, a model, the sampling fields,
``stream_options``) with an endpoint's own; ``check_context`` is the server-side limit
of prompt plus completion tokens. ``_validation`` and ``_chat_validation`` add their
endpoint's fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ErrorReply, invalid
from ._tokens import DEFAULT_MAX_TOKENS

__all__ = [
    "INT64",
    "Rules",
    "check_context",
    "check_fields",
    "integer",
    "is_bool",
    "is_int",
    "is_str",
    "show",
    "validate_request",
]

Check = Callable[[Any], bool]
Rules = Mapping[str, tuple[Check, str]]
"""Field name to (check, the rule in words) for fields that are not ``null``."""
INT64 = 2**63


def is_int(value: Any) -> bool:
    """Whether ``value`` is a JSON integer (``true`` is not ``1``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(low: int, high: int) -> Check:
    """A check for an integer from ``low`` to ``high``."""
    return lambda value: is_int(value) and low <= value <= high


def _number(low: float, high: float) -> Check:
    return lambda value: _is_number(value) and low <= value <= high


def is_bool(value: Any) -> bool:
    """Whether ``value`` is a JSON boolean."""
    return isinstance(value, bool)


def is_str(value: Any) -> bool:
    """Whether ``value`` is a JSON string."""
    return isinstance(value, str)


def _is_model(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


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


_SHARED_RULES: Rules = {
    "model": (_is_model, "must be a non-empty string"),
    "enkrypt_context": (is_str, "must be a string"),
    "frequency_penalty": (_number(-2, 2), "must be a number from -2.0 to 2.0"),
    "logit_bias": (_is_logit_bias, "must map token ids to numbers from -100 to 100"),
    "max_tokens": (integer(1, INT64 - 1), "must be an integer greater than 0"),
    "n": (integer(1, 128), "must be an integer from 1 to 128"),
    "presence_penalty": (_number(-2, 2), "must be a number from -2.0 to 2.0"),
    "seed": (integer(-INT64, INT64 - 1), "must be a signed 64-bit integer"),
    "stop": (_is_stop, "must be a non-empty string or a list of at most 4 non-empty strings"),
    "stream": (is_bool, "must be a boolean"),
    "stream_options": (_is_stream_options, "must be an object with a boolean include_usage"),
    "temperature": (_number(0, 2), "must be a number from 0 to 2"),
    "top_p": (_number(0, 1), "must be a number from 0 to 1"),
    "user": (is_str, "must be a string"),
}


def validate_request(
    body: Any, rules: Rules, *, required: tuple[str, ...] = ()
) -> ErrorReply | None:
    """The 422 reply for a body breaking a rule both endpoints share, or one of ``rules``.

    The reply's ``param`` names the field and its message names the rule. ``model`` and
    the ``required`` fields must be present.
    """
    if not isinstance(body, dict):
        return invalid(None, "The request body must be a JSON object", code="invalid_body")
    for name in ("model", *required):
        if body.get(name) is None:
            return invalid(name, f"{name} is required", code="missing_required_parameter")
    problem = check_fields(body, {**_SHARED_RULES, **rules})
    if problem is not None:
        return problem
    if body.get("stream_options") is not None and not body.get("stream"):
        return invalid("stream_options", "stream_options is only allowed when stream is true")
    return None


def check_fields(body: Mapping[str, Any], rules: Rules, where: str = "") -> ErrorReply | None:
    """The 422 reply for the first field of ``body`` (at ``where``) that breaks its rule."""
    for name, (check, rule) in rules.items():
        value = body.get(name)
        if value is not None and not check(value):
            param = f"{where}.{name}" if where else name
            return invalid(param, f"{param} {rule} (got {show(value)})")
    return None


def check_context(
    prompt_tokens: int, max_tokens: int | None, context_length: int, *, param: str = "max_tokens"
) -> ErrorReply | None:
    """Server-side rule: prompt tokens plus ``max_tokens`` must fit in the model's context.

    ``param`` names the field that set ``max_tokens`` (chat has two).
    """
    max_tokens = max_tokens or DEFAULT_MAX_TOKENS
    if prompt_tokens + max_tokens <= context_length:
        return None
    return invalid(
        param,
        f"{param} plus the prompt's tokens must not exceed the context length of "
        f"{context_length} (got {max_tokens} + {prompt_tokens})",
        code="context_length_exceeded",
    )


def show(value: Any) -> str:
    """``value`` as JSON, shortened to fit in an error message."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
