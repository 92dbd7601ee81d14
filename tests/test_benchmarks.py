"""The benchmark runner keeps working: one small run of every figure and side.

A smoke test only: it checks that each side runs and the report is printed, never a
timing (those belong in ``docs/performance.md``, from a full run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.mark.timeout(300)
def test_quick_run_measures_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--no-pin"],  # a smoke run: no cores held
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for heading in ("### import", "### sequential", "### one long stream", "### targets"):
        assert heading in result.stdout
    assert "async bursts" in result.stdout


@pytest.mark.timeout(300)
def test_quick_telemetry_run_measures_every_side() -> None:
    result = subprocess.run(
        [sys.executable, str(RUNNER.with_name("telemetry.py")), "--quick"],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for side in ("| absent |", "| noop |", "| on |"):
        assert side in result.stdout
