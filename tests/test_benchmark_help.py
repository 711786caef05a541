"""Every benchmark answers --help with its options and runs nothing (a benchmark takes minutes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_help_prints_usage_and_runs_nothing(script: Path) -> None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=script.parent)
    assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr[-500:]
    assert "|---" not in done.stdout  # no result table: nothing was measured
    assert time.perf_counter() - start < 60
