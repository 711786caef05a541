"""Run many ``deep_experiments run`` commands as parallel subprocesses, skipping finished ones.

A grid is a list of :class:`GridRun` (a folder under the grid's root and the CLI flags of that
run). :func:`run_grid` runs each in its own process (one CPU thread each unless
``OMP_NUM_THREADS`` says otherwise), ``jobs`` at a time. A run whose ``probe.json`` exists is
skipped (reported as failed when its ``config.json`` is another config's) and an interrupted one
resumes from its checkpoint (the CLI does both), so a grid can be stopped and started again at
any point without losing finished work. Used by the scripts under
``scripts/`` that make the committed ``results/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deep_experiments.run.folder import RunFolder

__all__ = ["GridRun", "GridResult", "run_grid", "resolve_flags", "check_runs"]


@dataclass(frozen=True)
class GridRun:
    """One run: ``folder`` (relative to the grid root) and its ``deep_experiments run`` flags."""

    folder: str
    flags: tuple[str, ...]

    def command(self, root: Path) -> list[str]:
        """The full command line of this run, writing into ``root / folder``."""
        return [sys.executable, "-m", "deep_experiments", "run", *self.flags, "--out", str(root / self.folder),
                "--no-progress"]


@dataclass(frozen=True)
class GridResult:
    """What became of a run: ``probe`` (the run's ``probe.json``) is ``None`` when it failed."""

    run: GridRun
    probe: dict[str, Any] | None
    seconds: float
    status: str


def resolve_flags(flags: Sequence[str], verb: str = "run") -> Any:
    """The :class:`RunConfig` the deep CLI makes of ``flags``; ``ValueError`` with the CLI's own one-line reason.

    The CLI's parser reports a bad flag on stderr and exits; here its line is caught and raised instead,
    so that a grid script can refuse a bad grid in one line of its own before it starts any run.
    """
    import contextlib
    import io

    from deep_experiments.cli import build_parser, config_from_args

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return config_from_args(build_parser().parse_args([verb, *flags, "--out", "unused"]))
    except SystemExit:
        line = err.getvalue().strip().split("error: ", 1)[-1]
        raise ValueError(line or f"bad flags {' '.join(flags)}") from None


def check_runs(runs: Sequence[GridRun]) -> None:
    """Resolve every run's flags (``ValueError`` naming the first bad one's folder and reason); starts nothing."""
    for run in runs:
        try:
            resolve_flags(run.flags)
        except ValueError as err:
            raise ValueError(f"{run.folder}: {' '.join(str(err).split())}") from None


def _another_config(run: GridRun, folder: RunFolder) -> str:
    """Why a finished ``folder`` is not ``run`` (it holds another config), or ``""``.

    ``""`` too when that cannot be told (no ``config.json``, or flags that do not resolve here).
    """
    if not folder.config.exists():
        return ""
    from deep_experiments.cli import build_parser, config_from_args  # the CLI's own resolution of the flags

    try:
        wanted = config_from_args(build_parser().parse_args(["run", *run.flags, "--out", str(folder.root)]))
        saved = folder.load_config()
    except (ValueError, SystemExit):
        return ""
    return "" if saved == wanted else f"{folder.root} holds a finished run of another config; use another root"


def _execute(run: GridRun, root: Path) -> GridResult:
    folder = RunFolder(root / run.folder)
    if folder.probe.exists():
        other = _another_config(run, folder)  # never report another run's probe.json as this one's
        if other:
            return GridResult(run, None, 0.0, f"FAILED: {other}")
        return GridResult(run, folder.read_probe(), 0.0, "skipped (probe.json exists)")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run(run.command(root), capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not folder.probe.exists():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return GridResult(run, None, seconds, f"FAILED (exit {proc.returncode}): {tail}")
    return GridResult(run, folder.read_probe(), seconds, "done")


def run_grid(runs: Sequence[GridRun], root: str | Path, jobs: int = 2,
             report: Callable[[GridResult], None] | None = None) -> list[GridResult]:
    """Run ``runs`` into ``root``, ``jobs`` at a time, in the given order; ``report`` sees each result.

    Results come back in the order of ``runs``; a failed run does not stop the others.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    names = [r.folder for r in runs]
    if len(set(names)) != len(names):
        raise ValueError("two runs of the grid share a folder")
    root = Path(root)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_execute, r, root) for r in runs]
        results = []
        for fut in futures:
            result = fut.result()
            if report is not None:
                report(result)
            results.append(result)
    return results
