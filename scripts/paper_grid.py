"""The paper-size deep grid on the C+* datasets, in calls that each fit a time budget and continue each other.

::

    python scripts/paper_grid.py --out runs/paper-grid --time-budget 3000      # as much as fits in 50 minutes
    python scripts/paper_grid.py --out runs/paper-grid --time-budget 3000      # continues where it stopped
    python scripts/paper_grid.py --out runs/paper-grid --status                # the progress table only

Runs ``--datasets`` (c+shapes, c+digits, c+letters) x ``--methods`` (expert, viewmaker, dropout) x
``--seeds`` (0, 1, 2) with ``--preset`` (paper: ResNet-18, batch 256, 200 epochs, the paper probe;
``--epochs`` to shorten) into ``OUT/<dataset>/<method>/seed<k>/``, one run at a time, in that order
(seed by seed). Each run is a :class:`deep_experiments.run.grid.GridRun` trained by
``deep_experiments train --stop-after K`` calls (the CLI resumes from the run's checkpoint), then
probed by ``deep_experiments probe``; ``--nproc N`` starts each call under ``torchrun`` on ``N``
GPUs (data-parallel, :mod:`deep_experiments.run.distributed`).

Time budget: before each call the script estimates its cost from what earlier calls of the same
dataset and method took (``OUT/grid_timing.json``: seconds per epoch, start-up included, and
seconds per probe) and trains only as many epochs as fit in the time left, so it stops between
epochs, before the budget is spent. A run whose cost is unknown trains one epoch first. A call
still running when the budget is spent is killed (its last checkpoint is kept: the next call
resumes from it). Every call's output goes to ``OUT/logs/<run>.log``. Prints the progress table
(epochs done, status, probe accuracies) at the end; exit status 1 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deep_experiments.run.folder import RunFolder  # noqa: E402
from deep_experiments.run.grid import GridRun  # noqa: E402
from featuredrop.atomic import atomic_write, check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser, nonnegative_int, positive_float, positive_int, unique  # noqa: E402

DATASETS = ("c+shapes", "c+digits", "c+letters")
METHODS = ("expert", "viewmaker", "dropout")
SEEDS = (0, 1, 2)
MARGIN = 0.05
"""Fraction of the time left kept in reserve when planning a call (estimates are of earlier calls)."""

clock = time.monotonic
"""The clock of the budget (tests replace it)."""


@dataclass(frozen=True)
class Run:
    """One run of the grid, and its CLI flags."""

    dataset: str
    method: str
    seed: int
    flags: tuple[str, ...]

    @property
    def key(self) -> str:
        """What runs of the same cost share: ``dataset/method``."""
        return f"{self.dataset}/{self.method}"

    @property
    def grid_run(self) -> GridRun:
        """The :class:`GridRun`: folder ``dataset/method/seedK`` and the ``deep_experiments`` flags."""
        return GridRun(f"{self.dataset}/{self.method}/seed{self.seed}", self.flags)


def grid(datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int], preset: str, epochs: int | None,
         device: str, extra: Sequence[str]) -> list[Run]:
    """The runs, seed by seed, then dataset, then method."""
    common = ["--preset", preset, "--device", device, *(["--epochs", str(epochs)] if epochs else []), *extra]
    return [Run(d, m, s, ("--dataset", d, "--method", m, "--seed", str(s), *common))
            for s in seeds for d in datasets for m in methods]


_CONFIGS: dict[tuple[str, ...], Any] = {}


def run_config(run: Run) -> Any:
    """The run's :class:`deep_experiments.configs.RunConfig` as the CLI resolves its flags (``ValueError``,
    or ``SystemExit`` with the CLI's one line, on a bad flag)."""
    if run.flags not in _CONFIGS:
        from deep_experiments.run.grid import resolve_flags

        _CONFIGS[run.flags] = resolve_flags(run.flags, "train")
    return _CONFIGS[run.flags]


def total_epochs(run: Run) -> int:
    """The run's ``train.epochs``."""
    return run_config(run).train.epochs


def done_epochs(folder: RunFolder) -> int:
    """Completed epochs of a run folder (the last train record; its checkpoint holds at least as many)."""
    return max((r["epoch"] for r in folder.read_metrics() if r.get("kind") == "train"), default=0)


class Timing:
    """Seconds per epoch and per probe of earlier calls, by ``dataset/method`` (``OUT/grid_timing.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, dict[str, float]] = json.loads(path.read_text()) if path.exists() else {}
            if not isinstance(self.data, dict) or not all(
                    isinstance(v, dict) and all(isinstance(x, (int, float)) and math.isfinite(x) for x in v.values())
                    for v in self.data.values()):
                raise ValueError("not a table of seconds by dataset/method")
        except (OSError, ValueError) as err:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path}: unreadable or corrupt ({' '.join(str(err).split())}); delete it to measure "
                             "the timings anew") from None

    def get(self, key: str, what: str) -> float | None:
        """The estimate for ``key``: its own, else the largest of any run of the same method, else ``None``."""
        own = self.data.get(key, {}).get(what)
        if own is not None:
            return own
        method = key.split("/")[1]
        same = [v[what] for k, v in self.data.items() if k.split("/")[1] == method and what in v]
        return max(same) if same else None

    def record(self, key: str, what: str, seconds: float) -> None:
        """Keep the latest measurement (a call of more epochs amortizes its start-up better)."""
        self.data.setdefault(key, {})[what] = round(seconds, 3)
        atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")


def execute(command: Sequence[str], log: Path, timeout: float) -> int | None:
    """Run one CLI call, appending its output to ``log``; its exit status, or ``None`` when killed at ``timeout``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "MPLBACKEND": "Agg"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                  timeout=None if math.isinf(timeout) else max(timeout, 1.0)).returncode
        except subprocess.TimeoutExpired:
            out.write("[killed: the time budget was spent]\n")
            return None


def _command(run: Run, root: Path, verb: str, nproc: int, *more: str) -> list[str]:
    """``deep_experiments VERB`` for ``run`` (under torchrun when ``nproc > 1``)."""
    launch = [sys.executable, "-m", "deep_experiments"]
    if nproc > 1 and verb == "train":
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                  "-m", "deep_experiments"]
    folder = str(root / run.grid_run.folder)
    if verb == "probe":
        return [*launch, "probe", "--run", folder, "--device", _device(run), "--no-progress"]
    return [*launch, "train", *run.flags, "--out", folder, "--no-progress", *more]


def _device(run: Run) -> str:
    flags = list(run.flags)
    return flags[flags.index("--device") + 1]


def advance(run: Run, root: Path, timing: Timing, deadline: float, nproc: int) -> str:
    """Train and then probe ``run`` as far as the time left allows; returns what happened.

    ``"done"`` (probed), ``"stopped"`` (the budget is spent: the grid stops), ``"failed: ..."``.
    """
    folder = RunFolder(root / run.grid_run.folder)
    log = root / "logs" / (run.grid_run.folder.replace("/", "_") + ".log")
    total = total_epochs(run)
    if folder.config.exists() and folder.load_config() != run_config(run):
        return f"failed ({folder.root} holds a run of another config; use another --out)"
    while not folder.probe.exists():
        left = (deadline - clock()) * (1 - MARGIN)
        done = done_epochs(folder)
        if done < total:
            per_epoch = timing.get(run.key, "epoch_s")
            if math.isinf(left):
                k = total - done
            elif per_epoch is None:
                k = 1 if left > 0 else 0  # measure one epoch
            else:
                k = min(total - done, math.floor(left / per_epoch))
            if k < 1:
                return "stopped"
            t0 = clock()
            code = execute(_command(run, root, "train", nproc, "--stop-after", str(k)), log, deadline - clock())
            trained = done_epochs(folder) - done
            if trained > 0:
                timing.record(run.key, "epoch_s", (clock() - t0) / trained)
            if code is None:
                return "stopped"
            if code != 0 or trained < 1:
                return f"failed (train exit {code}, see {log})"
            continue
        per_probe = timing.get(run.key, "probe_s")
        if left <= 0 or (per_probe is not None and per_probe > left):
            return "stopped"
        t0 = clock()
        code = execute(_command(run, root, "probe", nproc), log, deadline - clock())
        if code is None:
            return "stopped"
        if code != 0:
            return f"failed (probe exit {code}, see {log})"
        timing.record(run.key, "probe_s", clock() - t0)
    return "done"


def _acc(result: dict[str, Any], protocol: str) -> str:
    acc = result.get(protocol)
    return f"{acc['task_a']:.3f} {acc['task_b']:.3f}" if isinstance(acc, dict) else "-"


def table(runs: Sequence[Run], root: Path, status: dict[str, str] | None = None) -> str:
    """The progress table: run, epochs done / total, status, fast and paper probe (task A, task B)."""
    rows = [("run", "epochs", "status", "fast A B", "paper A B")]
    for run in runs:
        folder = RunFolder(root / run.grid_run.folder)
        total = total_epochs(run)
        done = done_epochs(folder)
        if folder.probe.exists():
            result = folder.read_probe()
            state, fast, paper = "done", _acc(result, "fast"), _acc(result, "paper")
        else:
            state = "training" if done else "not started"
            fast = paper = "-"
            if done == total:
                state = "trained, not probed"
        if status and run.grid_run.folder in status and status[run.grid_run.folder].startswith("failed"):
            state = status[run.grid_run.folder]
        rows.append((run.grid_run.folder, f"{done}/{total}", state, fast, paper))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    finished = sum(RunFolder(root / r.grid_run.folder).probe.exists() for r in runs)
    return "\n".join(lines + [f"{finished}/{len(runs)} runs done"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 1 when a run failed, 2 on bad options."""
    p = OneLineParser(prog="paper_grid.py", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/paper-grid", help="grid root (default %(default)s)")
    p.add_argument("--time-budget", type=positive_float, default=None,
                   help="seconds this call may take; it stops between epochs before they are spent (default: none)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=nonnegative_int, default=list(SEEDS))
    p.add_argument("--epochs", type=positive_int, default=None, help="pretraining epochs of every run (default: the preset's)")
    p.add_argument("--preset", default="paper", help="deep_experiments preset of every run (default %(default)s)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default %(default)s)")
    p.add_argument("--nproc", type=positive_int, default=1, help="GPUs per run: > 1 trains each run under torchrun")
    p.add_argument("--status", action="store_true", help="print the progress table and stop")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further deep_experiments flags, e.g. --extra --data-dir data --base-source cifar10")
    args = p.parse_args(argv)
    for flag in ("datasets", "methods", "seeds"):
        unique(p, f"--{flag}", getattr(args, flag))
    runs = grid(args.datasets, args.methods, args.seeds, args.preset, args.epochs, args.device, args.extra)
    try:
        root = check_output_dir(args.out).resolve()  # absolute: the calls run from the repository root
        for run in runs:
            total_epochs(run)  # every run's flags resolve before anything starts
        timing = Timing(root / "grid_timing.json")
    except ValueError as err:
        p.error(f"{' '.join(str(err).split())}")
    if args.status:
        print(table(runs, root))
        return 0
    root.mkdir(parents=True, exist_ok=True)
    deadline = math.inf if args.time_budget is None else clock() + args.time_budget
    outcome: dict[str, str] = {}
    for run in runs:
        name = run.grid_run.folder
        if RunFolder(root / name).probe.exists() and RunFolder(root / name).load_config() == run_config(run):
            continue
        outcome[name] = advance(run, root, timing, deadline, args.nproc)
        print(f"{name}: {outcome[name]} ({done_epochs(RunFolder(root / name))}/{total_epochs(run)} epochs)", flush=True)
        if outcome[name] == "stopped":
            print("time budget spent; run the same command again to continue", flush=True)
            break
    print(table(runs, root, outcome))
    return 1 if any(v.startswith("failed") for v in outcome.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
