"""Peak memory of ``completions-sdk batch`` against the number of lines in its input.

The emulator runs in a process of its own (``completions-sdk emulator``), so that its
memory (it records every request) is not counted; each ``batch`` run is a fresh process,
and its peak RSS is read from the kernel when it ends (``wait4``'s ``ru_maxrss``).

    python benchmarks/cli_memory.py                 # 4,000, 40,000 and 400,000 lines
    python benchmarks/cli_memory.py --lines 4000 40000 --concurrency 32

Target (issue 14): flat within 15 MiB from 4,000 to 40,000 lines.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIB = 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_emulator(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "completions_sdk", "emulator", "--port", str(port)]
    emulator = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return emulator
        except OSError:
            time.sleep(0.05)
    emulator.kill()
    raise RuntimeError("the emulator did not start")


def _write_input(path: Path, lines: int) -> None:
    with path.open("w") as file:
        for n in range(lines):
            # Requests of about 200 bytes, as an evaluation's would be, all different.
            prompt = f"Question {n}: " + "what is the capital of the country after this? " * 3
            file.write(json.dumps({"prompt": prompt, "max_tokens": 8, "seed": n}) + "\n")


def measure(lines: int, port: int, concurrency: int, folder: Path) -> tuple[float, float, int]:
    """``(peak RSS in MiB, seconds, exit status)`` of one batch run over ``lines`` lines."""
    source, out = folder / f"in-{lines}.jsonl", folder / f"out-{lines}.jsonl"
    _write_input(source, lines)
    env = {
        **os.environ,
        "ENKRYPTAI_BASE_URL": f"http://127.0.0.1:{port}",
        "ENKRYPTAI_API_KEY": "emulator-key",
        "ENKRYPTAI_DEPLOYMENT": "test-deployment-1",
    }
    command = [sys.executable, "-m", "completions_sdk", "batch", str(source), "--out", str(out)]
    started = time.perf_counter()
    batch = subprocess.Popen(
        [*command, "--concurrency", str(concurrency)], env=env, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(batch.pid, 0)
    batch.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    rows = sum(1 for _ in out.open())
    if rows != lines:
        raise RuntimeError(f"{lines} lines gave {rows} rows (exit {batch.returncode})")
    source.unlink()
    out.unlink()
    return usage.ru_maxrss / KIB, elapsed, batch.returncode  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[4_000, 40_000, 400_000])
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    port = _free_port()
    emulator = _start_emulator(port)
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"{'lines':>9}  {'peak RSS':>9}  {'seconds':>8}  {'lines/s':>8}  exit")
            for lines in arguments.lines:
                peak, seconds, status = measure(lines, port, arguments.concurrency, Path(folder))
                print(
                    f"{lines:>9,}  {peak:>5.1f} MiB  {seconds:>8.1f}  "
                    f"{lines / seconds:>8.0f}  {status}",
                    flush=True,
                )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
