"""A small CPU grid of deep-arm smoke runs, the input of the deep figures (``paper_figures.deep``).

::

    OMP_NUM_THREADS=1 python scripts/deep_cpu_grid.py --out runs/deep-cpu [--jobs 2]
    python -m paper_figures --out figures --results runs/deep-cpu

Runs ``python -m deep_experiments run --preset smoke`` (offline stand-in data, tiny ResNet, 2
epochs: NOT the paper's full-size runs) into ``OUT/<dataset>/<method>/os<strength>_p<p>/seed<k>/``:

- every registered kind of views (``deep_experiments.views.METHODS``: expert, viewmaker, dropout, hierarchical)
  x seeds 0, 1 at overlay strength 1, dropout p 0.5;
- expert runs at overlay strengths 0, 0.5, 1 (seed 0);
- dropout runs at p 0.25, 0.5, 0.75 (seed 0);
- dropout runs at p 0.5 at the overlay strengths of ``--dropout-strengths`` (none by default);
- runs of the ``--own-controls`` methods at overlay strength 0 (each method's own no-overlay
  control, e.g. the viewmaker's; none by default).

With ``--augmentations A B ...`` the whole grid is run once per expert augmentation policy (the
ladder of ``deep_experiments.augment.LADDER``), into ``OUT/<policy>/<dataset>/...``, seed by seed
across policies (so a grid cut short holds every policy at the same seeds).

A run whose ``probe.json`` exists is skipped; an interrupted one resumes (the CLI does that).
Prints each run's probe accuracies and, at the end, the mean per method and the wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from deep_experiments.data.spec import AUGMENTATIONS
from deep_experiments.run.grid import GridResult, GridRun, check_runs, run_grid
from deep_experiments.views import METHODS
from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, fraction, nonnegative_float, nonnegative_int, positive_int, unique


@dataclass(frozen=True)
class Run:
    """One run of the grid."""

    dataset: str
    method: str
    overlay_strength: float
    dropout_p: float
    seed: int
    augmentation: str | None = None

    def folder(self, root: Path) -> Path:
        """``root/[<augmentation>/]<dataset>/<method>/os<strength>_p<p>/seed<k>``."""
        top = root if self.augmentation is None else root / self.augmentation
        return top / self.dataset / self.method / f"os{self.overlay_strength:g}_p{self.dropout_p:g}" / f"seed{self.seed}"


def grid(datasets: list[str], seeds: list[int], strengths: list[float], dropouts: list[float],
         default_strength: float = 1.0, default_p: float = 0.5, methods: tuple[str, ...] = METHODS,
         sweep_seeds: list[int] | None = None, dropout_strengths: list[float] | None = None,
         own_controls: tuple[str, ...] = ()) -> list[Run]:
    """The runs of the grid, without duplicates, in a stable order (seed by seed).

    ``sweep_seeds``: the seeds of the strength and dropout sweeps (default: the first seed only).
    ``dropout_strengths``: overlay strengths of a dropout sweep at ``default_p`` (sweep seeds).
    ``own_controls``: methods also run at overlay strength 0 (sweep seeds).
    """
    sweep = seeds[:1] if sweep_seeds is None else sweep_seeds
    runs: list[Run] = []
    for s in seeds:
        for ds in datasets:
            runs += [Run(ds, m, default_strength, default_p, s) for m in methods]
            if s in sweep:
                runs += [Run(ds, "expert", o, default_p, s) for o in strengths]
                runs += [Run(ds, "dropout", default_strength, p, s) for p in dropouts]
                runs += [Run(ds, "dropout", o, default_p, s) for o in dropout_strengths or []]
                runs += [Run(ds, m, 0.0, default_p, s) for m in own_controls]
    return list(dict.fromkeys(runs))


def command(run: Run, extra: list[str], preset: str = "smoke", device: str = "cpu") -> GridRun:
    """The grid run (folder and ``deep_experiments run`` flags) of one run."""
    flags = ["--preset", preset, "--dataset", run.dataset, "--method", run.method,
             "--overlay-strength", f"{run.overlay_strength:g}", "--dropout-p", f"{run.dropout_p:g}",
             "--seed", str(run.seed), "--device", device, *extra]
    if run.augmentation is not None:
        flags += ["--augmentation", run.augmentation]
    return GridRun(str(run.folder(Path("."))), tuple(flags))


def _print(outcome: GridResult) -> None:
    """One line per finished run: folder, status, time and its fast-probe accuracies."""
    line = f"{outcome.run.folder}: {outcome.status} ({outcome.seconds:.1f} s)"
    res = outcome.probe
    if res is not None:
        acc = res["fast"]
        line += f"  fast task_a {acc['task_a']:.3f} task_b {acc['task_b']:.3f}"
        for control in ("overlay_free", "full_overlay"):
            if control in acc:
                line += f" | {control} task_a {acc[control]['task_a']:.3f}"
        if "paper" in res:
            line += f" | paper task_a {res['paper']['task_a']:.3f} task_b {res['paper']['task_b']:.3f}"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when a run failed."""
    p = OneLineParser(prog="deep_cpu_grid.py", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/deep-cpu", help="results root (default %(default)s)")
    p.add_argument("--datasets", nargs="+", default=["c+digits"])
    p.add_argument("--seeds", nargs="+", type=nonnegative_int, default=[0, 1])
    p.add_argument("--strengths", nargs="+", type=nonnegative_float, default=[0.0, 0.5, 1.0], help="expert overlay strengths")
    p.add_argument("--dropouts", nargs="+", type=fraction, default=[0.25, 0.5, 0.75], help="dropout p values")
    p.add_argument("--dropout-strengths", nargs="+", type=nonnegative_float, default=[],
                   help="overlay strengths of a dropout sweep at p 0.5 (sweep seeds; default none)")
    p.add_argument("--own-controls", nargs="+", default=[], choices=METHODS,
                   help="methods also run at overlay strength 0, their own no-overlay control (sweep seeds)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                   help="kinds of views at the default strength and p (default: all)")
    p.add_argument("--sweep-seeds", nargs="+", type=nonnegative_int, default=None,
                   help="seeds of the strength and dropout sweeps (default: the first of --seeds)")
    p.add_argument("--preset", default="smoke", help="deep_experiments preset of every run (default %(default)s)")
    p.add_argument("--augmentations", nargs="+", default=None, choices=AUGMENTATIONS,
                   help="run the grid once per expert augmentation policy, into OUT/<policy>/... (default: the "
                        "preset's policy, into OUT/...)")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs in parallel (one CPU thread each)")
    p.add_argument("--device", default="cpu",
                   help="device of every run (default %(default)s; cuda runs the same protocol on a GPU, "
                        "several --jobs sharing it)")
    p.add_argument("--paper-probe", action="store_true",
                   help="also run the paper-protocol probe (slow on CPU; the figures read the fast probe)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further deep_experiments flags, e.g. --extra --train-size 256")
    args = p.parse_args(argv)
    for flag in ("seeds", "sweep_seeds", "strengths", "dropouts", "dropout_strengths", "datasets", "augmentations"):
        unique(p, f"--{flag.replace('_', '-')}", getattr(args, flag))
    if args.sweep_seeds is not None and set(args.sweep_seeds) - set(args.seeds):
        p.error(f"--sweep-seeds {sorted(set(args.sweep_seeds) - set(args.seeds))} are not among --seeds")
    try:
        root = check_output_dir(args.out)
    except ValueError as err:
        p.error(str(err))
    runs = grid(args.datasets, args.seeds, args.strengths, args.dropouts, methods=tuple(args.methods),
                sweep_seeds=args.sweep_seeds, dropout_strengths=args.dropout_strengths,
                own_controls=tuple(args.own_controls))
    if args.augmentations:
        runs = [replace(r, augmentation=a) for r in runs for a in dict.fromkeys(args.augmentations)]
    extra = list(args.extra) + ([] if args.paper_probe else ["--no-paper-probe"])
    commands = [command(r, extra, args.preset, args.device) for r in runs]
    try:  # every run's flags resolve (preset, datasets, strengths, --extra, device) before anything starts
        check_runs(commands)
        from deep_experiments.device import resolve_device

        resolve_device(args.device)
    except (ValueError, RuntimeError) as err:
        p.error(f"{' '.join(str(err).split())}")
    print(f"{len(runs)} runs into {root} ({args.preset} preset, {args.device})", flush=True)
    start = time.perf_counter()
    order = sorted(runs, key=lambda r: (r.seed, r.method != "viewmaker"))  # seed by seed, slowest first (stable)
    outcomes = run_grid([command(r, extra, args.preset, args.device) for r in order], root, args.jobs, report=_print)
    results = [(run, outcome.probe) for run, outcome in zip(order, outcomes)]
    failed = sum(outcome.probe is None for outcome in outcomes)
    wall = time.perf_counter() - start
    print("mean fast-probe accuracy at overlay strength 1, p 0.5 (over seeds):")
    for ds in args.datasets:
        for m in METHODS:
            accs = [r["fast"] for run, r in results if r is not None and run.dataset == ds and run.method == m
                    and run.overlay_strength == 1.0 and run.dropout_p == 0.5]
            if accs:
                a = sum(x["task_a"] for x in accs) / len(accs)
                b = sum(x["task_b"] for x in accs) / len(accs)
                print(f"  {ds} {m:<9} task_a {a:.3f} task_b {b:.3f} (n={len(accs)})")
    print(f"grid wall time {wall:.1f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
