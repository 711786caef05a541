"""Benchmark: closed-form sweep of 10^5 (ratio, p) points (target: < 2 s on a 2-core CPU).

Run on demand: ``python benchmarks/bench_closed_form.py [--repeats 5] [--json FILE]`` (or ``make bench``).
Prints a table with the machine, library versions, and the best / mean wall time over repeats after one
warm-up; the target is read on the mean. ``--json`` also writes the record of :mod:`record`.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
from record import SpeedTarget, add_json_option, begin, check_json_path, cpu_name, finish, write
from threads import thread_report

from featuredrop.cli import OneLineParser, positive_int
from linear_theory.sweep import SweepConfig, closed_form_sweep

TARGET_S = 2.0
"""The sweep of 10^5 (ratio, p) points, mean wall seconds."""


def main(repeats: int = 5, json_path: str | None = None, argv: list[str] | None = None) -> dict:
    """Time the sweep, print the table; write the record to ``json_path`` when given. Returns the record."""
    begun = begin(__file__, argv)
    config = SweepConfig(ratio=(0.01, 1.0, 500), dropout=(0.0, 0.99, 200))  # 100,000 points
    closed_form_sweep(config)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = closed_form_sweep(config)
        times.append(time.perf_counter() - t0)
    n = res["ratio"].size
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"# {thread_report()}")
    print("| benchmark | points | best s | mean s | target |")
    print("|---|---|---|---|---|")
    print(f"| closed-form spectral sweep | {n:,} | {min(times):.3f} | {np.mean(times):.3f} | < {TARGET_S:g} s |")
    rows = [{"benchmark": "closed-form spectral sweep", "points": int(n), "best_s": min(times),
             "mean_s": float(np.mean(times)), "repeats": repeats}]
    target = SpeedTarget(f"closed-form sweep of {n:,} (ratio, p) points, mean of {repeats}", "max", TARGET_S, "s",
                         float(np.mean(times)))
    result = finish(begun, rows, [target])
    if json_path:
        write(json_path, result)
    return result


def cli(argv: list[str] | None = None) -> None:
    """Parse the options (``--help`` prints them and runs nothing), then run the benchmark."""
    p = OneLineParser(prog="bench_closed_form.py", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=positive_int, default=5, help="timed sweeps after one warm-up (default %(default)s)")
    add_json_option(p)
    args = p.parse_args(argv)
    check_json_path(p, args.json)
    main(args.repeats, args.json, argv)


if __name__ == "__main__":
    cli()
