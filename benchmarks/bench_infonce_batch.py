"""Benchmark: InfoNCE SGD of the linear model: the written-out gradient, autograd, one setting at a time (on demand).

Target: the 50 x 20 (strength ratio x dropout) InfoNCE phase diagram (figure 9: 1,000 settings x
3000 steps) at batch 256 in under 5 minutes on the 2-core machine with 2 workers. Every way trains
the same (ratio, p) settings of docs/linear-theory.md's two-block model (d = 32, r = 4 + 4, k = 4)
with the same :class:`SimulationConfig`: ``written`` is one :func:`linear_theory.simulate.simulate_many`
call over all settings with the written-out gradient (:mod:`linear_theory.infonce_grad`),
``autograd`` the same call with ``autograd=True`` (autograd of ``cross_view_infonce``, the path
before the gradient was written out), ``loop`` :func:`simulate` per setting. Batched rates are per
step (the time of ``--steps`` steps minus that of 1 step, so the once-per-run setup and probe do not
count); the projection is ``ceil(1000 / settings)`` runs of ``--settings`` settings (the figure's
blocks of :data:`linear_theory.infonce_runs.MAX_BATCH`) of setup + 3000 steps, on one core and on
2 workers (half the runs each, assuming a free core each).

Then a profile of the written-out step at the first batch size (torch.profiler, self time per op,
grouped by part). About half of the step is the four passes over each ``n x n`` matrix: the three
products at ``k = 4`` (writing the exponent, reading it for the row sums and numerators, reading it
for the column sums) and one ``exp2``. Each runs at 2-3.5 G elements/s, ~1 flop per 4-byte float
(the three products ~20 GFLOP/s, far below the core's AVX-512 peak), so the step is bound by
passes over memory (the L2 cache), not arithmetic; the rest is element-wise work on ``k x n`` and
``D x n`` arrays (views, normalization, gradients), the ``d``-wide matmuls and Python.

    python benchmarks/bench_infonce_batch.py [--settings 250] [--steps 30] [--batch-size 256 128 64] [--json FILE]

``--json FILE`` also writes the record of :mod:`record`: the rows, the profile and the target (measured when
batch 256 is among ``--batch-size``).

Measured (2-core AMD EPYC, 1 thread, load average 4.6 from two training runs; read the ratios):
at batch 256 the written-out step is 4.6x the autograd step, 9,175 settings x steps / s, the
1,000 x 3000 steps projected at 327 s on one core and 164 s on 2 workers; profile: the ``n x n``
passes 54 % of the step (the three products 43 %, ``exp2`` 11 %), other element-wise ops 26 %.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from progress import heartbeat  # noqa: E402
from record import SpeedTarget, add_json_option, begin, check_json_path, finish, write  # noqa: E402

from featuredrop.cli import OneLineParser, positive_int  # noqa: E402
from linear_theory import TwoBlock  # noqa: E402
from linear_theory.infonce_runs import MAX_BATCH  # noqa: E402
from linear_theory.simulate import SimulationConfig, simulate, simulate_many  # noqa: E402

GRID, STEPS = 1000, 3000  # the phase diagram: 50 x 20 settings, 3000 steps
TARGET_S, TARGET_BATCH = 300.0, 256
"""The phase diagram at batch 256, projected on 2 workers: seconds."""


def _models(n: int, k: int) -> list:
    setting = TwoBlock(input_dim=32)
    n_ratio = int(np.floor(np.sqrt(n)))
    grid = [(r, p) for r in np.linspace(1 / 3, 1.0, n_ratio) for p in np.linspace(0.0, 0.9, -(-n // n_ratio))]
    return [setting.model(p, k).with_block(1, strength=3.0 * r) for r, p in grid[:n]]


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _per_step(models: list, cfg: SimulationConfig, steps: int, autograd: bool) -> tuple[float, float]:
    """``(seconds per step, setup seconds)`` of one batched run: a 1-step and a ``steps``-step run."""
    def run(s: int) -> float:
        return _seconds(lambda: simulate_many(models, [0], replace(cfg, steps=s, record_every=s), autograd=autograd))
    one, many = run(1), run(steps)
    step = (many - one) / (steps - 1)
    return step, max(one - step, 0.0)


def _part(name: str, shapes: list, n: int, k: int) -> str:
    """The part of the written-out step an op belongs to (by name and input shapes)."""
    if name == "aten::exp2_":
        return "exp2 of the n x n exponent (in place)"
    if name == "aten::bmm" and len(shapes) >= 2 and len(shapes[1]) == 3:
        first, second = shapes[0], shapes[1]
        if first[-2:] == [n, k] and second[-2:] == [k, n]:
            return "a b^T: write the n x n exponent"
        if first[-2:] == [k + 1, n] and second[-2:] == [n, n]:
            return "[b; 1] E^T: read it (numerators, row sums)"
        if first[-2:] == [k, n] and second[-2:] == [n, n]:
            return "(a / r) E: read it (column sums)"
    if name in ("aten::mm", "aten::bmm", "aten::baddbmm_", "aten::baddbmm"):
        return "W xi, W s, dW: d-wide matmuls"
    return "other ops: views, normalizing, k x n gradients, SGD"


def _profile(models: list, cfg: SimulationConfig, steps: int) -> dict[str, float]:
    """Print the written-out step's time by part (self time of the ops under torch.profiler); return the shares."""
    n, k = cfg.batch_size, models[0].rep_dim
    run = replace(cfg, steps=steps, record_every=steps)
    simulate_many(models, [0], run)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        wall = _seconds(lambda: simulate_many(models, [0], run))
    parts: dict[str, float] = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        parts[_part(event.key, event.input_shapes, n, k)] += event.self_cpu_time_total / 1e6
    parts["Python, profiler, setup and final probe"] = wall - sum(parts.values())
    per = len(models) * steps / 1e6
    print(f"\nprofile of the written-out step: batch {n}, {len(models)} settings, one {steps}-step run "
          f"(self time per op, torch.profiler)")
    print(f"{'part':>54} {'us / setting-step':>18} {'share':>7}")
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"{name:>54} {seconds / per:>18.1f} {seconds / wall:>6.0%}")
    return {name: seconds / wall for name, seconds in parts.items()}


def main(argv: list[str] | None = None) -> None:
    p = OneLineParser(prog="bench_infonce_batch.py", description=__doc__.splitlines()[0])
    p.add_argument("--settings", type=positive_int, default=MAX_BATCH,
                   help="settings in the batch (the figure trains blocks of this many)")
    p.add_argument("--loop-settings", type=positive_int, default=10,
                   help="settings the one-at-a-time loop trains (at most --settings)")
    p.add_argument("--steps", type=positive_int, default=30, help="steps per timed run (>= 2)")
    p.add_argument("--batch-size", type=positive_int, nargs="+", default=[256, 128, 64], help="each >= 2")
    p.add_argument("--threads", type=positive_int, default=1)
    add_json_option(p)
    args = p.parse_args(argv)
    check_json_path(p, args.json)
    if min(args.batch_size) < 2:
        p.error(f"--batch-size must be >= 2 (InfoNCE needs negatives), got {min(args.batch_size)}")
    if args.steps < 2:
        p.error(f"--steps must be >= 2 (a rate per step is a difference of two runs), got {args.steps}")
    if args.loop_settings > args.settings:
        p.error(f"--loop-settings {args.loop_settings} is more than --settings {args.settings}")
    torch.set_num_threads(args.threads)
    begun = begin(__file__, argv)
    models = _models(args.settings, k=4)
    simulate(models[0], SimulationConfig(steps=2, record_every=2))  # warm-up (imports, allocator)
    blocks = math.ceil(GRID / args.settings)
    rows: list[dict[str, float]] = []
    print(f"InfoNCE SGD, d = 32, k = 4, {args.settings} settings, {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}")
    print(f"{'':>8} {'settings x steps / s':>42} {'written /':>10} "
          f"{'50 x 20 x 3000 steps, projected':>44}")
    print(f"{'batch n':>8} {'loop':>10} {'autograd':>10} {'written':>10} {'autograd':>10} "
          f"{'autograd, 1 core':>17} {'written, 1 core':>16} {'2 workers':>10}")
    for n in args.batch_size:
        cfg = SimulationConfig(steps=args.steps, record_every=args.steps, batch_size=n)
        with heartbeat(f"timing batch n = {n}: loop, autograd and written-out runs"):
            loop = args.loop_settings * args.steps / _seconds(
                lambda c=cfg: [simulate(m, replace(c, seed=i), threads=args.threads)
                               for i, m in enumerate(models[:args.loop_settings])])
            (auto, auto_setup), (fast, fast_setup) = (_per_step(models, cfg, args.steps, a) for a in (True, False))
        one_core = [blocks * (setup + STEPS * step) for step, setup in ((auto, auto_setup), (fast, fast_setup))]
        two = math.ceil(blocks / 2) * (fast_setup + STEPS * fast)
        print(f"{n:>8} {loop:>10,.0f} {len(models) / auto:>10,.0f} {len(models) / fast:>10,.0f} "
              f"{auto / fast:>9.1f}x {one_core[0]:>15,.0f} s {one_core[1]:>14,.0f} s {two:>8,.0f} s")
        rows.append({"batch": n, "loop_rate": loop, "autograd_rate": len(models) / auto,
                     "written_rate": len(models) / fast, "written_over_autograd": auto / fast,
                     "projected_autograd_1_core_s": one_core[0], "projected_written_1_core_s": one_core[1],
                     "projected_written_2_workers_s": two})
    with heartbeat("profiling the written-out step"):
        shares = _profile(models, SimulationConfig(batch_size=args.batch_size[0]), args.steps)
    if args.json:
        at_batch = next((r["projected_written_2_workers_s"] for r in rows if r["batch"] == TARGET_BATCH), None)
        target = SpeedTarget(f"linear InfoNCE phase diagram, 50 x 20 settings x {STEPS} steps at batch "
                             f"{TARGET_BATCH}, projected on 2 workers", "max", TARGET_S, "s", at_batch,
                             "" if at_batch is not None else f"batch {TARGET_BATCH} not among --batch-size")
        write(args.json, finish(begun, rows, [target], settings=args.settings, steps=args.steps,
                                profile_batch=args.batch_size[0], profile_shares=shares))


if __name__ == "__main__":
    main()
