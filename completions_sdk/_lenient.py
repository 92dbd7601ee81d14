"""Reading what servers send without failing a whole reply on one odd field.

``lenient_validate`` is the one step that does it, called where the SDK decodes what the
proxy sent (replies, stream chunks, the detections of an error reply). The models
themselves validate as pydantic defines: ``Completion.model_validate`` repairs nothing.

It validates with plain types first, at pydantic-core's speed (straight from the JSON
bytes, no Python call per field), so a well-formed chunk costs nothing extra. Only when
that fails are the errors' locations used to fix a copy of the decoded input: text-bearing
fields keep their text (content sent as a list of parts is joined, ``null`` text is
``""``), an index becomes ``0``, a fractional timestamp is truncated, and anything else
that does not fit is left out, so its field takes its default (``None``), and odd items of
a list or a map are dropped. A choice that is not an object at all is never dropped: that
error stays an error, as silently losing a choice would lose its text.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

__all__ = ["Repair", "lenient_validate", "original_of"]

ModelT = TypeVar("ModelT", bound=BaseModel)
Path = tuple[str | int, ...]
_TEXT_FIELDS = frozenset({"text", "content", "refusal", "arguments"})
_MAX_PASSES = 3
_LEAVE_OUT = object()
_JSON_TEXT = (bytes, bytearray, str)


def lenient_validate(model: type[ModelT], data: Any) -> ModelT:
    """``data`` as a ``model``, a part of an unexpected shape repaired rather than fatal.

    Args:
        model: the pydantic model to read.
        data: JSON text (``bytes`` or ``str``), or JSON already decoded (a ``dict``).

    Raises:
        pydantic.ValidationError: what no repair fixes (invalid JSON, a body that is not
            an object, a choice that is not an object).
    """
    text = isinstance(data, _JSON_TEXT)
    try:  # the plain path: no Python call per field
        return model.model_validate_json(data) if text else model.model_validate(data)
    except ValidationError as first:
        error = first
    if text:
        try:
            data = pydantic_core.from_json(data)
        except ValueError:
            raise error from None
    repair = Repair(data)
    for _ in range(_MAX_PASSES):
        if not repair.fix(error):
            raise error
        try:
            return model.model_validate(repair.data, context=repair)
        except ValidationError as again:
            error = again
    raise error


def original_of(part: Any, context: Any) -> Any:
    """What ``part`` was as sent, when it is a repaired copy (``context`` of a validator)."""
    return context.original(part) if isinstance(context, Repair) else part


class Repair:
    """A copy of decoded JSON, fixed where validation errors point; knows the originals.

    Passed as the validation ``context`` so that a model which keeps what was sent
    (``PolicyDetections.raw``) keeps the original, not the repaired copy.
    """

    def __init__(self, data: Any) -> None:
        self._originals: dict[int, tuple[Any, Any]] = {}
        self._replaced: set[Path] = set()
        self.data = self._copy(data)

    def _copy(self, value: Any) -> Any:
        copy: Any
        if isinstance(value, dict):
            copy = {key: self._copy(item) for key, item in value.items()}
        elif isinstance(value, list):
            copy = [self._copy(item) for item in value]
        else:
            return value
        self._originals[id(copy)] = (copy, value)  # the copy is held, so its id stays its own
        return copy

    def original(self, part: Any) -> Any:
        """``part`` as it was before the copy (``part`` itself if it is not a copy)."""
        copy, original = self._originals.get(id(part), (None, part))
        return original if copy is part else part

    def fix(self, error: ValidationError) -> bool:
        """Fix what ``error`` points at; ``False`` if something it points at can't be."""
        if not isinstance(self.data, dict):
            return False
        details = error.errors(include_url=False, include_context=False, include_input=False)
        paths = {self._reachable(detail["loc"]) for detail in details}
        odd_items: dict[int, tuple[list[Any], set[int]]] = {}
        for path in sorted(paths, key=len, reverse=True):  # inner parts before what holds them
            if not path or (path[0] == "choices" and len(path) <= 2):
                return False
            parent = self._at(path[:-1])
            last = path[-1]
            if isinstance(parent, list) and isinstance(last, int):
                odd_items.setdefault(id(parent), (parent, set()))[1].add(last)
            elif isinstance(parent, dict) and last in parent:
                self._fix_field(parent, path)
        for items, indexes in odd_items.values():
            items[:] = [item for index, item in enumerate(items) if index not in indexes]
        return True

    def _fix_field(self, parent: dict[Any, Any], path: Path) -> None:
        name = path[-1]
        value = _LEAVE_OUT if path in self._replaced else _replacement(name, parent[name])
        if value is _LEAVE_OUT:
            del parent[name]  # the field takes its default; a map loses an odd entry
        else:
            parent[name] = value
            self._replaced.add(path)  # if that does not fit either, leave it out next time

    def _reachable(self, loc: tuple[str | int, ...]) -> Path:
        # The part of an error's location that exists in the data: a union's errors name
        # its members ("dict[str,float]"), which are not keys, so the whole value is odd.
        node, depth = self.data, 0
        for step in loc:
            if not _holds(node, step):
                break
            node = node[step]
            depth += 1
        return loc[:depth]

    def _at(self, path: Path) -> Any:
        node = self.data
        for step in path:
            node = node[step]
        return node


def _holds(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def _replacement(name: str | int, value: Any) -> Any:
    if name in _TEXT_FIELDS:
        text = _text_of(value)
        if isinstance(text, str):
            return text
        return "" if name == "text" else None
    if name == "index":
        return 0
    if name == "created" and isinstance(value, float) and math.isfinite(value):
        return int(value)  # a timestamp with fractional seconds
    return _LEAVE_OUT


def _text_of(value: Any) -> Any:
    # Some OpenAI-compatible servers send content as a list of parts: keep their text.
    if isinstance(value, list):
        return "".join(
            part["text"] if isinstance(part, dict) and isinstance(part.get("text"), str) else ""
            for part in value
        )
    return value
