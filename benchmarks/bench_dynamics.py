"""Benchmark: batched gradient flow of the spectral loss for many settings at once (run on demand).

Target (shared brief): 1000 settings at d = 64 in under 30 s on 2 CPU cores. The settings are a
(strength ratio x dropout) sweep of docs/linear-theory.md's two-block model (r1 = r2 = 4, sigma = 0.1,
eta2 = 0.5, k = 6), integrated from one small random init to T = 20 with
:func:`linear_theory.dynamics.gradient_flow_batch`, read at 21 times (with the per-setting loss,
captured strength and probe R^2). One warmup run on 10 settings, then ``--trials`` timed runs
(mean +- std). ``--compare`` also times ``solve_ivp`` on a few settings, one at a time, and
extrapolates to the whole sweep. ``--json FILE`` also writes the record of :mod:`record` (the target is
measured only at its own size: 1000 settings at d = 64).

    python benchmarks/bench_dynamics.py [--settings 1000] [--dim 64] [--trials 3] [--compare] [--json FILE]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from progress import heartbeat  # noqa: E402
from record import SpeedTarget, add_json_option, begin, check_json_path, cpu_name, finish, write  # noqa: E402
from threads import thread_report  # noqa: E402

from featuredrop.cli import OneLineParser, positive_float, positive_int  # noqa: E402
from linear_theory import LinearModel, TwoBlock  # noqa: E402
from linear_theory.dynamics import gradient_flow, gradient_flow_batch, random_init  # noqa: E402

TARGET_S, TARGET_SETTINGS, TARGET_DIM, TARGET_HORIZON = 30.0, 1000, 64, 20.0
"""The batched flow of 1000 settings at d = 64 to T = 20: mean wall seconds."""


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def sweep_models(n: int, d: int, k: int) -> list[LinearModel]:
    """``n`` settings: strength ratio s2/s1 in [1/3, 1] x dropout p1 in [0, 0.9] (as square as possible)."""
    n_ratio = int(np.floor(np.sqrt(n)))
    n_p = int(np.ceil(n / n_ratio))
    setting = TwoBlock(input_dim=d)
    models = []
    for ratio in np.linspace(1 / 3, 1.0, n_ratio):
        weak = replace(setting, weak_strength=setting.strong_strength * float(ratio))
        models += [weak.model(float(p), k) for p in np.linspace(0.0, 0.9, n_p)]
    return models[:n]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="bench_dynamics.py", description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=positive_int, default=1000)
    parser.add_argument("--dim", type=positive_int, default=64, help="input dimension (>= 8: the two blocks of 4)")
    parser.add_argument("--rep-dim", type=positive_int, default=6)
    parser.add_argument("--horizon", type=positive_float, default=20.0)
    parser.add_argument("--trials", type=positive_int, default=3)
    parser.add_argument("--rtol", type=positive_float, default=None, help="default: the integrator's (1e-8 in float64)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--compare", action="store_true", help="also time solve_ivp one setting at a time")
    add_json_option(parser)
    args = parser.parse_args(argv)
    check_json_path(parser, args.json)
    try:  # the model's own checks (dimensions), before any timing
        models = sweep_models(args.settings, args.dim, args.rep_dim)
    except ValueError as err:
        parser.error(f"--dim {args.dim} / --rep-dim {args.rep_dim}: {err}")
    W0 = random_init(models[0], 0.01, np.random.default_rng(0))
    t_eval = np.linspace(0.0, args.horizon, 21)
    kwargs = {"rtol": args.rtol, "dtype": np.dtype(args.dtype)}
    begun = begin(__file__, argv)

    with heartbeat("warm-up on 10 settings"):
        gradient_flow_batch(models[:10], t_eval, W0, **kwargs)
    times = []
    for trial in range(args.trials):
        with heartbeat(f"trial {trial + 1}/{args.trials}: batched flow of {len(models)} settings"):
            start = time.perf_counter()
            traj = gradient_flow_batch(models, t_eval, W0, **kwargs)
            times.append(time.perf_counter() - start)
    wall = np.array(times)

    rows = [
        ("machine", f"{cpu_name()}, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}"),
        ("versions", f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
                     f"torch {torch.__version__} (numpy integrator)"),
        ("threads", thread_report()),
        ("code", f"git {_git_sha()}"),
        ("problem", f"{len(models)} settings, d={args.dim}, k={args.rep_dim}, r=(4,4), T={args.horizon}, "
                    f"{args.dtype}, rtol={args.rtol or 'default'}"),
        ("batched flow", f"{wall.mean():.2f} +- {wall.std():.2f} s over {args.trials} trial(s) "
                         f"(target < 30 s for 1000 settings)"),
        ("result check", f"final loss range [{traj.final_loss().min():.4f}, {traj.final_loss().max():.4f}]"),
    ]
    if args.compare:
        n_cmp = 5
        start = time.perf_counter()
        with heartbeat(f"solve_ivp on {n_cmp} settings, one at a time"):
            for m in models[:: max(1, len(models) // n_cmp)][:n_cmp]:
                gradient_flow(m, t_eval, W0, rtol=args.rtol or 1e-8, atol=1e-11, keep_encoders=False)
        per = (time.perf_counter() - start) / n_cmp
        rows.append(("solve_ivp loop", f"{per:.2f} s per setting -> ~{per * len(models):.0f} s for the sweep"))
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}} | {value}" for name, value in rows))
    if args.json:
        at_size = (len(models), args.dim, args.horizon) == (TARGET_SETTINGS, TARGET_DIM, TARGET_HORIZON)
        target = SpeedTarget(f"batched gradient flow, {TARGET_SETTINGS} settings at d = {TARGET_DIM}, T = "
                             f"{TARGET_HORIZON:g}, {args.dtype}, mean of {args.trials}", "max", TARGET_S, "s",
                             float(wall.mean()) if at_size else None,
                             "" if at_size else f"ran {len(models)} settings at d = {args.dim}, T = {args.horizon:g}")
        write(args.json, finish(begun, [{"name": name, "value": value} for name, value in rows], [target],
                                seconds=times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
