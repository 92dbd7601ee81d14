"""``completions-sdk batch``: a JSONL file of requests in, a JSONL file of results out.

Each input line is a JSON object of ``CompletionRequest`` fields (``model`` defaults to
``--model``) or a JSON string (the prompt). Each result line is
``{"line": N, "completion": {...}}``, written as soon as it arrives. Lines already in the
output file are not sent again, so a killed run resumes where it stopped; failures go to
stderr and are retried by the next run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

import pydantic

from ._batch import iter_completed
from ._client import Client
from ._exceptions import CompletionsError
from ._request import CompletionRequest

__all__ = ["run_batch"]


def read_requests(path: Path, model: str) -> dict[int, CompletionRequest]:
    """Every request of the input file by line number (1-based); all validated first."""
    requests: dict[int, CompletionRequest] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                fields = {"prompt": item} if isinstance(item, str) else dict(item)
                requests[number] = CompletionRequest(**{"model": model, **fields})
            except (ValueError, TypeError, pydantic.ValidationError) as exc:
                message = " ".join(str(exc).split())
                raise ValueError(f"{path}:{number}: not a valid request: {message}") from None
    return requests


def finished_lines(path: Path) -> set[int]:
    """Line numbers already answered in an earlier run's output.

    A run killed mid-write can leave a partial last line: it is cut off here, so that
    the next result starts on a fresh line.
    """
    if not path.exists():
        return set()
    content = path.read_bytes()
    complete = content[: content.rfind(b"\n") + 1]
    if len(complete) != len(content):
        path.write_bytes(complete)
    done = set()
    for line in complete.decode("utf-8").splitlines():
        try:
            done.add(int(json.loads(line)["line"]))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def run_batch(client: Client, source: Path, out: Path, *, model: str, concurrency: int) -> int:
    """Send every unanswered line of ``source``; returns how many failed."""
    requests = read_requests(source, model)
    done = finished_lines(out)
    numbers = [number for number in requests if number not in done]
    todo = [requests[number] for number in numbers]
    print(
        f"completions-sdk: {len(todo)} to send, {len(requests) - len(todo)} already in {out}",
        file=sys.stderr,
    )
    failures = 0
    with out.open("a", encoding="utf-8") as sink:
        for index, outcome in iter_completed(client.complete, todo, concurrency):
            if isinstance(outcome, CompletionsError):
                failures += 1
                print(
                    f"{source}:{numbers[index]}: {type(outcome).__name__}: {outcome}",
                    file=sys.stderr,
                )
                continue
            _write(sink, {"line": numbers[index], "completion": outcome.model_dump(by_alias=True)})
    return failures


def _write(sink: IO[str], record: dict[str, Any]) -> None:
    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    sink.flush()
