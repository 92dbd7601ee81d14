"""Summaries, tables and target checks from the runner's raw trial results (no I/O).

``results`` maps a figure to a side to the list of that side's trial results (the dicts
``figures.py`` prints, or ``{"net_ms": ...}`` for imports). Each figure has a headline
metric (wall time, as a user feels it) and, where it applies, a CPU-time metric (the
client process's own work, which hardly moves when other processes load the machine). A
table shows each metric's median over the trials, the headline's min-max, and the ratios
to the raw httpx side and to the openai side of the same kind (sync to sync, async to
async).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

__all__ = ["FIGURES", "TARGETS", "Figure", "Target", "check_targets", "format_table", "render"]

Results = dict[str, dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Metric:
    """One number a side reports: its key, unit and direction."""

    key: str
    unit: str
    higher_is_better: bool
    digits: int = 0


@dataclass(frozen=True)
class Figure:
    """A figure: its title, the trial results it reads, and its metrics."""

    title: str
    source: str
    """The measured figure whose trial results this one reads."""
    metric: Metric
    cpu: Metric | None = None
    ratios: bool = True
    """Whether ratios mean anything (not for a growth near zero)."""
    raw: str | None = None
    """The side the "vs raw" ratios are taken against, if not raw httpx of the same kind."""


_PER_REQUEST = Metric("us_per_request", "µs/request", higher_is_better=False)
_CPU_PER_REQUEST = Metric("cpu_us_per_request", "CPU µs/request", higher_is_better=False)
_REQUESTS_PER_S = Metric("requests_per_s", "req/s", higher_is_better=True)
_UNBOUNDED = "raw-async+pool:none"

FIGURES: dict[str, Figure] = {
    "import": Figure(
        "import, net of a bare interpreter",
        "import",
        Metric("net_ms", "ms", False, 1),
        Metric("net_cpu_ms", "CPU ms", False, 1),
    ),
    "sequential": Figure(
        "sequential non-streamed requests", "sequential", _PER_REQUEST, _CPU_PER_REQUEST
    ),
    "peak-rss": Figure(
        "peak RSS after the sequential requests",
        "sequential",
        Metric("peak_rss_mib", "MiB", False, 1),
    ),
    "stream": Figure(
        "one long stream",
        "stream",
        Metric("chunks_per_s", "chunks/s", higher_is_better=True),
        Metric("chunks_per_cpu_s", "chunks/CPU s", higher_is_better=True),
    ),
    "first-chunk": Figure(
        "time to first chunk, median of short streams",
        "first-chunk",
        Metric("ttfc_us", "µs", higher_is_better=False),
    ),
    "stream-memory": Figure(
        "RSS growth over a long stream whose chunks are not kept, after its first tenth",
        "stream-memory",
        Metric("bytes_per_chunk", "bytes/chunk", False, 1),
        ratios=False,
    ),
    "concurrency": Figure(
        "async bursts of concurrent requests", "concurrency", _REQUESTS_PER_S, _CPU_PER_REQUEST
    ),
    "concurrency-slow": Figure(
        "async bursts, the server replying after 50 ms",
        "concurrency-slow",
        _REQUESTS_PER_S,
        _CPU_PER_REQUEST,
    ),
    "fan-out": Figure(
        "fan-out: paced streams opened at once on one client, the last stream's first chunk"
        " (vs raw: httpx without pool limits)",
        "fan-out",
        Metric("first_chunk_last_ms", "ms", higher_is_better=False),
        Metric("cpu_ms", "client CPU ms", higher_is_better=False),
        raw=_UNBOUNDED,
    ),
    "fan-out-median": Figure(
        "fan-out: the median stream's first chunk",
        "fan-out",
        Metric("first_chunk_median_ms", "ms", higher_is_better=False),
        raw=_UNBOUNDED,
    ),
    "fan-out-gap": Figure(
        "fan-out: each stream's longest wait between two chunks sent 50 ms apart, median",
        "fan-out",
        Metric("chunk_gap_median_ms", "ms", higher_is_better=False),
        raw=_UNBOUNDED,
    ),
}
"""Every table the report can show, in the order it shows them."""


def summary(
    results: Results, figure: str, side: str, metric: Metric | None = None
) -> tuple[float, float, float] | None:
    """(median, min, max) of a figure's metric for one side; ``None`` if not measured."""
    spec = FIGURES[figure]
    trials = results.get(spec.source, {}).get(side)
    if not trials:
        return None
    values = [float(trial[(metric or spec.metric).key]) for trial in trials]
    return statistics.median(values), min(values), max(values)


def reference(side: str, kind: str) -> str:
    """The side a ratio is taken against: ``raw`` or ``openai`` of the same sync/async kind."""
    side = side.partition("@")[0]
    if side in ("bare", "httpx", "floor", "sdk", "openai"):  # the import figure's sides
        return "floor" if kind == "raw" else "openai"
    mode = "async" if "-async" in side else "sync"
    return f"{kind}-{mode}"


def ratio(
    results: Results, figure: str, side: str, other: str, metric: Metric | None = None
) -> float | None:
    """The side's median over the other side's (``None`` when either is missing)."""
    mine = summary(results, figure, side, metric)
    theirs = summary(results, figure, other, metric)
    if mine is None or theirs is None or theirs[0] == 0:
        return None
    return mine[0] / theirs[0]


def stalled_rounds(trials: list[dict[str, Any]]) -> int:
    """Rounds slower than half the median round of their own trial: a pool stall."""
    stalls = 0
    for trial in trials:
        rates = trial["rounds_per_s"]
        floor = statistics.median(rates) / 2
        stalls += sum(rate < floor for rate in rates)
    return stalls


def _number(value: float | None, digits: int, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{suffix}"


def _header(spec: Figure, figure: str) -> list[str]:
    better = "higher" if spec.metric.higher_is_better else "lower"
    raw = "floor" if figure == "import" else "raw"
    columns = ["side", spec.metric.unit, "min-max"]
    if spec.ratios:
        columns += [f"vs {raw}", "vs openai"]
    if spec.cpu is not None:
        columns += [spec.cpu.unit, f"CPU vs {raw}", "CPU vs openai"]
    return [
        f"### {spec.title} ({better} is better)",
        "",
        "| " + " | ".join(columns) + " |",
        "|---|" + "---:|" * (len(columns) - 1),
    ]


def _row(results: Results, figure: str, side: str) -> list[str] | None:
    spec = FIGURES[figure]
    stats = summary(results, figure, side)
    if stats is None:
        return None
    median, low, high = stats
    digits = spec.metric.digits
    label = side
    if figure.startswith("concurrency"):
        label += f" ({stalled_rounds(results[spec.source][side])} stalled rounds)"
    cells = [label, _number(median, digits), f"{_number(low, digits)}-{_number(high, digits)}"]
    others = [spec.raw or reference(side, "raw"), reference(side, "openai")]
    if spec.ratios:
        cells += [_number(ratio(results, figure, side, other), 2, "x") for other in others]
    if spec.cpu is not None:
        cpu = summary(results, figure, side, spec.cpu)
        cells.append(_number(cpu[0] if cpu else None, spec.cpu.digits))
        cells += [
            _number(ratio(results, figure, side, other, spec.cpu), 2, "x") for other in others
        ]
    return cells


def format_table(results: Results, figure: str, sides: list[str]) -> str:
    """A Markdown table of one figure for every measured side (the bare interpreter aside)."""
    lines = _header(FIGURES[figure], figure)
    for side in sides:
        cells = _row(results, figure, side) if side != "bare" else None
        if cells is not None:
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One acceptance target of the performance issue: a ratio of two sides' medians."""

    label: str
    figure: str
    side: str
    other: str
    limit: float
    at_most: bool

    def check(self, results: Results) -> tuple[float | None, float | None, bool | None]:
        """The wall ratio, the CPU-time ratio (if any) and whether the wall ratio is met."""
        value = ratio(results, self.figure, self.side, self.other)
        cpu_metric = FIGURES[self.figure].cpu
        cpu = ratio(results, self.figure, self.side, self.other, cpu_metric) if cpu_metric else None
        if value is None:
            return None, cpu, None
        return value, cpu, value <= self.limit if self.at_most else value >= self.limit


TARGETS = [
    Target("import vs the dependency floor", "import", "sdk", "floor", 1.25, at_most=True),
    Target("import vs import openai", "import", "sdk", "openai", 0.35, at_most=True),
    Target(
        "complete() time vs raw httpx", "sequential", "sdk-sync", "raw-sync", 1.15, at_most=True
    ),
    Target("stream() chunks/s vs raw httpx", "stream", "sdk-sync", "raw-sync", 0.8, at_most=False),
    Target("stream() chunks/s vs openai", "stream", "sdk-sync", "openai-sync", 3.5, at_most=False),
    Target(
        "async burst req/s vs openai",
        "concurrency",
        "sdk-async",
        "openai-async",
        2.0,
        at_most=False,
    ),
    Target("peak RSS vs raw httpx", "peak-rss", "sdk-sync", "raw-sync", 1.1, at_most=True),
    Target(
        "fan-out: last stream's first chunk vs raw httpx without pool limits",
        "fan-out",
        "sdk-async",
        _UNBOUNDED,
        1.5,
        at_most=True,
    ),
]
"""The issue's targets; raw httpx carries the same dependencies imported (see sides.py)."""


def check_targets(results: Results) -> tuple[str, list[dict[str, Any]]]:
    """A Markdown table of the targets, and the same as data for ``--json``."""
    rows: list[dict[str, Any]] = []
    lines = [
        "### targets (ratios of medians; CPU-time ratios as a cross-check)",
        "",
        "| target | ratio | CPU-time ratio | goal | met |",
        "|---|---:|---:|---:|---|",
    ]
    for target in TARGETS:
        value, cpu, met = target.check(results)
        goal = f"{'<=' if target.at_most else '>='} {target.limit:g}x"
        verdict = "not measured" if met is None else ("yes" if met else "**no**")
        cells = [target.label, _number(value, 2, "x"), _number(cpu, 2, "x"), goal, verdict]
        lines.append("| " + " | ".join(cells) + " |")
        rows.append({"target": target.label, "ratio": value, "cpu_ratio": cpu, "met": met})
    trials = results.get("concurrency", {}).get("sdk-async")
    if trials:
        stalls = stalled_rounds(trials)
        verdict = "yes" if stalls == 0 else "**no**"
        lines.append(f"| async bursts: sdk-async stalled rounds | {stalls} | | 0 | {verdict} |")
        rows.append({"target": "sdk-async stalled rounds", "ratio": stalls, "met": stalls == 0})
    return "\n".join(lines), rows


def render(results: Results, env: dict[str, Any], sizes: dict[str, int], command: str) -> str:
    """The whole report as Markdown: what was run where, every table, then the targets."""
    versions = ", ".join(f"{name} {version}" for name, version in env["versions"].items())
    parts = [
        f"`{command}`",
        "",
        f"Python {env['python']} on {env['platform']}, {env['cpus']} CPUs"
        f"{' (server and client pinned apart)' if env['pinned'] else ''}; {versions}.",
        f"Load average (1, 5, 15 min) before: {env['load_before']}, after: {env['load_after']}.",
        f"SDK measured: {env['sdk']}.",
        *(f"SDK variant `@{name}`: {path}." for name, path in env["variants"].items()),
        f"Sizes: {sizes}.",
    ]
    for figure, spec in FIGURES.items():
        if spec.source in results:  # sides in the order they were measured
            parts += ["", format_table(results, figure, list(results[spec.source]))]
    parts += ["", check_targets(results)[0]]
    return "\n".join(parts)
