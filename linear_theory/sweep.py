"""Sweep CLI: strength ratio (weak/strong) x dropout on the strong block -> per-task probe quality.

    python -m linear_theory.sweep --ratio 0.1:1:50 --dropout 0:0.9:46 --out runs/sweep

Block 0 is the strong feature (strength ``--strong-strength``), block 1 the weak one (strength
``ratio * strong``); feature dropout ``p`` acts on block 0. ``--loss spectral`` evaluates the closed
form for all points in one vectorized call; ``--loss infonce`` trains the linear encoder with
InfoNCE on sampled views for every point and seed (slow; progress bar) and also writes the closed
form beside it. Output: ``DIR/sweep.csv`` (one row per point, and per seed for InfoNCE) and
``DIR/config.json`` (the resolved :class:`SweepConfig` and the command line).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from featuredrop.cli import OneLineParser
from featuredrop.config import from_dict, to_dict
from linear_theory.closed_form import sign_accuracy
from linear_theory.infonce_runs import infonce_runs
from linear_theory.simulate import SimulationConfig
from linear_theory.two_block import TwoBlock

__all__ = ["SweepConfig", "parse_range", "closed_form_sweep", "main"]


def parse_range(text: str, name: str) -> tuple[float, float, int]:
    """Parse ``START:STOP:NUM`` (inclusive, like ``numpy.linspace``) or a single value."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            v = float(parts[0])
            return (v, v, 1)
        if len(parts) == 3:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1:
                raise ValueError
            return (start, stop, num)
    except ValueError:
        pass
    raise ValueError(f"--{name} must be START:STOP:NUM with NUM >= 1 (or one number), got {text!r}")


@dataclass(frozen=True)
class SweepConfig:
    """What the sweep computes. Ranges are ``(start, stop, num)`` as in ``numpy.linspace``.

    Attributes:
        ratio: weak/strong strength ratio: ``s_2 = ratio * s_1`` (``setting.weak_strength`` is not read).
        dropout: dropout ``p`` on the strong block.
        loss: ``"spectral"`` (closed form only) or ``"infonce"`` (also simulated runs).
        rep_dim: capacity ``k``.
        setting: the two-block model; its ``input_dim`` (``None``: 32, at least the blocks' total)
            only matters for the InfoNCE runs.
        simulation: the InfoNCE training (shared/theory.md settings); seeds ``simulation.seed`` on.
        seeds: InfoNCE runs per grid point.
    """

    ratio: tuple[float, float, int] = (0.02, 1.0, 50)
    dropout: tuple[float, float, int] = (0.0, 0.95, 20)
    loss: Literal["spectral", "infonce"] = "spectral"
    rep_dim: int = 4
    setting: TwoBlock = TwoBlock()
    simulation: SimulationConfig = SimulationConfig()
    seeds: int = 1

    def __post_init__(self) -> None:
        r0, r1, _ = self.ratio
        if not (0 < r0 and 0 < r1 and math.isfinite(r0) and math.isfinite(r1)):
            raise ValueError(f"ratio must be positive and finite, got {self.ratio}")
        p0, p1, _ = self.dropout
        if not (0 <= p0 <= 1 and 0 <= p1 <= 1):
            raise ValueError(f"dropout must lie in [0, 1], got {self.dropout}")
        if self.ratio[2] < 1 or self.dropout[2] < 1:
            raise ValueError("ratio and dropout need at least one point each")
        for name in ("rep_dim", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The (ratio, dropout) axes, each of shape ``(num,)``."""
        return np.linspace(*self.ratio), np.linspace(*self.dropout)


def closed_form_sweep(config: SweepConfig) -> dict[str, np.ndarray]:
    """Spectral closed form at every grid point in one vectorized call (:meth:`TwoBlock.ratio_grid`).

    Returns:
        Arrays of shape ``(num_ratio, num_dropout)`` (``ratio``, ``dropout``, ``p_star``) and
        ``(num_ratio, num_dropout, 2)`` (``eigenvalue``, ``captured_dims``, ``probe_r2``,
        ``probe_accuracy``).
    """
    return config.setting.ratio_grid(*config.grid(), config.rep_dim)


def _closed_form_rows(config: SweepConfig) -> list[dict[str, float | str | int]]:
    res = closed_form_sweep(config)
    rows = []
    for idx in np.ndindex(res["ratio"].shape):
        row: dict[str, float | str | int] = {"method": "spectral_closed_form", "seed": -1,
                                             "ratio": res["ratio"][idx], "dropout": res["dropout"][idx],
                                             "p_star": res["p_star"][idx]}
        for b in range(2):
            row[f"eigenvalue_{b}"] = res["eigenvalue"][idx][b]
            row[f"captured_dims_{b}"] = res["captured_dims"][idx][b]
            row[f"probe_r2_{b}"] = res["probe_r2"][idx][b]
            row[f"probe_accuracy_{b}"] = res["probe_accuracy"][idx][b]
        rows.append(row)
    return rows


def _infonce_rows(config: SweepConfig, progress: bool) -> list[dict[str, float | str | int]]:
    """Train the linear encoder with InfoNCE at every grid point and seed (one batch, no cache)."""
    setting = config.setting
    if setting.input_dim is None:
        setting = replace(setting, input_dim=max(32, sum(setting.dims)))
    ratios, ps = config.grid()
    points = [(float(r), float(p)) for r in ratios for p in ps]
    models = [replace(setting, weak_strength=setting.strong_strength * r).model(p, config.rep_dim) for r, p in points]
    seeds = [config.simulation.seed + i for i in range(config.seeds)]
    r2 = infonce_runs(models, seeds, config.simulation, progress=progress).probe_r2  # (M, S, K)
    rows: list[dict[str, float | str | int]] = []
    for m, (rr, pp) in enumerate(points):
        for s_idx, seed in enumerate(seeds):
            row: dict[str, float | str | int] = {"method": "infonce_simulation", "seed": seed, "ratio": rr, "dropout": pp}
            for b in range(2):
                row[f"probe_r2_{b}"] = float(r2[m, s_idx, b])
                row[f"probe_accuracy_{b}"] = float(sign_accuracy(r2[m, s_idx, b]))
            rows.append(row)
    return rows


def run_sweep(config: SweepConfig, out: Path, command: str = "", progress: bool = True) -> Path:
    """Compute the sweep and write ``out/sweep.csv`` and ``out/config.json``; returns the CSV path."""
    rows = _closed_form_rows(config)
    if config.loss == "infonce":
        rows += _infonce_rows(config, progress)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"config": to_dict(config), "command": command}, indent=2) + "\n")
    path = out / "sweep.csv"
    fields = list(rows[0])
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
    return path


def summarize(config: SweepConfig) -> str:
    """A few lines that show suppression without dropout and rescue above ``p*``."""
    res = closed_form_sweep(config)
    lines = ["ratio   p*      task-2 R2 at p=0   task-2 R2 at p=max   task-1 R2 at p=max"]
    n = res["ratio"].shape[0]
    for i in sorted({0, n // 2, n - 1}):
        lines.append(f"{res['ratio'][i, 0]:<7.3g} {res['p_star'][i, 0]:<7.3g} {res['probe_r2'][i, 0, 1]:<18.3f} "
                     f"{res['probe_r2'][i, -1, 1]:<20.3f} {res['probe_r2'][i, -1, 0]:.3f}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    d, setting, sim = SweepConfig(), TwoBlock(), SimulationConfig()
    p = OneLineParser(prog="python -m linear_theory.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--ratio", default="0.02:1:50", help="weak/strong strength ratio START:STOP:NUM (default %(default)s)")
    p.add_argument("--dropout", default="0:0.95:20", help="dropout on the strong block START:STOP:NUM (default %(default)s)")
    p.add_argument("--loss", choices=["spectral", "infonce"], default=d.loss,
                   help="spectral = closed form; infonce = simulated InfoNCE training (slow)")
    p.add_argument("--strong-strength", type=float, default=setting.strong_strength, help="strength s_1 of block 0")
    p.add_argument("--dims", default="4,4", help="block dims r_1,r_2 (default %(default)s)")
    p.add_argument("--rep-dim", type=int, default=d.rep_dim, help="representation dim k (capacity)")
    p.add_argument("--noise", type=float, default=setting.noise, help="isotropic input noise sigma")
    p.add_argument("--aug-noise", default="0,0.5", help="augmentation noise eta_1,eta_2 (default %(default)s)")
    p.add_argument("--input-dim", type=int, default=None, help="input dim d (default: sum of dims; InfoNCE: 32)")
    p.add_argument("--steps", type=int, default=sim.steps, help="InfoNCE SGD steps")
    p.add_argument("--lr", type=float, default=sim.lr, help="InfoNCE SGD learning rate")
    p.add_argument("--batch-size", type=int, default=sim.batch_size, help="InfoNCE pairs per minibatch")
    p.add_argument("--temperature", type=float, default=sim.temperature, help="InfoNCE temperature tau")
    p.add_argument("--init-scale", type=float, default=sim.init_scale, help="std of the initial W entries")
    p.add_argument("--seeds", type=int, default=d.seeds, help="InfoNCE runs per grid point")
    p.add_argument("--seed", type=int, default=sim.seed, help="first seed")
    p.add_argument("--out", default="runs/sweep", help="output folder (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _pair(text: str, name: str, kind: type) -> tuple:
    try:
        values = tuple(kind(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise ValueError(f"--{name} must be two comma-separated values, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 on bad arguments, with a one-line message)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = from_dict(SweepConfig, {
            "ratio": parse_range(args.ratio, "ratio"), "dropout": parse_range(args.dropout, "dropout"),
            "loss": args.loss, "rep_dim": args.rep_dim, "seeds": args.seeds,
            "setting": {"strong_strength": args.strong_strength, "dims": _pair(args.dims, "dims", int),
                        "noise": args.noise, "aug_noise": _pair(args.aug_noise, "aug-noise", float),
                        "input_dim": args.input_dim},
            "simulation": {"steps": args.steps, "lr": args.lr, "batch_size": args.batch_size,
                           "temperature": args.temperature, "init_scale": args.init_scale, "seed": args.seed},
        })
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    command = shlex.join([parser.prog, *(sys.argv[1:] if argv is None else argv)])
    path = run_sweep(config, Path(args.out), command, progress=not args.no_progress)
    print(summarize(config))
    print(f"wrote {path} and {path.parent / 'config.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
