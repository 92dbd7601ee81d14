"""Field types that read what servers send without failing the whole reply.

A reply's metadata (ids, timestamps, roles, reasons, counts) becomes ``None`` when it has an
unexpected shape; text-bearing fields are coerced instead (``null`` is ``""``, a list of
content parts is their text joined), so no text is dropped by a neighbour's odd value.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

__all__ = [
    "Index",
    "Lenient",
    "LenientInt",
    "LenientItems",
    "LenientStr",
    "OptionalText",
    "Text",
    "Timestamp",
]


def _none_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Lenient = WrapValidator(_none_if_invalid)
"""Marks a part that becomes ``None`` when the server sends something of another shape."""


def _valid_items(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if not isinstance(value, list):
        return None
    items: list[Any] = []
    for item in value:
        try:
            items.extend(handler([item]))
        except ValidationError:
            continue
    return items


LenientItems = WrapValidator(_valid_items)
"""Marks a list whose items of another shape are dropped, keeping the others."""


def _text_of(value: Any) -> Any:
    # Some OpenAI-compatible servers send content as a list of parts: keep their text.
    if isinstance(value, list):
        return "".join(
            part["text"] if isinstance(part, dict) and isinstance(part.get("text"), str) else ""
            for part in value
        )
    return value


def _empty_if_none(value: Any) -> Any:
    return "" if value is None else _text_of(value)


def _zero_if_none(value: Any) -> Any:
    return 0 if value is None else value


def _whole_seconds(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return value


Text = Annotated[str, BeforeValidator(_empty_if_none)]
"""Text that is never lost: ``null`` is ``""``, content parts are joined."""
OptionalText = Annotated[str | None, BeforeValidator(_text_of), Lenient]
"""Text where ``None`` means "none was sent" (a chat message that only calls tools)."""
Index = Annotated[int, BeforeValidator(_zero_if_none)]
"""A choice or tool-call index; ``null`` is ``0``."""
LenientStr = Annotated[str | None, Lenient]
LenientInt = Annotated[int | None, Lenient]
Timestamp = Annotated[int | None, BeforeValidator(_whole_seconds), Lenient]
"""Unix seconds; fractional seconds are truncated."""
