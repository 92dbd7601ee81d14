"""Batch work at a proxy's quota: how much of it a batch gets, and how many 429s it costs.

Usage::

    python benchmarks/quota.py                       # both sides, 600 requests each
    python benchmarks/quota.py --requests 200 --sides fixed
    python benchmarks/quota.py --json out.json       # also write the numbers

The emulator serves in its own process (pinned to CPU 0 when there are two or more, the
client to CPU 1, as ``run.py`` does): a deployment per side, each allowing 50 requests a
second (a bucket of one second's worth) and answering admitted requests after 100 ms.
Each side sends the same N requests with ``client.complete_many_settled(...)``:

- ``fixed``: the behaviour before issue 14, 64 in flight, each request retrying on its own
  (``Client(max_retries=2, rate_limit=RateLimit(adaptive=False))``; on an SDK without
  ``RateLimit``, ``Client(max_retries=2)``);
- ``adaptive``: the default, ``Client(max_retries=2)``: up to 64 in flight, the batch
  learning the quota from the server's 429s (skipped, saying so, without ``RateLimit``);
- ``configured``: the quota known, ``Client(rate_limit=RateLimit(requests_per_minute=3000))``.

Reported, from what the emulator recorded after the first ``--warmup`` seconds: requests
admitted per second as a share of the quota, and 429s per 100 admitted requests; then the
whole run's wall time and the failures the batch returned. The issue's targets: >= 90% of
the quota, <= 5 429s per 100 results, 0 failures. Numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

SIDES = ("fixed", "adaptive", "configured")
RATE = 50  # requests a second
LATENCY_MS = 100
CONCURRENCY = 64
MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
TARGETS = {"share": 0.9, "throttled_per_100": 5.0, "failures": 0}


def serve(rate: float, latency_ms: int) -> None:
    """The emulator's process: serve, print how to reach it, then answer dump requests.

    Each line read on stdin names a deployment; the answer is one JSON line of its
    replies, ``[at, status, throttled]`` on the emulator's clock (``time.monotonic``,
    which every process of the machine shares).
    """
    from completions_sdk.emulator import Deployment, EmulatorConfig, EmulatorServer, Quota

    limited = Deployment(quota=Quota(requests_per_minute=rate * 60), latency_ms=latency_ms)
    config = EmulatorConfig(deployments=dict.fromkeys(SIDES, limited))
    with EmulatorServer(config) as server:
        print(json.dumps({"url": server.url, "api_key": server.api_key}), flush=True)
        for line in sys.stdin:
            replies = server.replies.matching(deployment=line.strip())
            print(json.dumps([[r.at, r.status, r.throttled] for r in replies]), flush=True)


class Emulator:
    """The emulator's process, seen from the client's."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        self.url: str = started["url"]
        self.api_key: str = started["api_key"]

    def replies(self, deployment: str) -> list[tuple[float, int, bool]]:
        """What the emulator answered a deployment so far."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(deployment + "\n")
        self._process.stdin.flush()
        return [tuple(reply) for reply in json.loads(self._process.stdout.readline())]


@contextlib.contextmanager
def emulator(rate: float, latency_ms: int, pin: bool) -> Iterator[Emulator]:
    """Start the emulator's process (on CPU 0 when pinning) and stop it at the end."""
    cpu = {0} if pin else None
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(rate), str(latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpu)) if cpu else None,
    )
    try:
        yield Emulator(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # ends its loop, and the server with it
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_client(side: str, url: str, api_key: str) -> Any:
    """The side's client, or ``None`` when this SDK cannot build it."""
    import completions_sdk

    common = {"api_key": api_key, "deployment": side, "base_url": url, "max_retries": 2}
    rate_limit = getattr(completions_sdk, "RateLimit", None)
    if rate_limit is None:  # an SDK from before issue 14: only the fixed side exists
        return completions_sdk.Client(**common) if side == "fixed" else None
    limits = {
        "fixed": rate_limit(adaptive=False),
        "adaptive": None,
        "configured": rate_limit(requests_per_minute=RATE * 60),
    }
    return completions_sdk.Client(rate_limit=limits[side], **common)


def run_side(side: str, server: Emulator, requests: int, warmup: float) -> dict[str, Any] | None:
    """Send the batch on one side; its numbers (``None``: the side cannot be built)."""
    client = make_client(side, server.url, server.api_key)
    if client is None:
        return None
    items = [{"model": MODEL, "prompt": f"Item {i}", "max_tokens": 16} for i in range(requests)]
    with client:
        start = time.monotonic()
        results = client.complete_many_settled(items, concurrency=CONCURRENCY)
        wall = time.monotonic() - start
    failures = collections.Counter(type(r).__name__ for r in results if isinstance(r, Exception))
    return {
        "side": side,
        "requests": requests,
        "wall_s": wall,
        "results_per_s": (requests - sum(failures.values())) / wall,
        "failures": sum(failures.values()),
        "failure_types": dict(failures),
        **summarize(server.replies(side), start + warmup),
    }


def summarize(replies: list[tuple[float, int, bool]], after: float) -> dict[str, Any]:
    """Share of the quota admitted and 429s per 100 admitted, from ``after`` on.

    The share may read a little over 100%: the bucket holds one second's worth, so what
    it held at ``after`` is admitted on top of the rate.
    """
    admitted = sorted(at for at, status, _ in replies if status == 200 and at >= after)
    throttled = sum(1 for at, _, refused in replies if refused and at >= after)
    span = admitted[-1] - after if admitted else 0.0
    return {
        "share": len(admitted) / span / RATE if span > 0 else None,
        "throttled_per_100": 100 * throttled / len(admitted) if admitted else None,
        "throttled_total": sum(1 for _, _, refused in replies if refused),
        "admitted_total": sum(1 for _, status, _ in replies if status == 200),
    }


def render(results: dict[str, Any], skipped: dict[str, str]) -> str:
    """A Markdown table of the sides, the targets as its last row."""
    lines = [
        f"### batch at a quota of {RATE} requests/s, {LATENCY_MS} ms per reply",
        "",
        "| side | share of quota | 429s per 100 results | failures | 429s in all"
        " | successes/s | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for side, row in results.items():
        share, per_100 = row["share"], row["throttled_per_100"]
        cells = [
            side,
            "-" if share is None else f"{share:.0%}",
            "-" if per_100 is None else f"{per_100:.1f}",
            f"{row['failures']} {row['failure_types'] or ''}".strip(),
            str(row["throttled_total"]),
            f"{row['results_per_s']:.1f}",
            f"{row['wall_s']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    goal = f">= {TARGETS['share']:.0%}", f"<= {TARGETS['throttled_per_100']:g}", "0", "", "", ""
    lines.append("| target | " + " | ".join(goal) + " |")
    lines += [f"\n{side}: skipped ({why})" for side, why in skipped.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the sides and print the table; ``--serve`` is the emulator's own process."""
    if argv[:1] == ["--serve"]:
        serve(float(argv[1]), int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="per side (default 600)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds left out (default 2)")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--json", metavar="PATH", help="also write the numbers here")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args(argv)
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with emulator(RATE, LATENCY_MS, pin) as server:
        for side in args.sides:
            print(f"quota: {side}, {args.requests} requests", file=sys.stderr, flush=True)
            row = run_side(side, server, args.requests, args.warmup)
            if row is None:
                skipped[side] = "completions_sdk.RateLimit is not in this SDK yet"
            else:
                results[side] = row
    print(render(results, skipped))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"results": results, "skipped": skipped}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
