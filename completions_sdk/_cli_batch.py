"""``completions-sdk batch``: a JSONL file of requests in, one result row per line out.

Two passes over the input, a line at a time: the first validates every line and keeps only
each line's endpoint and request key; the second (once per endpoint) sends the lines not
answered yet, through the client's lazy batch iterator, and appends a row as each ends.
Peak memory does not grow with the number of lines beyond 9 bytes a line
(``benchmarks/cli_memory.py``: 51.4 MiB at 4,000 lines, 53.3 at 40,000, 61.3 at 400,000).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ._cli_batch_input import (
    CHAT,
    COMPLETIONS,
    BatchUsageError,
    Checked,
    LineParser,
    check_input,
    iter_requests,
)
from ._cli_batch_results import OK, load_results, write_row
from ._client import Client
from ._exceptions import CompletionsError
from ._quota import RateLimit

__all__ = [
    "BatchPlan",
    "BatchUsageError",
    "Meter",
    "prepare_batch",
    "rate_limit",
    "send_batch",
    "summary",
]

Outcome = Any  # a Completion, a ChatCompletion or a CompletionsError
SHOWN_FAILURES = 10


def _iter_outcomes(
    client: Client, kind: int, requests: Iterator[Any], concurrency: int, options: dict[str, Any]
) -> Generator[tuple[int, Outcome], None, None]:
    """``(index, outcome)`` of each request pulled from ``requests``, as each ends."""
    many = client.iter_chat_many if kind == CHAT else client.iter_complete_many
    return many(requests, concurrency=concurrency, return_exceptions=True, **options)


def rate_limit(rpm: float | None, tpm: float | None, adaptive: bool | None) -> RateLimit | None:
    """The ``RateLimit`` the flags ask for, or ``None`` (the client's defaults)."""
    if rpm is None and tpm is None and adaptive is None:
        return None
    return RateLimit(requests_per_minute=rpm, tokens_per_minute=tpm, adaptive=adaptive is not False)


@dataclass
class BatchPlan:
    """What the validation pass found: the lines, their state, what is left to send."""

    source: Path
    out: Path | None
    parser: LineParser
    checked: Checked
    state: bytearray

    def count(self, kind: int | None = None, *, unsent: bool = False) -> int:
        """How many requests (of one endpoint kind; only those still to send)."""
        return sum(
            1
            for index, line_kind in enumerate(self.checked.kinds)
            if line_kind
            and (kind is None or line_kind == kind)
            and not (unsent and self.state[index] == OK)
        )


def prepare_batch(source: Path, out: Path | None, *, model: str | None, endpoint: str) -> BatchPlan:
    """Validate every line of ``source`` and check ``out``; nothing is sent or written.

    Raises:
        BatchUsageError: invalid lines (all named), or an ``out`` that is not ours.
    """
    parser = LineParser(model=model, endpoint=endpoint)
    checked = check_input(source, parser)
    state = load_results(out, source, checked.keys) if out else bytearray(len(checked.keys))
    return BatchPlan(source, out, parser, checked, state)


def send_batch(
    client: Client, plan: BatchPlan, *, concurrency: int, options: dict[str, Any], live: bool
) -> int:
    """Send every line not answered yet, a row per line; returns how many failed."""
    assert plan.out is not None
    todo = plan.count(unsent=True)
    with plan.out.open("a", encoding="utf-8") as sink:  # before saying anything: it may fail
        print(
            f"completions-sdk: {todo} to send, {plan.count() - todo} already in {plan.out}",
            file=sys.stderr,
        )
        meter = Meter(todo, live=live)
        try:
            for kind in (COMPLETIONS, CHAT):
                if plan.count(kind, unsent=True):
                    _send_kind(client, plan, kind, sink, meter, concurrency, options)
        finally:
            meter.finish(plan.out)
    return meter.failed


def _send_kind(
    client: Client,
    plan: BatchPlan,
    kind: int,
    sink: IO[str],
    meter: Meter,
    concurrency: int,
    options: dict[str, Any],
) -> None:
    in_flight: dict[int, tuple[int, int]] = {}  # index -> (line, key), only those pulled

    def requests() -> Iterator[Any]:
        lines = iter_requests(
            plan.source,
            plan.parser,
            plan.checked,
            lambda index: plan.checked.kinds[index] == kind and plan.state[index] != OK,
        )
        for index, line in enumerate(lines):
            in_flight[index] = (line.number, line.key)
            yield line.request

    outcomes = _iter_outcomes(client, kind, requests(), concurrency, options)
    with closing(outcomes):  # Ctrl-C: the calls in flight are abandoned, rows so far kept
        for index, outcome in outcomes:
            number, key = in_flight.pop(index)
            write_row(sink, number, key, outcome)
            failed = isinstance(outcome, CompletionsError)
            meter.add(failed=failed)
            if failed and meter.failed <= SHOWN_FAILURES:  # the rest: in the error rows
                said = f"{type(outcome).__name__}: {' '.join(str(outcome).split())}"
                print(f"{plan.source}:{number}: {said}", file=sys.stderr)


class Meter:
    """The progress line (live: redrawn at most every ``interval``) and the final summary."""

    def __init__(
        self,
        total: int,
        *,
        live: bool,
        stream: IO[str] | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self._live = live
        self._stream = stream or sys.stderr
        self._clock = clock
        self._tty = self._stream.isatty()
        self._interval = 0.25 if self._tty else 1.0
        self._started = clock()
        self._shown = float("-inf")
        self.updates = 0

    def add(self, *, failed: bool) -> None:
        """Count one finished line; redraw the progress line if it is time to."""
        self.done += 1
        self.failed += failed
        now = self._clock()
        if self._live and now - self._shown >= self._interval:
            self._shown = now
            self.updates += 1
            end = "\r" if self._tty else "\n"
            self._stream.write(f"{self._line(now)}{end}")
            self._stream.flush()

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else float("inf")
        eta = f"{left:.0f} s" if left != float("inf") else "?"
        return (
            f"completions-sdk: {self.done}/{self.total} done, {self.failed} failed, "
            f"{rate:.1f}/s, ETA {eta}"
        )

    def finish(self, out: Path) -> None:
        """The summary line, always (also after Ctrl-C)."""
        elapsed = self._clock() - self._started
        if self._live and self._tty:
            self._stream.write("\n")
        self._stream.write(
            f"completions-sdk: {self.done - self.failed} succeeded, {self.failed} failed, "
            f"{self.total - self.done} not sent, in {elapsed:.1f} s; results in {out}\n"
        )
        self._stream.flush()


def summary(plan: BatchPlan) -> str:
    """``--check``'s report: what a run would send."""
    chat = plan.count(CHAT)
    text = (
        f"completions-sdk: {plan.source}: {plan.count()} valid requests "
        f"({plan.count() - chat} completions, {chat} chat)"
    )
    if plan.out is not None:
        text += f"; {plan.count(unsent=True)} to send, the others already in {plan.out}"
    return text
