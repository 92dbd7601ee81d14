"""Side-by-side benchmark: completions_sdk against raw httpx and the openai package.

Usage::

    python benchmarks/run.py                    # the full table (about 8 minutes, 2 cores)
    python benchmarks/run.py --quick            # a smoke run for CI (well under a minute)
    python benchmarks/run.py --json out.json    # also write every trial's numbers
    python benchmarks/run.py --figures sequential stream --sides raw-sync sdk-sync
    python benchmarks/run.py --figures quota    # batch work at a quota (quota.py)

The runner starts its own loopback servers (``server.py``: one instant, one that replies
after 50 ms, one that paces stream events 50 ms apart for the fan-out figure), then
measures every (figure, side, trial) in a fresh process (``figures.py``), alternating the
sides trial by trial and rotating which one goes first, so that drift on a shared machine
spreads over all sides instead of biasing one. With two or more CPUs the servers are
pinned to CPU 0 and the measured processes to CPU 1.

It prints Markdown tables (median, min-max, ratios to raw httpx and to openai) and the
issue's targets. It exits non-zero only when a side fails to run: timings are reported,
never asserted.

To measure what a change buys, copy the package, change the copy, and measure both in
the same alternating run: ``--variant fast=/tmp/scratch`` adds ``sdk-sync@fast``,
``sdk-async@fast``, ... sides that import ``completions_sdk`` from ``/tmp/scratch``.
``--sdk-path DIR`` replaces the installed SDK for the plain ``sdk`` sides.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import quota
from machine import Machine, SideFailed, make_machine, serving
from report import check_targets, render

HERE = Path(__file__).resolve().parent
FIGURES_SCRIPT = HERE / "figures.py"
QUOTA_SCRIPT = HERE / "quota.py"
SLOW_SERVER_DELAY_MS = 50
FAN_OUT_CHUNK_DELAY_MS = 50

IMPORTS = {
    "bare": "pass",
    "httpx": "import httpx",
    "floor": "import httpx, httpx_sse, tenacity; from pydantic import BaseModel",
    "sdk": "import completions_sdk",
    "openai": "import openai",
}
"""What each import side runs with ``python -c``; ``floor`` is the SDK's dependencies."""

REQUEST_SIDES = [
    "raw-sync",
    "sdk-sync",
    "openai-sync",
    "raw-async",
    "raw-async+aiohttp",
    "sdk-async",
    "sdk-async+aiohttp",
    "openai-async",
]
BURST_SIDES = [
    "raw-async",
    "raw-async+pool:10",
    "raw-async+pool:1000",
    "raw-async+aiohttp",
    "sdk-async",
    "sdk-async+aiohttp",
    "openai-async",
]
FAN_OUT_SIDES = ["raw-async+pool:none", "raw-async", "sdk-async", "openai-async"]
"""The raw baseline has no pool limit: the fastest httpx can fan out."""
FIGURE_SIDES = {
    "import": list(IMPORTS),
    "sequential": REQUEST_SIDES,
    "stream": REQUEST_SIDES,
    "first-chunk": REQUEST_SIDES,
    "stream-memory": ["raw-sync", "sdk-sync", "openai-sync"],
    "concurrency": BURST_SIDES,
    "concurrency-slow": BURST_SIDES,
    "fan-out": FAN_OUT_SIDES,
    "quota": list(quota.SIDES),
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each figure does."""

    trials: int = 5
    import_trials: int = 15
    requests: int = 2000
    warmup: int = 100
    stream_chunks: int = 20_000
    first_chunk_streams: int = 200
    first_chunk_chunks: int = 8
    long_stream_chunks: int = 100_000
    concurrency: int = 200
    rounds: int = 5
    fan_out_streams: int = 500
    fan_out_chunks: int = 40
    quota_requests: int = 600

    def params(self, figure: str) -> dict[str, int]:
        """The parameters ``figures.py`` takes for ``figure``."""
        return {
            "sequential": {"n": self.requests, "warmup": self.warmup},
            "stream": {"chunks": self.stream_chunks},
            "first-chunk": {"streams": self.first_chunk_streams, "chunks": self.first_chunk_chunks},
            "stream-memory": {"chunks": self.long_stream_chunks},
            "concurrency": {"concurrency": self.concurrency, "rounds": self.rounds},
            "concurrency-slow": {"concurrency": self.concurrency, "rounds": self.rounds},
            "fan-out": {"streams": self.fan_out_streams, "chunks": self.fan_out_chunks},
        }[figure]


QUICK = Sizes(
    trials=1,
    import_trials=2,
    requests=100,
    warmup=10,
    stream_chunks=1_000,
    first_chunk_streams=5,
    long_stream_chunks=2_000,
    concurrency=20,
    rounds=2,
    fan_out_streams=20,
    fan_out_chunks=4,
    quota_requests=100,
)


def _rotated(sides: list[str], trial: int) -> list[str]:
    shift = trial % len(sides)
    return sides[shift:] + sides[:shift]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_imports(machine: Machine, sides: list[str], trials: int) -> dict[str, list[Any]]:
    """Wall and CPU time of ``python -c "import X"`` minus ``python -c pass``, per trial."""
    sides = ["bare", *(side for side in sides if side != "bare")]
    for side in sides:  # untimed: compiles the .pyc files and warms the page cache
        machine.run(["-c", _import_code(side)], cpu=machine.client_cpu, side=side)
    results: dict[str, list[Any]] = {side: [] for side in sides}
    for trial in range(trials):
        walls, cpus = {}, {}
        for side in _rotated(sides, trial):
            start, start_cpu = time.perf_counter(), _children_cpu()
            done = machine.run(["-c", _import_code(side)], cpu=machine.client_cpu, side=side)
            walls[side] = (time.perf_counter() - start) * 1000
            cpus[side] = (_children_cpu() - start_cpu) * 1000
            if done.returncode != 0:
                raise SideFailed(f"import {side} failed:\n{done.stderr[-2000:]}")
        for side in sides:
            net = {"net_ms": walls[side] - walls["bare"], "net_cpu_ms": cpus[side] - cpus["bare"]}
            results[side].append({**net, "wall_ms": walls[side], "cpu_ms": cpus[side]})
    return results


def _import_code(side: str) -> str:
    return IMPORTS[side.partition("@")[0]]


def measure_side(machine: Machine, figure: str, side: str, url: str, params: dict[str, int]) -> Any:
    """One trial of one figure on one side, in its own process."""
    name = figure.removesuffix("-slow")
    args = [str(FIGURES_SCRIPT), name, side.partition("@")[0], url, json.dumps(params)]
    done = machine.run(args, cpu=machine.client_cpu, side=side)
    if done.returncode != 0:
        raise SideFailed(f"{figure} on {side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def measure_figure(
    machine: Machine, figure: str, sides: list[str], url: str, sizes: Sizes
) -> dict[str, list[Any]]:
    """Every trial of a figure, the sides alternating within each trial."""
    results: dict[str, list[Any]] = {side: [] for side in sides}
    for trial in range(sizes.trials):
        for side in _rotated(sides, trial):
            results[side].append(measure_side(machine, figure, side, url, sizes.params(figure)))
        _progress(f"  {figure}: trial {trial + 1}/{sizes.trials} done")
    return results


def measure_quota(machine: Machine, sides: list[str], requests: int) -> dict[str, Any]:
    """``quota.py`` in its own process (it starts its emulator and pins both itself)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        args = [str(QUOTA_SCRIPT), "--requests", str(requests), "--json", out.name]
        args += ["--sides", *sides] + ([] if machine.client_cpu is not None else ["--no-pin"])
        done = machine.run(args, cpu=None)
        if done.returncode != 0:
            raise SideFailed(f"quota failed:\n{done.stderr[-3000:]}")
        found: dict[str, Any] = json.loads(Path(out.name).read_text())
    return found


def _render(results: Any, env: dict[str, Any], sizes: dict[str, int], command: str) -> str:
    """``report.render``, and the quota figure's own table when it was measured."""
    report = render(results, env, sizes, command)
    found = results.get("quota")
    return report if found is None else report + "\n\n" + quota.render(**found)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    names = ["httpx", "httpcore", "httpx-sse", "pydantic", "tenacity", "openai", "httpx-aiohttp"]
    found = {}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def _sdk_origin(machine: Machine) -> str:
    done = machine.run(["-c", "import completions_sdk as m; print(m.__file__)"], cpu=None)
    location = Path(done.stdout.strip()).parent if done.returncode == 0 else HERE
    commit = subprocess.run(
        ["git", "-C", str(location), "log", "-1", "--format=%h", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{location}" + (f" (last commit {commit})" if commit else "")


def environment(machine: Machine, load_before: list[float]) -> dict[str, Any]:
    """What the numbers were measured on, and how busy the machine was meanwhile."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pinned": machine.client_cpu is not None,
        "load_before": load_before,
        "load_after": [round(load, 2) for load in os.getloadavg()],
        "versions": _versions(),
        "sdk": _sdk_origin(machine),
        "variants": machine.variants,
    }


def figure_sides(figure: str, variants: list[str]) -> list[str]:
    """A figure's sides, each SDK side followed by its ``@variant`` twins."""
    return [
        expanded
        for side in FIGURE_SIDES[figure]
        for expanded in [side, *(f"{side}@{v}" for v in variants if side.startswith("sdk"))]
    ]


def missing_module(side: str) -> str | None:
    """The optional module a side needs and this environment lacks (``None``: all there)."""
    needs = {"openai": "openai", "+aiohttp": "httpx_aiohttp"}
    for marker, module in needs.items():
        if marker in side and importlib.util.find_spec(module) is None:
            return module
    return None


def run(figures: list[str], sides: list[str] | None, sizes: Sizes, machine: Machine) -> Any:
    """Measure the figures; returns ``{figure: {side: [trial results]}}``."""
    results: dict[str, dict[str, list[Any]]] = {}
    with (
        serving(machine) as url,
        serving(machine, SLOW_SERVER_DELAY_MS) as slow_url,
        serving(machine, chunk_delay_ms=FAN_OUT_CHUNK_DELAY_MS) as paced_url,
    ):
        for figure in figures:
            every = figure_sides(figure, list(machine.variants))
            chosen = [side for side in every if sides is None or side.partition("@")[0] in sides]
            for side in [side for side in chosen if missing_module(side)]:
                _progress(f"{figure}: skipping {side} ({missing_module(side)} is not installed)")
                chosen.remove(side)
            if not chosen:
                continue
            _progress(f"{figure}: {', '.join(chosen)}")
            if figure == "import":
                results[figure] = measure_imports(machine, chosen, sizes.import_trials)
                continue
            if figure == "quota":
                results[figure] = measure_quota(machine, chosen, sizes.quota_requests)
                continue
            target = slow_url if figure.endswith("-slow") else url
            target = paced_url if figure == "fan-out" else target
            results[figure] = measure_figure(machine, figure, chosen, target, sizes)
    return results


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a CI smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write every trial's numbers here")
    parser.add_argument("--figures", nargs="+", choices=list(FIGURE_SIDES), metavar="FIGURE")
    parser.add_argument("--sides", nargs="+", metavar="SIDE", help="only these sides")
    parser.add_argument("--sdk-path", metavar="DIR", help="measure the completions_sdk in DIR")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the completions_sdk in DIR as sdk-*@NAME sides (repeatable)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--from-json", metavar="PATH", help="measure nothing: print the report of a saved run"
    )
    for field in dataclasses.fields(Sizes):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, type=int, metavar="N", help=f"default {field.default}")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the benchmark and print the report; 1 if a side failed to run."""
    args = _parse(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        print(_render(saved["results"], saved["environment"], saved["sizes"], saved["command"]))
        return 0
    sizes = QUICK if args.quick else Sizes()
    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Sizes)
        if getattr(args, field.name) is not None
    }
    sizes = dataclasses.replace(sizes, **overrides)
    figures = args.figures or list(FIGURE_SIDES)
    command = "python benchmarks/run.py " + " ".join(argv)
    started = time.perf_counter()
    variants = dict(variant.split("=", 1) for variant in args.variant)
    load_before = [round(load, 2) for load in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        machine = make_machine(args.sdk_path, variants, pin=not args.no_pin, scratch=scratch)
        try:
            results = run(figures, args.sides, sizes, machine)
        except SideFailed as exc:
            print(exc, file=sys.stderr)
            return 1
        env = environment(machine, load_before)
    print(_render(results, env, dataclasses.asdict(sizes), command.strip()))
    _progress(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        _, targets = check_targets(results)
        report = {
            "command": command.strip(),
            "environment": env,
            "sizes": dataclasses.asdict(sizes),
            "results": results,
            "targets": targets,
        }
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
