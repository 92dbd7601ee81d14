"""The ``batch`` command's input: a JSONL file read line by line, each line checked alone.

The file is never held whole: each pass reads it again, a line at a time. What a pass keeps
is compact: the 8-byte key of each line's request and its endpoint (9 bytes a line), so
that memory does not grow with the size of the requests. Errors name the file's line
(``prompts.jsonl:12: temperature: ...``), never a position inside pydantic's input.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import warnings
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from ._chat_request import ChatCompletionRequest
from ._request import CompletionRequest
from ._request_base import RequestBase, UnknownFieldWarning
from ._types import RequestOptions

__all__ = ["BLANK", "CHAT", "COMPLETIONS", "BatchUsageError", "Checked", "Line", "LineParser"]

BLANK, COMPLETIONS, CHAT = 0, 1, 2  # a line's kind, as kept per line
ENDPOINTS = {"completions": COMPLETIONS, "chat": CHAT}
DEFAULT_MODELS = {COMPLETIONS: "gpt-3.5-turbo-instruct", CHAT: "gpt-4o-mini"}
SHOWN_INVALID = 10
_OPTIONS = RequestOptions.__required_keys__ | RequestOptions.__optional_keys__
_SHOWN_VALUE = 60


class BatchUsageError(Exception):
    """The command cannot run (exit status 2): each of ``lines`` is printed on stderr."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class LineError(ValueError):
    """What is wrong with one line, in the words printed after ``file:line:``."""


@dataclass(frozen=True)
class Line:
    """One request of the input: its line number (from 1), endpoint kind and key."""

    number: int
    kind: int
    request: RequestBase
    key: int


def request_key(request: RequestBase) -> int:
    """A fingerprint of the body sent: the first 8 bytes of its SHA-256."""
    return int.from_bytes(hashlib.sha256(request.to_json()).digest()[:8], "big")


def key_text(key: int) -> str:
    """The key as written in result rows: 16 hex digits."""
    return f"{key:016x}"


class LineParser:
    """Turns a line's JSON into a request for its endpoint.

    A line is an object of request fields, or a string: the prompt (for chat: the user
    message). ``endpoint="auto"`` sends a line with ``messages`` to chat. Per-call options
    (``deployment``, ``tags``, ``extra_headers``...) are refused: they apply to the whole
    file (``--deployment``...), and would otherwise go out as unknown body fields.
    """

    def __init__(self, *, model: str | None, endpoint: str) -> None:
        self._model = model
        self._endpoint = endpoint

    def parse(self, text: str) -> tuple[int, RequestBase]:
        """The line's endpoint kind and request; ``LineError`` says what is wrong."""
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LineError(f"not JSON: {exc.msg} (column {exc.colno})") from None
        kind = self._kind(item)
        if isinstance(item, str):
            item = (
                {"messages": [{"role": "user", "content": item}]}
                if kind == CHAT
                else {"prompt": item}
            )
        elif not isinstance(item, dict):
            raise LineError(
                "expected an object of request fields, or a string (the prompt); "
                f"got {_json_type(item)}"
            )
        options = sorted(_OPTIONS.intersection(item))
        if options:
            raise LineError(
                f"{', '.join(options)}: per-call options are not taken per line (they would "
                "not be request fields); give them for the whole file "
                "(--deployment, --tags, --max-retries), or split the file"
            )
        model = CompletionRequest if kind == COMPLETIONS else ChatCompletionRequest
        fields = {"model": self._model or DEFAULT_MODELS[kind], **item}
        with warnings.catch_warnings():
            # In a file of thousands of requests, a likely typo stops the run before sending.
            warnings.simplefilter("error", UnknownFieldWarning)
            try:
                return kind, model(**fields)
            except pydantic.ValidationError as exc:
                raise LineError("; ".join(map(_describe, exc.errors(include_url=False)))) from None
            except UnknownFieldWarning as exc:
                raise LineError(str(exc).split(": ", 1)[-1]) from None

    def _kind(self, item: Any) -> int:
        if self._endpoint != "auto":
            return ENDPOINTS[self._endpoint]
        return CHAT if isinstance(item, dict) and "messages" in item else COMPLETIONS


def _json_type(value: Any) -> str:
    names = {list: "an array", int: "a number", float: "a number", bool: "true or false"}
    return names.get(type(value), "null")


def _describe(error: Any) -> str:
    """``field: message (got VALUE)``, pydantic's error in the words of the line."""
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).lstrip(".")
    message = error["msg"]
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
        shown = json.dumps(error["input"], ensure_ascii=False, default=str)
        if len(shown) > _SHOWN_VALUE:
            shown = shown[: _SHOWN_VALUE - 3] + "..."
        message = f"{message} (got {shown})"
    return f"{where}: {message}" if where else message


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of every line, decoded as UTF-8 (a BOM first is dropped).

    Raises:
        BatchUsageError: a binary or non-UTF-8 file (named, with the line).
    """
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if b"\0" in raw:
                raise BatchUsageError(
                    [f"{path}: a binary file, not JSONL (NUL byte, line {number})"]
                )
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BatchUsageError(
                    [f"{path}: not UTF-8 text (line {number}, byte {exc.start + 1}: {exc.reason})"]
                ) from None


@dataclass
class Checked:
    """The validation pass's result: per line (index ``number - 1``), its kind and key."""

    kinds: bytearray
    keys: array[int]


def check_input(path: Path, parser: LineParser) -> Checked:
    """Validate every line; raise ``BatchUsageError`` naming every bad one (the first ten).

    Nothing is kept but each line's kind and key, so a file of millions of lines fits.
    """
    checked = Checked(bytearray(), array("Q"))
    invalid: list[str] = []
    bad = 0
    for number, text in read_lines(path):
        kind, key = BLANK, 0
        if text.strip():
            try:
                kind, request = parser.parse(text)
                key = request_key(request)
            except LineError as exc:
                bad += 1
                if len(invalid) < SHOWN_INVALID:
                    invalid.append(f"{path}:{number}: {exc}")
        checked.kinds.append(kind)
        checked.keys.append(key)
    if bad:
        if bad > len(invalid):
            invalid.append(f"... and {bad - len(invalid)} more invalid lines")
        invalid.append(f"{path}: {bad} invalid line{'s' if bad > 1 else ''}; nothing was sent")
        raise BatchUsageError(invalid)
    return checked


def iter_requests(
    path: Path, parser: LineParser, checked: Checked, select: Callable[[int], bool]
) -> Iterator[Line]:
    """The sending pass: the file read again, as requests, for the line indexes selected.

    Raises:
        BatchUsageError: a line no longer holds the request validated (the file was
            edited during the run).
    """
    for number, text in read_lines(path):
        index = number - 1
        if index >= len(checked.kinds) or checked.kinds[index] == BLANK or not select(index):
            continue
        try:
            kind, request = parser.parse(text)
        except LineError:
            kind, request = BLANK, None
        if request is None or request_key(request) != checked.keys[index]:
            raise BatchUsageError([f"{path}:{number}: the line changed during the run; run again"])
        yield Line(number, kind, request, checked.keys[index])
