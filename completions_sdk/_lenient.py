"""Reading what servers send without failing a whole reply on one odd field.

Reply models validate with plain types first, at pydantic-core's speed (straight from the
JSON bytes, no Python call per field). Only when that fails does ``repaired`` look at the
errors and fix the decoded input where they point: metadata of another shape (an id, a
role, a reason, a count) becomes ``None`` (an index ``0``); text-bearing fields keep their
text (content sent as a list of parts is joined, ``null`` text is ``""``); odd items of a
list are dropped. A choice that is not an object at all is never dropped: that error
stays an error, as silently losing a choice would lose its text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator

__all__ = ["Lenient", "validate_leniently"]

T = TypeVar("T")
_TEXT_FIELDS = frozenset({"text", "content", "refusal", "arguments"})
_MAX_PASSES = 3


def _none_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Lenient = WrapValidator(_none_if_invalid)
"""Marks a part that becomes ``None`` when the server sends something of another shape."""


def repaired(data: Any, error: ValidationError) -> Any | None:
    """``data`` (decoded JSON) with what ``error`` points at fixed; ``None`` if it can't be."""
    if not isinstance(data, dict):
        return None
    data = _copy(data)
    odd_items: dict[int, tuple[list[Any], set[int]]] = {}
    for detail in error.errors(include_url=False, include_context=False, include_input=False):
        loc = detail["loc"]
        if len(loc) < 1 or (loc[0] == "choices" and len(loc) <= 2):
            return None
        parent: Any = data
        for step in loc[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                return None
        last = loc[-1]
        if isinstance(parent, list) and isinstance(last, int):
            odd_items.setdefault(id(parent), (parent, set()))[1].add(last)
        elif isinstance(parent, dict) and isinstance(last, str) and last in parent:
            parent[last] = _replacement(last, parent[last])
        else:
            return None
    for items, indexes in odd_items.values():
        items[:] = [item for index, item in enumerate(items) if index not in indexes]
    return data


def _replacement(name: str, value: Any) -> Any:
    if name in _TEXT_FIELDS:
        text = _text_of(value)
        if isinstance(text, str):
            return text
        return "" if name == "text" else None
    if name == "index":
        return 0
    if name == "created" and isinstance(value, float) and math.isfinite(value):
        return int(value)  # a timestamp with fractional seconds
    return None


def _text_of(value: Any) -> Any:
    # Some OpenAI-compatible servers send content as a list of parts: keep their text.
    if isinstance(value, list):
        return "".join(
            part["text"] if isinstance(part, dict) and isinstance(part.get("text"), str) else ""
            for part in value
        )
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def validate_leniently(validate: Callable[[Any], T], data: Any) -> T:
    """``validate(data)``, repairing ``data`` and trying again while that helps."""
    for _ in range(_MAX_PASSES):
        try:
            return validate(data)
        except ValidationError as error:
            fixed = repaired(data, error)
            if fixed is None:
                raise
            data = fixed
    return validate(data)
