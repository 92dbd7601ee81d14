"""How a broken request rule is worded: ``rule`` for a validator, ``one_of`` for a union.

Pydantic reports a value that fits no member of a union once per member: ``stop=["a"] * 5``
gave ``Input should be a valid string`` (the ``str`` member) and ``List should have at most
4 items`` (the list member), which sends people the wrong way. ``one_of`` keeps the errors of
the member the value's shape fits (a list for a list member) and words them for the field,
or, when no member fits, says what the field takes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

__all__ = ["one_of", "rule"]


def rule(code: str, message: str, **values: Any) -> PydanticCustomError:
    """The error of a broken rule: ``message`` formatted with ``values``, raised in a validator."""
    return PydanticCustomError(code, message, values)


def one_of(field: str, expected: str, *, items: str = "items", hint: str = "") -> WrapValidator:
    """One account of a union field's error, instead of one per member.

    Args:
        field: the field's name, as the message says it.
        expected: what the field takes, for a value no member fits
            (``"a string or a list of up to 4 strings"``).
        items: what the list's items are called (``"at most 4 stop sequences, got 5"``).
        hint: said after an item of the wrong type (``"a prompt list holds one kind"``).
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:  # the valid path costs one call: the union itself validates
            return handler(value)
        except ValidationError as error:
            raise _reworded(error, value, f"{field} must be {expected}", items, hint) from None

    return WrapValidator(validate)


def _reworded(
    error: ValidationError, value: Any, expected: str, items: str, hint: str
) -> ValidationError | PydanticCustomError:
    by_member: dict[Any, list[ErrorDetails]] = {}
    for detail in error.errors(include_url=False):
        if detail["loc"]:  # a union's errors start with the member they are about
            by_member.setdefault(detail["loc"][0], []).append(detail)
    fitting = [errors for errors in by_member.values() if not any(map(_wrong_shape, errors))]
    if not fitting:
        return rule("wrong_kind", "{expected}, got {given}", expected=expected, given=_kind(value))
    lines = [_line(detail, items, hint) for detail in min(fitting, key=_misfit)]
    return ValidationError.from_exception_data(error.title, lines)


def _misfit(errors: list[ErrorDetails]) -> tuple[int, int, int]:
    # Fewest errors first; then the member that got furthest before its first error, so
    # that the first item of a list says which kind of list it is.
    loc = errors[0]["loc"][1:]
    position = loc[0] if loc and isinstance(loc[0], int) else 0
    return len(errors), -position, -len(loc)


def _wrong_shape(detail: ErrorDetails) -> bool:
    # An error about the value itself being another kind than the member takes.
    kind = detail["type"]
    return len(detail["loc"]) == 1 and (kind.endswith("_type") or kind == "literal_error")


def _line(detail: ErrorDetails, items: str, hint: str) -> InitErrorDetails:
    loc, kind, message = detail["loc"][1:], detail["type"], detail["msg"]
    context = detail.get("ctx") or {}
    if not loc and kind in ("too_long", "too_short"):
        bound = "at most" if kind == "too_long" else "at least"
        limit = context.get("max_length" if kind == "too_long" else "min_length")
        message = f"{bound} {limit} {items}, got {context.get('actual_length')}"
    elif len(loc) == 1 and kind.endswith("_type") and hint:
        message = f"{message} ({hint})"
    # The message is final: no context, so its braces are not read as placeholders.
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=detail["input"])


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__
