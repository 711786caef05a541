"""Sweep CLI: strength ratio (weak/strong) x dropout on the strong block -> per-task probe quality.

    python -m linear_theory.sweep --ratio 0.1:1:50 --dropout 0:0.9:46 --out runs/sweep

Block 0 is the strong feature (strength ``--strong-strength``), block 1 the weak one (strength
``ratio * strong``); feature dropout ``p`` acts on block 0. ``--loss spectral`` evaluates the closed
form for all points in one vectorized call; ``--loss infonce`` trains the linear encoder with
InfoNCE on sampled views for every point and seed (slow; a progress bar per block of runs, under a
bar naming the block) and also writes the closed form beside it. The trained runs are cached in
``DIR/cache`` after every block, so a killed sweep started again trains only the blocks it had not
finished (the cache is keyed by the simulation settings and the trainer's source: never stale). Output: ``DIR/sweep.csv`` (one row per point, and per seed for InfoNCE) and
``DIR/config.json`` (the resolved :class:`SweepConfig` and the command line), both written
atomically, ``config.json`` last. An existing ``DIR`` holding the same config is rewritten; one
holding another config is refused unless ``--overwrite``. Bad input (including grids above
:data:`LIMITS`, checked before anything is allocated, and results that overflow) is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from featuredrop.atomic import atomic_open, atomic_write, check_output_dir
from featuredrop.cli import OneLineParser, fail, prog_name
from featuredrop.config import from_dict, to_dict
from linear_theory.closed_form import sign_accuracy
from linear_theory.infonce_runs import infonce_runs
from linear_theory.model import FeatureBlock
from linear_theory.simulate import SimulationConfig, loss_recipe
from linear_theory.two_block import TwoBlock

__all__ = ["SweepConfig", "parse_range", "closed_form_sweep", "main"]


def parse_range(text: str, name: str) -> tuple[float, float, int]:
    """Parse ``START:STOP:NUM`` (inclusive, like ``numpy.linspace``) or a single value.

    ``START == STOP`` with ``NUM > 1`` is refused: its points are one point, computed ``NUM`` times.
    """
    parts = text.split(":")
    try:
        if len(parts) == 1:
            v = float(parts[0])
            return (v, v, 1)
        if len(parts) == 3:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num > 1 and start == stop:
                raise _RangeError(f"--{name} {text}: START equals STOP, so its {num} points are one; pass {start:g}")
            if num >= 1:
                return (start, stop, num)
    except _RangeError:
        raise
    except ValueError:
        pass
    raise ValueError(f"--{name} must be START:STOP:NUM with NUM >= 1 (or one number), got {text!r}")


class _RangeError(ValueError):
    """A range that parses but is refused (its own message)."""


LIMITS: dict[str, int] = {
    "grid_points": 10**6,
    "seeds": 1000,
    "rep_dim": 4096,
    "input_dim": 4096,
    "infonce_runs": 10**5,
    "infonce_batch_elements": 2**28,
}
"""Largest sweeps the CLI accepts (checked before anything is allocated; a bigger one is split by hand)."""

_LIMIT_TEXT = {
    "grid_points": "ratio NUM x dropout NUM",
    "seeds": "--seeds",
    "rep_dim": "--rep-dim",
    "input_dim": "--input-dim or the sum of --dims",
    "infonce_runs": "ratio NUM x dropout NUM x --seeds",
    "infonce_batch_elements": "InfoNCE runs x --batch-size x input dim: about 1 GiB per float32 batch of views",
}


@dataclass(frozen=True)
class SweepConfig:
    """What the sweep computes. Ranges are ``(start, stop, num)`` as in ``numpy.linspace``.

    Attributes:
        ratio: weak/strong strength ratio: ``s_2 = ratio * s_1`` (``setting.weak_strength`` is not read).
        dropout: dropout ``p`` on the strong block.
        loss: ``"spectral"`` (closed form only), or also simulated runs trained with ``"infonce"`` or a
            generalized loss of Chen et al. 2021 (``"decoupled"``, ``"swd"``; overrides ``simulation.loss``).
        rep_dim: capacity ``k``.
        setting: the two-block model; its ``input_dim`` (``None``: 32, at least the blocks' total)
            only matters for the InfoNCE runs.
        simulation: the InfoNCE training (docs/linear-theory.md settings); seeds ``simulation.seed`` on.
        seeds: InfoNCE runs per grid point.
    """

    ratio: tuple[float, float, int] = (0.02, 1.0, 50)
    dropout: tuple[float, float, int] = (0.0, 0.95, 20)
    loss: Literal["spectral", "infonce", "decoupled", "swd"] = "spectral"
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
        for name, (start, stop, _) in (("ratio", self.ratio), ("dropout", self.dropout)):
            if start > stop:
                raise ValueError(f"{name} range {start:g}:{stop:g} is reversed: START must be <= STOP")
        for name in ("rep_dim", "seeds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._check_size()
        for r in (1.0, r0, r1):  # s_1 and the weak block's s_2 = ratio * s_1 at both ends of the range
            try:
                FeatureBlock(1, self.setting.strong_strength * r)
            except ValueError as err:
                raise ValueError(f"strong_strength x ratio = {self.setting.strong_strength:g} x {r:g}: {err}") from None

    def _check_size(self) -> None:
        """Refuse grids and runs above the limits of :data:`LIMITS` before anything is allocated."""
        points = self.ratio[2] * self.dropout[2]
        sizes = {"grid_points": points, "seeds": self.seeds, "rep_dim": self.rep_dim,
                 "input_dim": max(self.setting.input_dim or 0, sum(self.setting.dims))}
        if self.loss != "spectral":
            sizes["infonce_runs"] = points * self.seeds
            sizes["infonce_batch_elements"] = points * self.seeds * self.simulation.batch_size * max(32, sizes["input_dim"])
        for name, value in sizes.items():
            if value > LIMITS[name]:
                raise ValueError(f"{name} = {value:,} exceeds the limit {LIMITS[name]:,} ({_LIMIT_TEXT[name]})")

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


def _infonce_rows(config: SweepConfig, progress: bool, cache: Path | None = None) -> list[dict[str, float | str | int]]:
    """Train the linear encoder with ``config.loss`` at every grid point and seed (batched).

    ``cache``: folder of the run cache (:class:`linear_theory.infonce_runs.RunCache`), written after every
    block of runs, so a sweep that was killed resumes from the blocks it finished.
    """
    setting = config.setting
    if setting.input_dim is None:
        setting = replace(setting, input_dim=max(32, sum(setting.dims)))
    ratios, ps = config.grid()
    points = [(float(r), float(p)) for r in ratios for p in ps]
    models = [replace(setting, weak_strength=setting.strong_strength * r).model(p, config.rep_dim) for r, p in points]
    seeds = [config.simulation.seed + i for i in range(config.seeds)]
    simulation = replace(config.simulation, loss=config.loss)
    r2 = infonce_runs(models, seeds, simulation, cache=cache, progress=progress).probe_r2  # (M, S, K)
    rows: list[dict[str, float | str | int]] = []
    for m, (rr, pp) in enumerate(points):
        for s_idx, seed in enumerate(seeds):
            row: dict[str, float | str | int] = {"method": f"{config.loss}_simulation", "seed": seed, "ratio": rr,
                                                 "dropout": pp}
            for b in range(2):
                row[f"probe_r2_{b}"] = float(r2[m, s_idx, b])
                row[f"probe_accuracy_{b}"] = float(sign_accuracy(r2[m, s_idx, b]))
            rows.append(row)
    return rows


def run_sweep(config: SweepConfig, out: Path, command: str = "", progress: bool = True) -> Path:
    """Compute the sweep and write ``out/sweep.csv`` and ``out/config.json``; returns the CSV path.

    Both files are written atomically, the CSV first and ``config.json`` last (an old one is
    removed before), so a folder whose ``config.json`` is there always holds the sweep it describes.

    Raises:
        ValueError: a computed number is not finite (the inputs overflow float64).
    """
    return run_sweep_rows(config, sweep_rows(config, progress), out, command)


def run_sweep_rows(config: SweepConfig, rows: Sequence[dict], out: Path, command: str = "") -> Path:
    """Write computed ``rows`` (:func:`sweep_rows`) as ``out/sweep.csv``, then ``out/config.json``.

    An old ``config.json`` is removed first, so a crash in between never leaves a config beside a
    CSV it does not describe (a ``sweep.csv`` alone is refused by :func:`check_out`).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").unlink(missing_ok=True)
    path = out / "sweep.csv"
    fields = list(rows[0])
    for row in rows:
        fields += [k for k in row if k not in fields]
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write(out / "config.json", json.dumps(_config_record(config, command), indent=2) + "\n")
    return path


def sweep_rows(config: SweepConfig, progress: bool = False, cache: Path | None = None) -> list[dict[str, float | str | int]]:
    """The rows of ``sweep.csv``: the closed form at every point, then the simulated runs (if any).

    ``cache``: where the simulated runs are cached (``None``: nowhere); the CLI uses ``OUT/cache``.

    Raises:
        ValueError: a number is not finite (naming the first such point).
    """
    with np.errstate(all="ignore"):  # overflow shows up as non-finite rows, refused below
        rows = _closed_form_rows(config)
    if config.loss != "spectral":
        rows += _infonce_rows(config, progress, cache)
    bad = [row for row in rows if any(isinstance(v, float) and not math.isfinite(v) for v in row.values())]
    if bad:
        first = bad[0]
        raise ValueError(f"{len(bad)} of {len(rows)} result rows are not finite (first: {first['method']} at "
                         f"ratio={first['ratio']:g}, dropout={first['dropout']:g}): the inputs overflow float64; "
                         f"use a smaller --strong-strength, --noise or --aug-noise")
    return rows


CACHE = "cache"
"""The folder under ``--out`` of the simulated runs' cache: a killed ``--loss infonce`` sweep resumes from it."""


def _config_record(config: SweepConfig, command: str) -> dict:
    """What ``config.json`` holds: the resolved config and the command line."""
    return {"config": to_dict(config), "command": command}


def check_out(config: SweepConfig, out: Path, overwrite: bool = False) -> None:
    """Refuse an ``--out`` that cannot be written, or that holds a sweep of another config.

    A folder holding the same config is rewritten (the sweep is deterministic); one holding a
    different config (or a ``sweep.csv`` without a readable ``config.json``) only with ``overwrite``.

    Raises:
        ValueError: naming ``--out`` and what is in the way.
    """
    check_output_dir(out)
    if overwrite or not out.is_dir():
        return
    saved = out / "config.json"
    if saved.exists():
        try:
            same = json.loads(saved.read_text())["config"] == to_dict(config)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ValueError(f"--out {out}: {saved} is not a sweep config.json; use another --out or --overwrite") from None
        if not same:
            raise ValueError(f"--out {out} holds a sweep with a different config ({saved}); use another --out "
                             "or --overwrite")
    elif (out / "sweep.csv").exists():
        raise ValueError(f"--out {out} holds a sweep.csv without its config.json; use another --out or --overwrite")


def summarize(config: SweepConfig, rows: Sequence[dict] | None = None) -> str:
    """A few lines per method that show suppression without dropout and rescue above ``p*``.

    The closed form always; with ``rows`` (from :func:`sweep_rows`) also every simulated method
    in them (mean over seeds), each under its own heading.
    """
    res = closed_form_sweep(config)
    n = res["ratio"].shape[0]
    picks = sorted({0, n // 2, n - 1})
    lines = ["spectral closed form:", "ratio   p*      task-2 R2 at p=min   task-2 R2 at p=max   task-1 R2 at p=max"]
    for i in picks:
        lines.append(f"{res['ratio'][i, 0]:<7.3g} {res['p_star'][i, 0]:<7.3g} {res['probe_r2'][i, 0, 1]:<20.3f} "
                     f"{res['probe_r2'][i, -1, 1]:<20.3f} {res['probe_r2'][i, -1, 0]:.3f}")
    ratios, ps = config.grid()
    methods = [m for m in dict.fromkeys(str(r["method"]) for r in rows or ()) if m != "spectral_closed_form"]
    for method in methods:
        mine = [r for r in rows or () if r["method"] == method]
        seeds = len({r["seed"] for r in mine})
        lines += [f"{method} (mean of {seeds} seed(s)):",
                  "ratio           task-2 R2 at p=min   task-2 R2 at p=max   task-1 R2 at p=max"]
        for i in picks:
            cells = [_mean_r2(mine, float(ratios[i]), float(p), block) for p, block in ((ps[0], 1), (ps[-1], 1), (ps[-1], 0))]
            lines.append(f"{ratios[i]:<15.3g} {cells[0]:<20.3f} {cells[1]:<20.3f} {cells[2]:.3f}")
    return "\n".join(lines)


def _mean_r2(rows: Sequence[dict], ratio: float, dropout: float, block: int) -> float:
    """Mean over seeds of block ``block``'s probe R^2 at one grid point (NaN when the rows lack it)."""
    vals = [float(r[f"probe_r2_{block}"]) for r in rows if r["ratio"] == ratio and r["dropout"] == dropout]
    return float(np.mean(vals)) if vals else float("nan")


def _parser() -> argparse.ArgumentParser:
    d, setting, sim = SweepConfig(), TwoBlock(), SimulationConfig()
    p = OneLineParser(prog=prog_name("python -m linear_theory.sweep"), description=__doc__.split("\n\n")[0])
    p.add_argument("--ratio", default="0.02:1:50", help="weak/strong strength ratio START:STOP:NUM (default %(default)s)")
    p.add_argument("--dropout", default="0:0.95:20", help="dropout on the strong block START:STOP:NUM (default %(default)s)")
    p.add_argument("--loss", choices=["spectral", "infonce", "decoupled", "swd"], default=d.loss,
                   help="spectral = closed form; infonce / decoupled / swd = also simulated training with InfoNCE "
                   "or a generalized loss of Chen et al. 2021 (slow)")
    p.add_argument("--strong-strength", type=float, default=setting.strong_strength, help="strength s_1 of block 0 (default %(default)s)")
    p.add_argument("--dims", default="4,4", help="block dims r_1,r_2 (default %(default)s)")
    p.add_argument("--rep-dim", type=int, default=d.rep_dim, help="representation dim k (capacity) (default %(default)s)")
    p.add_argument("--noise", type=float, default=setting.noise, help="isotropic input noise sigma (default %(default)s)")
    p.add_argument("--aug-noise", default="0,0.5", help="augmentation noise eta_1,eta_2 (default %(default)s)")
    p.add_argument("--input-dim", type=int, default=None, help="input dim d (default: sum of dims; InfoNCE: 32)")
    p.add_argument("--steps", type=int, default=None, help=f"InfoNCE SGD steps (default {sim.steps})")
    p.add_argument("--lr", type=float, default=None, help=f"SGD learning rate (default {sim.lr:g}; --loss decoupled: "
                   f"{loss_recipe('decoupled', sim).lr:g}, linear_theory.simulate.loss_recipe)")
    p.add_argument("--batch-size", type=int, default=None, help=f"InfoNCE pairs per minibatch (default {sim.batch_size})")
    p.add_argument("--temperature", type=float, default=None, help=f"temperature tau (default {sim.temperature:g}; "
                   f"--loss decoupled: {loss_recipe('decoupled', sim).temperature:g}, Chen et al.'s recipe)")
    p.add_argument("--init-scale", type=float, default=None, help=f"std of the initial W entries (default {sim.init_scale})")
    p.add_argument("--seeds", type=int, default=None, help=f"InfoNCE runs per grid point (default {d.seeds})")
    p.add_argument("--seed", type=int, default=None, help=f"first seed (default {sim.seed})")
    p.add_argument("--out", default="runs/sweep", help="output folder (default %(default)s); a folder holding "
                   "the same config is rewritten, one holding another config is refused")
    p.add_argument("--overwrite", action="store_true", help="replace a sweep of another config in --out")
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


SIMULATION_FLAGS = ("steps", "lr", "batch_size", "temperature", "init_scale", "seeds", "seed")
"""Options of the simulated runs only: refused with ``--loss spectral`` (the closed form trains nothing)."""


def _fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The simulation options left out get their defaults (the loss's recipe for ``--lr`` and ``--temperature``)."""
    sim, recipe = SimulationConfig(), loss_recipe(args.loss)  # decoupled: Chen et al.'s tau = 1 and a 10x step
    defaults = {"steps": sim.steps, "lr": recipe.lr, "batch_size": sim.batch_size, "temperature": recipe.temperature,
                "init_scale": sim.init_scale, "seeds": SweepConfig().seeds, "seed": sim.seed}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 on bad arguments, with a one-line message)."""
    parser = _parser()
    args = parser.parse_args(argv)
    given = [f"--{name.replace('_', '-')}" for name in SIMULATION_FLAGS if getattr(args, name) is not None]
    if args.loss == "spectral" and given:
        parser.error(f"{', '.join(given)}: options of the simulated runs, which --loss spectral does not train "
                     "(the closed form only); pass --loss infonce, decoupled or swd, or leave them out")
    _fill_defaults(args)
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
        check_out(config, Path(args.out), args.overwrite)
        command = shlex.join([parser.prog, *(sys.argv[1:] if argv is None else argv)])
        rows = sweep_rows(config, progress=not args.no_progress, cache=Path(args.out) / CACHE)
    except ValueError as err:
        fail(f"{parser.prog}: error: {err}")
    except FloatingPointError as err:
        fail(f"{parser.prog}: error: {_divergence_hint(args, err)}")
    except RuntimeError as err:
        if "overflow" not in str(err):  # torch: a float64 option that does not fit the float32 training
            raise
        changed = _changed_scale(args)
        fail(f"{parser.prog}: error: an option overflows float32 ({err})"
             + (f"; check {', '.join(changed)}" if changed else ""))
    except MemoryError:
        fail(f"{parser.prog}: error: out of memory; use fewer grid points (--ratio, --dropout NUM), --seeds or a "
             "smaller --input-dim / --batch-size")
    try:
        path = run_sweep_rows(config, rows, Path(args.out), command)
    except OSError as err:
        fail(f"{parser.prog}: error: --out {args.out}: cannot write ({err.strerror or err})")
    print(summarize(config, rows))
    print(f"wrote {path} and {path.parent / 'config.json'}")
    return 0


def _changed_scale(args: argparse.Namespace) -> list[str]:
    """The options that scale the simulation and differ from their defaults, as ``--flag value``."""
    defaults = _fill_defaults(_parser().parse_args(["--loss", args.loss]))
    scale = ("lr", "init_scale", "temperature", "strong_strength", "noise", "batch_size")
    return [f"--{name.replace('_', '-')} {getattr(args, name):g}" for name in scale
            if getattr(args, name) != getattr(defaults, name)]


def _divergence_hint(args: argparse.Namespace, err: FloatingPointError) -> str:
    """Say that the simulation diverged and which of the options that scale it differ from their defaults."""
    changed = _changed_scale(args)
    found = re.search(r"non-finite loss at step \d+", str(err))
    what = found.group(0) if found else str(err).split(":")[0]
    if changed:
        return f"the simulation diverged ({what}); check {', '.join(changed)}"
    return f"the simulation diverged ({what}) with the default scale options; try a smaller --lr"


if __name__ == "__main__":
    sys.exit(main())
