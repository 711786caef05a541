"""Benchmark: InfoNCE SGD of the linear model, many settings in one batch vs one at a time (on demand).

Target: the 50 x 20 (strength ratio x dropout) InfoNCE phase diagram in under 5 minutes
on the 2-core machine. Both ways train the same (ratio, p) settings of docs/linear-theory.md's two-block model
(d = 32, r = 4 + 4, k = 4) with the same :class:`SimulationConfig`: ``batched`` is one
:func:`linear_theory.simulate.simulate_many` call over every setting (one matmul over settings,
the cross-view InfoNCE in cache-sized chunks), ``loop`` calls :func:`simulate` per setting. Prints
settings x steps per second of each, the speed-up, and the torch thread count.

    python benchmarks/bench_infonce_batch.py [--settings 200] [--steps 30] [--batch-size 256 128 64]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from featuredrop.cli import OneLineParser, positive_int  # noqa: E402
from linear_theory import TwoBlock  # noqa: E402
from linear_theory.simulate import SimulationConfig, simulate, simulate_many  # noqa: E402


def _models(n: int, k: int) -> list:
    setting = TwoBlock(input_dim=32)
    n_ratio = int(np.floor(np.sqrt(n)))
    grid = [(r, p) for r in np.linspace(1 / 3, 1.0, n_ratio) for p in np.linspace(0.0, 0.9, -(-n // n_ratio))]
    return [setting.model(p, k).with_block(1, strength=3.0 * r) for r, p in grid[:n]]


def _rate(fn, setting_steps: int) -> float:
    start = time.perf_counter()
    fn()
    return setting_steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    p = OneLineParser(prog="bench_infonce_batch.py", description=__doc__.splitlines()[0])
    p.add_argument("--settings", type=positive_int, default=200, help="settings in the batch")
    p.add_argument("--loop-settings", type=positive_int, default=10,
                   help="settings the one-at-a-time loop trains (at most --settings)")
    p.add_argument("--steps", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, nargs="+", default=[256, 128, 64], help="each >= 2")
    p.add_argument("--threads", type=positive_int, default=1)
    args = p.parse_args(argv)
    if min(args.batch_size) < 2:
        p.error(f"--batch-size must be >= 2 (InfoNCE needs negatives), got {min(args.batch_size)}")
    if args.loop_settings > args.settings:
        p.error(f"--loop-settings {args.loop_settings} is more than --settings {args.settings}")
    torch.set_num_threads(args.threads)
    models = _models(args.settings, k=4)
    simulate(models[0], SimulationConfig(steps=2, record_every=2))  # warm-up (imports, allocator)
    print(f"InfoNCE SGD, d = 32, k = 4, {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"{'batch n':>8} {'loop (settings x steps / s)':>28} {'batched':>10} {'speed-up':>9} "
          f"{'50 x 20 x 3000 steps, batched':>30}")
    for n in args.batch_size:
        cfg = SimulationConfig(steps=args.steps, record_every=args.steps, batch_size=n)
        loop = _rate(lambda c=cfg: [simulate(m, replace(c, seed=i), threads=args.threads)
                                    for i, m in enumerate(models[:args.loop_settings])], args.loop_settings * args.steps)
        batched = _rate(lambda c=cfg: simulate_many(models, [0], c, threads=args.threads), len(models) * args.steps)
        print(f"{n:>8} {loop:>28,.0f} {batched:>10,.0f} {batched / loop:>8.1f}x {1000 * 3000 / batched:>28,.0f} s")


if __name__ == "__main__":
    main()
