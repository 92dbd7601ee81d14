"""The figures measured on a side: one figure, one side, one process.

Usage (``run.py`` does this; it is handy by hand too, e.g. under a profiler)::

    python benchmarks/figures.py FIGURE SIDE URL '{"n": 2000, "warmup": 100}'

prints one JSON object with the measurement. Times are taken twice: wall time (what a user
waits) and this process's CPU time (the client's own work, which hardly moves when other
processes compete for the machine).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sides import ASYNC_SIDES, SYNC_SIDES, AsyncSide, SyncSide

# Peak RSS: ru_maxrss is in KiB on Linux (bytes on macOS, which this runner does not target).
KIB_PER_MIB = 1024


def peak_rss_mib() -> float:
    """The process's peak resident set size so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def current_rss_mib() -> float:
    """The resident set size now (Linux ``/proc``), to see growth under the peak."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Stopwatch:
    """Wall time and this process's CPU time over a ``with`` block.

    CPU time is the client's own work: unlike wall time it hardly moves when other
    processes compete for the machine, so it tells overhead apart on a busy box.
    """

    wall = cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def _per_request(watch: Stopwatch, n: int) -> dict[str, float]:
    return {
        "us_per_request": watch.wall / n * 1e6,
        "cpu_us_per_request": watch.cpu / n * 1e6,
        "peak_rss_mib": peak_rss_mib(),
    }


def _per_chunk(watch: Stopwatch, count: int) -> dict[str, float]:
    return {"chunks_per_s": count / watch.wall, "chunks_per_cpu_s": count / watch.cpu}


def _sequential(side: SyncSide, n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        side.complete()
    with Stopwatch() as watch:
        for _ in range(n):
            side.complete()
    return _per_request(watch, n)


def _read(side: SyncSide, chunks: int) -> int:
    count = 0
    with side.stream(chunks) as stream:
        for _ in stream:
            count += 1
    return count


def _check_count(count: int, chunks: int) -> None:
    if count != chunks:
        raise SystemExit(f"expected {chunks} chunks, read {count}")


def _stream(side: SyncSide, chunks: int) -> dict[str, float]:
    _read(side, 16)  # warm the connection and the code paths
    with Stopwatch() as watch:
        count = _read(side, chunks)
    _check_count(count, chunks)
    return _per_chunk(watch, count)


def _first_chunk(side: SyncSide, streams: int, chunks: int) -> dict[str, float]:
    latencies = []
    for trial in range(streams + 5):
        start = time.perf_counter()
        with side.stream(chunks) as stream:
            iterator = iter(stream)
            next(iterator)
            latency = time.perf_counter() - start
            count = 1 + sum(1 for _ in iterator)
        _check_count(count, chunks)
        if trial >= 5:  # the first few warm up the connection and the code paths
            latencies.append(latency)
    return _latency_summary(latencies)


def _latency_summary(latencies: list[float]) -> dict[str, float]:
    latencies.sort()
    return {
        "ttfc_us": statistics.median(latencies) * 1e6,
        "ttfc_p90_us": latencies[int(len(latencies) * 0.9)] * 1e6,
    }


def _stream_memory(side: SyncSide, chunks: int) -> dict[str, float]:
    _read(side, 16)
    mark = max(chunks // 10, 1)
    start_rss = end_rss = 0.0
    count = 0
    with side.stream(chunks) as stream:
        for _ in stream:
            count += 1
            if count == mark:
                start_rss = current_rss_mib()
        end_rss = current_rss_mib()
    _check_count(count, chunks)
    growth = end_rss - start_rss
    return {
        "rss_growth_mib": growth,
        "bytes_per_chunk": growth * 2**20 / (chunks - mark),
        "peak_rss_mib": peak_rss_mib(),
    }


SYNC_FIGURES: dict[str, Callable[[SyncSide, dict[str, int]], dict[str, float]]] = {
    "sequential": lambda side, p: _sequential(side, p["n"], p["warmup"]),
    "stream": lambda side, p: _stream(side, p["chunks"]),
    "first-chunk": lambda side, p: _first_chunk(side, p["streams"], p["chunks"]),
    "stream-memory": lambda side, p: _stream_memory(side, p["chunks"]),
}


async def _asequential(side: AsyncSide, n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await side.complete()
    with Stopwatch() as watch:
        for _ in range(n):
            await side.complete()
    return _per_request(watch, n)


async def _aread(side: AsyncSide, chunks: int) -> int:
    count = 0
    async with side.stream(chunks) as stream:
        async for _ in stream:
            count += 1
    return count


async def _astream(side: AsyncSide, chunks: int) -> dict[str, float]:
    await _aread(side, 16)
    with Stopwatch() as watch:
        count = await _aread(side, chunks)
    _check_count(count, chunks)
    return _per_chunk(watch, count)


async def _afirst_chunk(side: AsyncSide, streams: int, chunks: int) -> dict[str, float]:
    latencies = []
    for trial in range(streams + 5):
        start = time.perf_counter()
        async with side.stream(chunks) as stream:
            iterator = aiter(stream)
            await anext(iterator)
            latency = time.perf_counter() - start
            count = 1
            async for _ in iterator:
                count += 1
        _check_count(count, chunks)
        if trial >= 5:
            latencies.append(latency)
    return _latency_summary(latencies)


async def _aconcurrency(side: AsyncSide, concurrency: int, rounds: int) -> dict[str, Any]:
    """``rounds`` bursts of ``concurrency`` requests; the first one opens the connections."""
    rates = []
    with Stopwatch() as watch:
        for _ in range(rounds):
            round_start = time.perf_counter()
            await asyncio.gather(*(side.complete() for _ in range(concurrency)))
            rates.append(concurrency / (time.perf_counter() - round_start))
    return {
        "requests_per_s": concurrency * rounds / watch.wall,
        "cpu_us_per_request": watch.cpu / (concurrency * rounds) * 1e6,
        "slowest_round_per_s": min(rates),
        "rounds_per_s": rates,
        "peak_rss_mib": peak_rss_mib(),
    }


async def _paced_stream(side: AsyncSide, chunks: int, start: float) -> tuple[float, float]:
    """Read one stream: its first chunk's time since ``start``, its longest chunk gap."""
    first = gap = 0.0
    previous = None
    count = 0
    async with side.stream(chunks) as stream:
        async for _ in stream:
            now = time.perf_counter()
            if previous is None:
                first = now - start
            else:
                gap = max(gap, now - previous)
            previous = now
            count += 1
    _check_count(count, chunks)
    return first, gap


async def _afan_out(side: AsyncSide, streams: int, chunks: int) -> dict[str, float]:
    """``streams`` paced streams opened at once on one client, from a cold pool."""
    await _aread(side, 2)  # the code paths, not the pool: one connection for 500 streams
    start = time.perf_counter()
    with Stopwatch() as watch:
        timings = await asyncio.gather(
            *(_paced_stream(side, chunks, start) for _ in range(streams))
        )
    firsts = sorted(first for first, _ in timings)
    gaps = sorted(gap for _, gap in timings)
    return {
        "first_chunk_median_ms": statistics.median(firsts) * 1000,
        "first_chunk_last_ms": firsts[-1] * 1000,
        "chunk_gap_median_ms": statistics.median(gaps) * 1000,
        "chunk_gap_max_ms": gaps[-1] * 1000,
        "wall_ms": watch.wall * 1000,
        "cpu_ms": watch.cpu * 1000,
    }


ASYNC_FIGURES: dict[str, Callable[[AsyncSide, dict[str, int]], Any]] = {
    "fan-out": lambda side, p: _afan_out(side, p["streams"], p["chunks"]),
    "sequential": lambda side, p: _asequential(side, p["n"], p["warmup"]),
    "stream": lambda side, p: _astream(side, p["chunks"]),
    "first-chunk": lambda side, p: _afirst_chunk(side, p["streams"], p["chunks"]),
    "concurrency": lambda side, p: _aconcurrency(side, p["concurrency"], p["rounds"]),
}


async def _measure_async(figure: str, name: str, url: str, params: dict[str, int]) -> Any:
    base, _, variant = name.partition("+")
    side = ASYNC_SIDES[base](url, variant)  # built inside the loop, as aiohttp requires
    try:
        return await ASYNC_FIGURES[figure](side, params)
    finally:
        await side.close()


def measure(figure: str, name: str, url: str, params: dict[str, int]) -> dict[str, Any]:
    """Measure ``figure`` on the side called ``name`` against the server at ``url``."""
    if name in SYNC_SIDES:
        side = SYNC_SIDES[name](url)
        try:
            return SYNC_FIGURES[figure](side, params)
        finally:
            side.close()
    result: dict[str, Any] = asyncio.run(_measure_async(figure, name, url, params))
    return result


def main(argv: list[str]) -> None:
    """``figures.py FIGURE SIDE URL PARAMS_JSON``: print the measurement as JSON."""
    figure, name, url, params = argv
    gc.collect()
    print(json.dumps(measure(figure, name, url, json.loads(params))))


if __name__ == "__main__":
    main(sys.argv[1:])
