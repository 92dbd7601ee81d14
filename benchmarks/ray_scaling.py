"""One Ray Data job on 1, 2 and 4 actors against an emulator with 200 ms latency.

Without a quota, throughput should grow with the actors (each sends ``--per-actor`` rows
at a time); with one (the server answers 429 past ``--quota`` requests in any second,
and the job's ``rate_limit`` is the same), throughput should sit at the quota with 429s
near zero. A last run leaves out the job's ``rate_limit``, to show what the server's
quota does to a job that does not pace itself. Throughput is counted at the server,
from the first arrival to the last, so the actors' start-up is not in it.

Run from a checkout with the ``ray`` extra: ``python benchmarks/ray_scaling.py``.
Bounded: every job has a fixed number of rows and the whole run a time limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests._support, from a checkout

import ray
import ray.data

from completions_sdk.emulator import Deployment, EmulatorConfig, Faults
from completions_sdk.ray import Completions
from tests._support.metered import MeteredEmulator, max_in_window
from tests._support.ray_local import init_local_ray


def run(
    server: MeteredEmulator, actors: int, rows: int, per_actor: int, rate: float | None
) -> dict[str, Any]:
    """One job; what the server saw."""
    server.clear()
    options: dict[str, Any] = {
        "api_key": server.api_key,
        "deployment": server.deployment,
        "base_url": server.url,
        "max_retries": 0,  # a 429 is a row to count, not a retry to hide
    }
    if rate is not None:
        options["rate_limit"] = {"requests_per_minute": rate * 60}
    started = time.perf_counter()
    out = ray.data.range(rows).map_batches(
        Completions,
        fn_constructor_kwargs={
            "client_options": options,
            "request_defaults": {"model": "m", "max_tokens": 8, "prompt": "hello"},
            "concurrency": per_actor,
        },
        concurrency=actors,
        num_cpus=0.25,
        batch_size=per_actor,
    )
    got = out.take_all()
    wall = time.perf_counter() - started
    arrivals = sorted(server.arrivals)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    return {
        "actors": actors,
        "rate_limit_per_s": rate,
        "rows_in": rows,
        "rows_out": len(got),
        "errors": sum(row["error"] is not None for row in got),
        "server_429": server.rejected,
        "throughput_per_s": round(len(arrivals) / span, 1),
        "max_in_1s": max_in_window(server.passed),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240)
    parser.add_argument("--per-actor", type=int, default=8)
    parser.add_argument("--quota", type=int, default=20, help="requests a second")
    parser.add_argument(
        "--headroom", type=float, default=0.9, help="the job's rate_limit, as a share of --quota"
    )
    parser.add_argument("--limit", type=float, default=900, help="seconds for the whole run")
    parser.add_argument(
        "--runs", default="free,quota,unpaced", help="which of free,quota,unpaced to run"
    )
    args = parser.parse_args()
    begun = time.perf_counter()
    init_local_ray()
    print(json.dumps({"ray_init_s": round(time.perf_counter() - begun, 1)}), flush=True)
    slow = EmulatorConfig(deployments={"d": Deployment(faults=Faults(first_byte_delay=0.2))})
    runs = args.runs.split(",")
    plans = []  # (server quota, job rate, actors)
    plans += [(None, None, a) for a in (1, 2, 4) if "free" in runs]
    rate = args.quota * args.headroom
    plans += [(args.quota, rate, a) for a in (1, 2, 4) if "quota" in runs]
    plans += [(args.quota, None, 4)] if "unpaced" in runs else []
    try:
        for server_quota, rate, actors in plans:
            if time.perf_counter() - begun > args.limit:
                print(json.dumps({"stopped": "time limit"}))
                break
            with MeteredEmulator(slow, per_second=server_quota) as server:
                rows = args.rows if rate is None else args.rows // 2
                result = run(server, actors, rows, args.per_actor, rate)
            print(json.dumps({"server_quota_per_s": server_quota, **result}), flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
