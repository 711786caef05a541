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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from featuredrop.config import from_dict, to_dict
from linear_theory.closed_form import (
    allocate_capacity,
    block_eigenvalues,
    critical_dropout_from_eigenvalue,
    probe_r2_from_capture,
    sign_accuracy,
)

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
    """What the sweep computes. Ranges are ``(start, stop, num)`` as in ``numpy.linspace``."""

    ratio: tuple[float, float, int] = (0.02, 1.0, 50)
    dropout: tuple[float, float, int] = (0.0, 0.95, 20)
    loss: Literal["spectral", "infonce"] = "spectral"
    strong_strength: float = 3.0
    dims: tuple[int, int] = (4, 4)
    rep_dim: int = 4
    noise: float = 0.1
    aug_noise: tuple[float, float] = (0.0, 0.5)
    input_dim: int | None = None
    # InfoNCE simulation (shared/theory.md settings)
    steps: int = 3000
    lr: float = 0.5
    batch_size: int = 256
    temperature: float = 0.2
    init_scale: float = 0.01
    seeds: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        r0, r1, _ = self.ratio
        if not (0 < r0 and 0 < r1 and math.isfinite(r0) and math.isfinite(r1)):
            raise ValueError(f"ratio must be positive and finite, got {self.ratio}")
        p0, p1, _ = self.dropout
        if not (0 <= p0 <= 1 and 0 <= p1 <= 1):
            raise ValueError(f"dropout must lie in [0, 1], got {self.dropout}")
        if self.ratio[2] < 1 or self.dropout[2] < 1:
            raise ValueError("ratio and dropout need at least one point each")
        if not (self.strong_strength > 0 and math.isfinite(self.strong_strength)):
            raise ValueError(f"strong_strength must be > 0, got {self.strong_strength}")
        if min(self.dims) < 1:
            raise ValueError(f"dims must be >= 1, got {self.dims}")
        if self.rep_dim < 1:
            raise ValueError(f"rep_dim must be >= 1, got {self.rep_dim}")
        if not (self.noise >= 0 and math.isfinite(self.noise)):
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if min(self.aug_noise) < 0 or not all(math.isfinite(a) for a in self.aug_noise):
            raise ValueError(f"aug_noise must be >= 0, got {self.aug_noise}")
        if self.input_dim is not None and self.input_dim < sum(self.dims):
            raise ValueError(f"input_dim must be >= sum(dims) = {sum(self.dims)}, got {self.input_dim}")
        for name in ("steps", "batch_size", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "temperature", "init_scale"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be > 0, got {value}")

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The (ratio, dropout) grid, each of shape ``(num_ratio, num_dropout)``."""
        ratios = np.linspace(*self.ratio)
        ps = np.linspace(*self.dropout)
        return np.meshgrid(ratios, ps, indexing="ij")


def closed_form_sweep(config: SweepConfig) -> dict[str, np.ndarray]:
    """Spectral closed form at every grid point in one vectorized call.

    Returns:
        Arrays of shape ``(num_ratio, num_dropout)`` (``ratio``, ``dropout``, ``p_star``) and
        ``(num_ratio, num_dropout, 2)`` (``eigenvalue``, ``captured_dims``, ``probe_r2``,
        ``probe_accuracy``).
    """
    ratio, p = config.grid()
    s = np.stack([np.full_like(ratio, config.strong_strength), config.strong_strength * ratio], axis=-1)
    drop = np.stack([p, np.zeros_like(p)], axis=-1)
    eta = np.asarray(config.aug_noise, dtype=float)
    lam = block_eigenvalues(s, drop, eta, config.noise)
    captured = allocate_capacity(lam, config.dims, config.rep_dim)
    r2 = probe_r2_from_capture(captured, config.dims, s, config.noise)
    p_star = critical_dropout_from_eigenvalue(config.strong_strength, eta[0], config.noise, lam[..., 1])
    return {"ratio": ratio, "dropout": p, "p_star": p_star, "eigenvalue": lam, "captured_dims": captured,
            "probe_r2": r2, "probe_accuracy": sign_accuracy(r2)}


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
    """Train the linear encoder with InfoNCE at every grid point and seed (batched over points)."""
    from linear_theory.model import FeatureBlock, LinearModel
    from linear_theory.simulate import SimulationConfig, final_probe_r2

    ratio, p = config.grid()
    d = config.input_dim if config.input_dim is not None else max(32, sum(config.dims))
    models = [
        LinearModel((FeatureBlock(config.dims[0], config.strong_strength, float(pp), config.aug_noise[0]),
                     FeatureBlock(config.dims[1], config.strong_strength * float(rr), 0.0, config.aug_noise[1])),
                    config.rep_dim, config.noise, d)
        for rr, pp in zip(ratio.ravel(), p.ravel())
    ]
    sim = SimulationConfig(steps=config.steps, lr=config.lr, batch_size=config.batch_size,
                           temperature=config.temperature, init_scale=config.init_scale, seed=config.seed,
                           loss="infonce")
    seeds = [config.seed + i for i in range(config.seeds)]
    r2 = final_probe_r2(models, seeds, sim, progress=progress)  # (M, S, K)
    rows: list[dict[str, float | str | int]] = []
    for m, (rr, pp) in enumerate(zip(ratio.ravel(), p.ravel())):
        for s_idx, seed in enumerate(seeds):
            row: dict[str, float | str | int] = {"method": "infonce_simulation", "seed": seed,
                                                 "ratio": float(rr), "dropout": float(pp)}
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    d = SweepConfig()
    p = _Parser(prog="python -m linear_theory.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--ratio", default="0.02:1:50", help="weak/strong strength ratio START:STOP:NUM (default %(default)s)")
    p.add_argument("--dropout", default="0:0.95:20", help="dropout on the strong block START:STOP:NUM (default %(default)s)")
    p.add_argument("--loss", choices=["spectral", "infonce"], default=d.loss,
                   help="spectral = closed form; infonce = simulated InfoNCE training (slow)")
    p.add_argument("--strong-strength", type=float, default=d.strong_strength, help="strength s_1 of block 0")
    p.add_argument("--dims", default="4,4", help="block dims r_1,r_2 (default %(default)s)")
    p.add_argument("--rep-dim", type=int, default=d.rep_dim, help="representation dim k (capacity)")
    p.add_argument("--noise", type=float, default=d.noise, help="isotropic input noise sigma")
    p.add_argument("--aug-noise", default="0,0.5", help="augmentation noise eta_1,eta_2 (default %(default)s)")
    p.add_argument("--input-dim", type=int, default=None, help="input dim d (default: sum of dims; InfoNCE: 32)")
    p.add_argument("--steps", type=int, default=d.steps, help="InfoNCE SGD steps")
    p.add_argument("--lr", type=float, default=d.lr, help="InfoNCE SGD learning rate")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="InfoNCE pairs per minibatch")
    p.add_argument("--temperature", type=float, default=d.temperature, help="InfoNCE temperature tau")
    p.add_argument("--init-scale", type=float, default=d.init_scale, help="std of the initial W entries")
    p.add_argument("--seeds", type=int, default=d.seeds, help="InfoNCE runs per grid point")
    p.add_argument("--seed", type=int, default=d.seed, help="first seed")
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
            "loss": args.loss, "strong_strength": args.strong_strength, "dims": _pair(args.dims, "dims", int),
            "rep_dim": args.rep_dim, "noise": args.noise, "aug_noise": _pair(args.aug_noise, "aug-noise", float),
            "input_dim": args.input_dim, "steps": args.steps, "lr": args.lr, "batch_size": args.batch_size,
            "temperature": args.temperature, "init_scale": args.init_scale, "seeds": args.seeds, "seed": args.seed,
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
