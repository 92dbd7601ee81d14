"""``completions-sdk batch``: a JSONL file of requests in, a JSONL file of results out.

Each input line is a JSON object of ``CompletionRequest`` fields (``model`` defaults to
``--model``) or a JSON string (the prompt). Each result line is
``{"line": N, "request": KEY, "completion": {...}}``, written as soon as it arrives; KEY
fingerprints the request sent. Lines already in the output file are not sent again, so a
killed run resumes where it stopped; failures go to stderr and are retried by the next run.
An output file whose results answer other requests than the input now holds (the input was
edited, or another file was named) is refused rather than mixed with new results.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path
from typing import IO, Any

import pydantic

from ._client import Client
from ._exceptions import CompletionsError
from ._request import CompletionRequest
from ._request_base import UnknownFieldWarning

__all__ = ["run_batch"]


def read_requests(path: Path, model: str) -> dict[int, CompletionRequest]:
    """Every request of the input file by line number (1-based); all validated first."""
    requests: dict[int, CompletionRequest] = {}
    invalid: list[str] = []
    with path.open(encoding="utf-8") as lines, warnings.catch_warnings():
        # In a file of thousands of requests, a likely typo stops the run before sending.
        warnings.simplefilter("error", UnknownFieldWarning)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                fields = {"prompt": item} if isinstance(item, str) else dict(item)
                requests[number] = CompletionRequest(**{"model": model, **fields})
            except (ValueError, TypeError, pydantic.ValidationError, UnknownFieldWarning) as exc:
                message = " ".join(str(exc).split())
                invalid.append(f"{path}:{number}: not a valid request: {message}")
    if invalid:  # every bad line at once (the first few), so one run finds them all
        shown = invalid[:_SHOWN_INVALID]
        if len(invalid) > len(shown):
            shown.append(f"... and {len(invalid) - len(shown)} more invalid lines")
        raise ValueError("\n".join(shown) + "\n(nothing was sent)")
    return requests


_SHOWN_INVALID = 10


def request_key(request: CompletionRequest) -> str:
    """A short fingerprint of the request a result answers."""
    return hashlib.sha256(request.to_json()).hexdigest()[:16]


def finished_lines(path: Path) -> dict[int, str]:
    """The request key of each line already answered in an earlier run's output.

    A run killed mid-write can leave a partial last line: it is cut off here, so that
    the next result starts on a fresh line.
    """
    if not path.exists():
        return {}
    content = path.read_bytes()
    complete = content[: content.rfind(b"\n") + 1]
    if len(complete) != len(content):
        path.write_bytes(complete)
    done: dict[int, str] = {}
    for line in complete.decode("utf-8").splitlines():
        try:
            record = json.loads(line)
            done[int(record["line"])] = str(record.get("request"))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def run_batch(client: Client, source: Path, out: Path, *, model: str, concurrency: int) -> int:
    """Send every unanswered line of ``source``; returns how many failed."""
    if concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1, got {concurrency}")
    requests = read_requests(source, model)
    keys = {number: request_key(request) for number, request in requests.items()}
    done = finished_lines(out)
    stale = sorted(number for number, key in done.items() if keys.get(number) != key)
    if stale:
        shown = ", ".join(map(str, stale[:5])) + (", ..." if len(stale) > 5 else "")
        raise ValueError(
            f"{out} holds results (for lines {shown}) that do not answer the requests of "
            f"{source} (was the input edited, or lines removed?): restore the input, or "
            "write to a new --out file"
        )
    numbers = [number for number in requests if number not in done]
    todo = [requests[number] for number in numbers]
    failures = 0
    with out.open("a", encoding="utf-8") as sink:  # before saying anything: it may fail
        print(
            f"completions-sdk: {len(todo)} to send, {len(requests) - len(todo)} already in {out}",
            file=sys.stderr,
        )
        for index, outcome in client.iter_complete_many(
            todo, concurrency=concurrency, return_exceptions=True
        ):
            number = numbers[index]
            if isinstance(outcome, CompletionsError):
                failures += 1
                print(f"{source}:{number}: {type(outcome).__name__}: {outcome}", file=sys.stderr)
                continue
            record = {
                "line": number,
                "request": keys[number],
                "completion": outcome.model_dump(by_alias=True),
            }
            _write(sink, record)
    return failures


def _write(sink: IO[str], record: dict[str, Any]) -> None:
    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    sink.flush()
