"""Print where a results root came from: its runs, their code revisions, libraries and training time.

::

    python scripts/results_provenance.py results/claim5-cpu

One markdown line per root, read from the run folders alone (``deep_experiments.run.folder.find_runs``):
the number of finished runs, the code revisions and torch versions named by their ``provenance.json``
(written by ``scripts/collect_runs.py``; older roots have none and say so: their revision is in
``results/README.md``), and the training time (the ``seconds`` of every ``train`` record of
``metrics.jsonl``: median per run and total; the probes are not included). The documentation puts
this line under each results table, so a table's provenance is printed, never copied.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from deep_experiments.run.folder import find_runs
from featuredrop.cli import OneLineParser


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def provenance_line(root: Path) -> str:
    """The provenance of every finished run under ``root`` as one markdown line."""
    runs = find_runs(root)
    if not runs:
        raise FileNotFoundError(f"{root}: no finished run (no probe.json below it)")
    revisions: set[str] = set()
    torches: set[str] = set()
    missing = 0
    per_run: list[float] = []
    for run in runs:
        prov = run.root / "provenance.json"
        if prov.is_file():
            data = json.loads(prov.read_text(encoding="utf-8"))
            revisions.add(str(data.get("code_revision", "?")))
            torches.add(str(data.get("torch", "?")))
        else:
            missing += 1
        seconds = [float(r["seconds"]) for r in run.read_metrics() if r.get("kind") == "train" and "seconds" in r]
        if seconds:
            per_run.append(sum(seconds))
    if revisions:
        code = f"code revision {', '.join(sorted(revisions))} (torch {', '.join(sorted(torches))})"
        if missing:
            code += f"; {missing} runs without a provenance file"
    else:
        code = "code revision not recorded in the run folders (see results/README.md)"
    timing = (f"training time {_minutes(statistics.median(per_run))} per run (median), "
              f"{_minutes(sum(per_run))} in all" if per_run else "no training time recorded")
    return f"*Provenance of `{root.as_posix()}`: {len(runs)} runs; {code}; {timing}.*\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0, or 1 with one line on stderr when a root holds no finished run."""
    p = OneLineParser(prog="results_provenance.py", description=__doc__.split("\n")[0])
    p.add_argument("roots", nargs="+", type=Path, help="results roots")
    args = p.parse_args(argv)
    for root in args.roots:
        if not root.is_dir():
            p.error(f"ROOT {root}: not a folder")
    try:
        for root in args.roots:
            print(provenance_line(root), end="")
    except (OSError, ValueError) as err:
        print(f"results_provenance: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
