"""What OpenTelemetry costs a call: off (the API absent, or only no-op providers) and on.

Usage::

    python benchmarks/telemetry.py            # the table (about a minute on 2 cores)
    python benchmarks/telemetry.py --quick    # a smoke run

Three sides, each measured in a fresh process against ``server.py`` (the benchmark's
loopback stand-in for the proxy), trial by trial in turn with a rotating first side, as
``run.py`` does:

- ``absent``: ``opentelemetry`` made unimportable, as without the ``otel`` extra;
- ``noop``: the API importable, no provider set (its default no-op proxies);
- ``on``: an SDK ``TracerProvider`` (simple processor, in-memory exporter) and
  ``MeterProvider`` (in-memory reader) given to the client: every span and point kept.

Each side times sequential ``complete()`` calls and short streams (``STREAM_CHUNKS``
chunks); the import figure times ``python -c 'import completions_sdk'``. It prints a
Markdown table of medians (wall and CPU microseconds per call) and each side's cost over
``absent``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import Stopwatch
from machine import make_machine, serving

HERE = Path(__file__).resolve().parent
SIDES = ("absent", "noop", "on")
STREAM_CHUNKS = 8
_BLOCK = "import sys; sys.modules['opentelemetry'] = None\n"


def _client(side: str, url: str) -> Any:
    if side == "absent":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    import completions_sdk

    providers: dict[str, Any] = {}
    if side == "on":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
        }
    return completions_sdk.Client(api_key="k", deployment="d", base_url=url, **providers)


def measure(side: str, url: str, n: int, warmup: int) -> dict[str, float]:
    """One side's figures, in this process."""
    client = _client(side, url)
    prompt = {"model": "m", "prompt": "Why did the bicycle fall over?"}

    def stream() -> None:
        with client.stream(**prompt, max_tokens=STREAM_CHUNKS) as chunks:
            for _ in chunks:
                pass

    for _ in range(warmup):
        client.complete(**prompt, max_tokens=16)
        stream()
    with Stopwatch() as calls:
        for _ in range(n):
            client.complete(**prompt, max_tokens=16)
    with Stopwatch() as streams:
        for _ in range(n):
            stream()
    client.close()
    if side == "absent":
        assert not any(name.startswith("opentelemetry.") for name in sys.modules)
    return {
        "complete_us": calls.wall / n * 1e6,
        "complete_cpu_us": calls.cpu / n * 1e6,
        "stream_us": streams.wall / n * 1e6,
        "stream_cpu_us": streams.cpu / n * 1e6,
    }


def _import_us(machine: Any, side: str) -> float:
    code = (_BLOCK if side == "absent" else "") + "import completions_sdk"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=machine.env, cwd=machine.cwd)
    return (time.perf_counter() - start) * 1e6


def _run_side(machine: Any, side: str, url: str, n: int, warmup: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--side", side, url, str(n), str(warmup)],
        capture_output=True,
        text=True,
        check=True,
        env=machine.env,
        cwd=machine.cwd,
        preexec_fn=machine.pin(machine.client_cpu),
    )
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    figures["import_us"] = _import_us(machine, side)
    return figures


def render(trials: dict[str, list[dict[str, float]]]) -> str:
    """The Markdown table: medians per side, and each side's cost over ``absent``."""
    columns = ("complete_us", "complete_cpu_us", "stream_us", "stream_cpu_us", "import_us")
    medians = {
        side: {c: statistics.median(t[c] for t in runs) for c in columns}
        for side, runs in trials.items()
    }
    rows = ["| side | " + " | ".join(columns) + " | complete vs absent | CPU vs absent |"]
    rows.append("|" + "---|" * (len(columns) + 3))
    base = medians["absent"]
    for side, m in medians.items():
        extra = m["complete_us"] - base["complete_us"]
        extra_cpu = m["complete_cpu_us"] - base["complete_cpu_us"]
        cells = " | ".join(f"{m[c]:.0f}" for c in columns)
        rows.append(
            f"| {side} | {cells} | {m['complete_us'] / base['complete_us']:.2f}x "
            f"({extra:+.0f} µs) | {m['complete_cpu_us'] / base['complete_cpu_us']:.2f}x "
            f"({extra_cpu:+.0f} µs) |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000, help="calls (and streams) per trial")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a measured process
        url, n, warmup = args.rest
        print(json.dumps(measure(args.side, url, int(n), int(warmup))))
        return
    trials, n, warmup = (1, 50, 5) if args.quick else (args.trials, args.calls, 100)
    with tempfile.TemporaryDirectory() as scratch:
        machine = make_machine(None, {}, pin=True, scratch=scratch)
        with serving(machine) as url:
            results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
            for trial in range(trials):
                shift = trial % len(SIDES)
                for side in SIDES[shift:] + SIDES[:shift]:
                    results[side].append(_run_side(machine, side, url, n, warmup))
    print(
        f"### telemetry cost ({trials} trials of {n} calls and {n} streams of "
        f"{STREAM_CHUNKS} chunks; medians, µs per call)\n"
    )
    print(render(results))


if __name__ == "__main__":
    main()
