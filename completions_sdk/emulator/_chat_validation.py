"""The emulator's own check of a chat body: messages, tools, ``tool_choice`` and formats.

OpenAI's chat body, as the proxy takes it (``docs/proxy-api.md``, "Endpoint"), written out
here rather than taken from ``completions_sdk.ChatCompletionRequest``, for the reason
``_validation`` gives. The sampling fields and their ranges are checked by
``_rules.validate_request``, shared with completions. A 422's ``param`` is the path of
the field at fault, e.g. ``messages[2].tool_call_id`` or ``tools[0].function.name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ErrorReply, invalid
from ._rules import (
    INT64,
    Rules,
    check_context,
    check_fields,
    integer,
    is_bool,
    is_str,
    show,
)
from ._rules import validate_request as _validate_request
from ._tokens import conversation_tokens

__all__ = ["validate_chat"]

_ROLES: Mapping[str, tuple[str, ...]] = {
    "system": ("content",),
    "user": ("content",),
    "assistant": (),
    "tool": ("content", "tool_call_id"),
}
"""Each known role, and the keys its messages need."""
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FORMATS = ("text", "json_object", "json_schema")
_TOOL_CHOICES = ("none", "auto", "required")


def _is_function_name(value: Any) -> bool:
    return isinstance(value, str) and _FUNCTION_NAME.fullmatch(value) is not None


def _is_named_choice(value: Any) -> bool:
    if not isinstance(value, dict) or value.get("type") != "function":
        return False
    function = value.get("function")
    return isinstance(function, dict) and _is_function_name(function.get("name"))


def _is_tool_call(value: Any) -> bool:
    # A call has a named choice's shape, plus an id and the arguments.
    return (
        _is_named_choice(value)
        and is_str(value.get("id"))
        and is_str(value["function"].get("arguments"))
    )


def _is_part(value: Any, *, images: bool) -> bool:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return is_str(value.get("text"))
    return images and kind == "image_url" and isinstance(value.get("image_url"), dict)


def _is_content(value: Any, *, images: bool) -> bool:
    if isinstance(value, str):
        return True
    parts = value if isinstance(value, list) else []
    return bool(parts) and all(_is_part(part, images=images) for part in parts)


def _is_response_format(value: Any) -> bool:
    if not isinstance(value, dict) or value.get("type") not in _FORMATS:
        return False
    return value["type"] != "json_schema" or isinstance(value.get("json_schema"), dict)


_RULES: Rules = {
    "messages": (lambda value: isinstance(value, list) and bool(value), "must be a non-empty list"),
    "logprobs": (is_bool, "must be a boolean"),
    "top_logprobs": (integer(0, 20), "must be an integer from 0 to 20"),
    "max_completion_tokens": (integer(1, INT64 - 1), "must be an integer greater than 0"),
    "tools": (lambda value: isinstance(value, list), "must be a list of tools"),
    "tool_choice": (
        lambda value: value in _TOOL_CHOICES or _is_named_choice(value),
        'must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
    ),
    "response_format": (
        _is_response_format,
        'must be {"type": "text"}, {"type": "json_object"} or a json_schema format',
    ),
    "parallel_tool_calls": (is_bool, "must be a boolean"),
}
_MESSAGE_KEYS: Rules = {
    "name": (is_str, "must be a string"),
    "tool_call_id": (is_str, "must be a string"),
    "tool_calls": (
        lambda value: isinstance(value, list) and all(map(_is_tool_call, value)),
        'must be a list of {"id", "type": "function", "function": {"name", "arguments"}}',
    ),
}


def validate_chat(body: Any, context_length: int) -> ErrorReply | None:
    """The 422 reply for an invalid chat body, or ``None`` when it is valid."""
    problem = _validate_request(body, _RULES, required=("messages",))
    if problem is None:
        problem = (
            _check_each(body["messages"], "messages", _check_message)
            or _check_each(body.get("tools") or [], "tools", _check_tool)
            or _check_combinations(body)
        )
    if problem is not None:
        return problem
    field = "max_completion_tokens" if body.get("max_completion_tokens") else "max_tokens"
    tokens = conversation_tokens(body["messages"])
    return check_context(tokens, body.get(field), context_length, param=field)


def _check_each(
    items: list[Any], name: str, check: Callable[[Any, str], ErrorReply | None]
) -> ErrorReply | None:
    """The first problem of ``check`` on each item, told where: ``name[index]``."""
    for index, item in enumerate(items):
        problem = check(item, f"{name}[{index}]")
        if problem is not None:
            return problem
    return None


def _check_message(message: Any, where: str) -> ErrorReply | None:
    if not isinstance(message, dict):
        return invalid(where, f"{where} must be an object with a role (got {show(message)})")
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        known = ", ".join(_ROLES)
        return invalid(f"{where}.role", f"{where}.role must be one of {known} (got {show(role)})")
    needed = _ROLES[role] or (() if message.get("tool_calls") else ("content",))
    for key in needed:
        if message.get(key) is None:
            return invalid(
                f"{where}.{key}",
                f"{where}.{key} is required in a {role} message",
                code="missing_required_parameter",
            )
    content, images = message.get("content"), role == "user"
    if content is not None and not _is_content(content, images=images):
        parts = "text or image_url parts" if images else "text parts"
        rule = f"must be a string or a non-empty list of {parts}"
        return invalid(f"{where}.content", f"{where}.content {rule} (got {show(content)})")
    return check_fields(message, _MESSAGE_KEYS, where)


def _check_tool(tool: Any, where: str) -> ErrorReply | None:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or tool.get("type") != "function":
        rule = 'must be {"type": "function", "function": {...}}'
        return invalid(where, f"{where} {rule} (got {show(tool)})")
    if not _is_function_name(function.get("name")):
        rule = "must be 1 to 64 letters, digits, underscores or dashes"
        name = function.get("name")
        return invalid(f"{where}.function.name", f"{where}.function.name {rule} (got {show(name)})")
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        rule = "must be a JSON Schema object"
        return invalid(f"{where}.function.parameters", f"{where}.function.parameters {rule}")
    return None


def _check_combinations(body: Mapping[str, Any]) -> ErrorReply | None:
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        return invalid("top_logprobs", "top_logprobs needs logprobs to be true")
    tools, choice = body.get("tools") or [], body.get("tool_choice")
    if choice not in (None, "none") and not tools:
        return invalid("tool_choice", f"tool_choice {show(choice)} needs tools")
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        if name not in {tool["function"]["name"] for tool in tools}:
            return invalid("tool_choice", f"tool_choice names {name!r}, which is not in tools")
    return None
