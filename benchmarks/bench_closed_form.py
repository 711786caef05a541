"""Benchmark: closed-form sweep of 10^5 (ratio, p) points (target: < 2 s on a 2-core CPU).

Run on demand: ``python benchmarks/bench_closed_form.py`` (or ``make bench``). Prints a table with
the machine, library versions, and the best / mean wall time over repeats after one warm-up.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
from threads import thread_report

from featuredrop.cli import OneLineParser, positive_int
from linear_theory.sweep import SweepConfig, closed_form_sweep


def main(repeats: int = 5) -> None:
    config = SweepConfig(ratio=(0.01, 1.0, 500), dropout=(0.0, 0.99, 200))  # 100,000 points
    closed_form_sweep(config)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = closed_form_sweep(config)
        times.append(time.perf_counter() - t0)
    n = res["ratio"].size
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"# {thread_report()}")
    print("| benchmark | points | best s | mean s | target |")
    print("|---|---|---|---|---|")
    print(f"| closed-form spectral sweep | {n:,} | {min(times):.3f} | {np.mean(times):.3f} | < 2 s |")


def cli(argv: list[str] | None = None) -> None:
    """Parse the options (``--help`` prints them and runs nothing), then run the benchmark."""
    p = OneLineParser(prog="bench_closed_form.py", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=positive_int, default=5, help="timed sweeps after one warm-up (default %(default)s)")
    args = p.parse_args(argv)
    main(args.repeats)


if __name__ == "__main__":
    cli()
