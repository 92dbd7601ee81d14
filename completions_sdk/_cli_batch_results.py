"""The ``batch`` command's output: result rows, and reading an earlier run's back.

Each row answers one input line: ``{"line": N, "request": KEY, "completion": {...}}`` or
``{"line": N, "request": KEY, "error": {...}}``. A file may hold several rows for a line
(a failure, then the success of a rerun): the latest row for a line wins. Before a byte is
appended, the file is checked to be results of this input; a file that is not (the input
itself, any other JSONL, results of other requests) is refused and left as it was.
"""

from __future__ import annotations

import json
import os
import re
from array import array
from pathlib import Path
from typing import IO, Any

from ._cli_batch_input import BatchUsageError, key_text
from ._exceptions import CompletionsError

__all__ = ["FAILED", "OK", "load_results", "write_row"]

TO_SEND, OK, FAILED = 0, 1, 2  # a line's state after an earlier run
_KEY = re.compile(r"[0-9a-f]{16}")
_ROW_START = b'{"line": '  # how every row this command writes begins
_SHOWN_STALE = 5


def write_row(sink: IO[str], number: int, key: int, outcome: Any) -> None:
    """Append the row for one line and flush it: a killed run loses at most this row."""
    row: dict[str, Any] = {"line": number, "request": key_text(key)}
    if isinstance(outcome, CompletionsError):
        row["error"] = {
            "type": type(outcome).__name__,
            "status": getattr(outcome, "status_code", None),
            "message": " ".join(str(outcome).split()),  # the SDK's messages are redacted
            "request_id": getattr(outcome, "request_id", None),
        }
    else:
        row["completion"] = outcome.model_dump(by_alias=True)
    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    sink.flush()


def _parse_row(raw: bytes) -> tuple[int, int, bool] | None:
    """``(line, key, succeeded)`` of a result row, or ``None`` for anything else."""
    try:
        row = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(row, dict) or ("completion" in row) == ("error" in row):
        return None
    line, key = row.get("line"), row.get("request")
    if type(line) is not int or line < 1 or not isinstance(key, str) or not _KEY.fullmatch(key):
        return None
    return line, int(key, 16), "completion" in row


def load_results(out: Path, source: Path, keys: array[int]) -> bytearray:
    """Each line's state (``TO_SEND``, ``OK`` or ``FAILED``) from the rows in ``out``.

    A row whose key is not its line's request: an error row is just outdated (the line was
    fixed after it failed); a success row means the file answers another input, refused.
    A partial last row (a run killed mid-write) is cut off, once the file is known ours.

    Raises:
        BatchUsageError: ``out`` is not a results file of ``source``; it is left unchanged.
    """
    state = bytearray(len(keys))
    if not out.exists():
        return state
    if os.path.samefile(out, source):
        raise BatchUsageError([f"completions-sdk: --out {out} is the input file itself"])
    stale: list[int] = []
    stale_count = complete = 0
    partial = b""
    with out.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            row = _parse_row(raw) if raw.strip() else (0, 0, False)
            if not raw.endswith(b"\n"):  # the last line, without its line end
                partial = raw
                if row is None and raw.startswith(_ROW_START):
                    continue  # cut in the middle of a row: repaired below
            if row is None:
                raise _not_results(out, number)
            complete += len(raw)
            line, key, succeeded = row
            if not line:
                continue
            if line <= len(keys) and keys[line - 1] == key:
                state[line - 1] = OK if succeeded else FAILED
            elif succeeded:
                stale_count += 1
                if len(stale) < _SHOWN_STALE:
                    stale.append(line)
    if stale_count:
        shown = ", ".join(map(str, sorted(stale))) + (", ..." if stale_count > len(stale) else "")
        raise BatchUsageError(
            [
                f"completions-sdk: {out} holds results (for lines {shown}) that do not answer "
                f"the requests of {source} (was the input edited, or lines removed?): restore "
                "the input, or write to a new --out file"
            ]
        )
    if partial:  # only now that the file is known to be ours
        _repair(out, complete)
    return state


def _repair(out: Path, complete: int) -> None:
    """Finish a whole last row with its line end, or cut off a partial one."""
    with out.open("r+b") as file:
        if file.seek(0, os.SEEK_END) == complete:
            file.write(b"\n")
        else:
            file.truncate(complete)


def _not_results(out: Path, number: int) -> BatchUsageError:
    where = f"line {number}"
    return BatchUsageError(
        [
            f"completions-sdk: --out {out} is not a results file of the batch command "
            f"({where} is not a result row); it was left unchanged: name a new --out file"
        ]
    )
