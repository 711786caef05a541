"""Write a figure and the numbers it plots: ``NAME.png``, ``NAME.pdf``, ``NAME.csv``, ``NAME.json``.

The CSV holds the table (one row per plotted number); the JSON holds the same table plus its
provenance (command line, resolved config, library versions), so every number in the paper can be
traced to the code and the settings that produced it. Rerunning on the same machine rewrites the
four files byte for byte: floats are rounded to :data:`DIGITS` significant digits, and the run
stamps that change on every run (git revision, UTC time) go to ``OUT/stamps.json`` (git-ignored)
instead. Every file is written atomically (:mod:`featuredrop.atomic`).

:func:`read_runs` is how figures read run folders: a run whose files cannot be read is skipped
with one warning line on stderr naming the file, and the figure is drawn from the rest.

A table is either a list of dict rows (columns may differ between rows: the CSV takes their union
and leaves missing cells empty) or a dict of equal-shape arrays (one column per key, flattened).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import math
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from featuredrop.atomic import atomic_open, atomic_write
from featuredrop.config import to_dict

__all__ = ["Table", "table_rows", "git_revision", "provenance", "run_stamps", "to_jsonable", "save_figure",
           "load_table", "read_runs", "read_json", "UnreadableRun", "FORMATS", "DIGITS"]

T = TypeVar("T")
R = TypeVar("R")

#: Significant digits of every float in a figure's CSV and JSON (the last digits of a recomputed
#: number vary between runs: thread scheduling, BLAS; rounding keeps reruns byte-identical).
DIGITS = 8

Table = Sequence[Mapping[str, Any]] | Mapping[str, Any]

#: The files written per figure, by extension.
FORMATS = ("png", "pdf", "csv", "json")

_REPO_ROOT = Path(__file__).resolve().parent.parent


def table_rows(table: Table) -> list[dict[str, Any]]:
    """Normalize a table to a list of dict rows.

    Raises:
        ValueError: for a dict of arrays whose shapes differ, or an empty table.
    """
    if isinstance(table, Mapping):
        arrays = {k: np.asarray(v) for k, v in table.items()}
        shapes = {k: a.shape for k, a in arrays.items()}
        if not arrays or len(set(shapes.values())) != 1:
            raise ValueError(f"a dict table needs arrays of one common shape, got {shapes}")
        flat = {k: a.ravel() for k, a in arrays.items()}
        n = next(iter(flat.values())).size
        return [{k: _scalar(v[i]) for k, v in flat.items()} for i in range(n)]
    rows = [dict(row) for row in table]
    if not rows:
        raise ValueError("the table is empty: a figure must return the numbers it plots")
    return rows


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_jsonable(obj: Any) -> Any:
    """Convert numpy values, paths, tuples and dataclasses to strict JSON (NaN/inf become ``None``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(to_dict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return _round(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def git_revision(cwd: Path = _REPO_ROOT) -> str:
    """``git rev-parse HEAD`` of the checkout holding this package, or ``"unknown"``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    rev = out.stdout.strip()
    return rev if rev else "unknown"


def _round(value: float) -> float:
    """``value`` to :data:`DIGITS` significant digits."""
    return float(f"{value:.{DIGITS}g}")


def run_stamps() -> dict[str, str]:
    """What changes on every run and so stays out of the tracked files: git revision and UTC time."""
    return {"git_revision": git_revision(),
            "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def provenance(command: str, config: Any) -> dict[str, Any]:
    """What produced a figure: command line, resolved config, versions (stable on one machine)."""
    import scipy

    return {
        "command": command,
        "config": to_jsonable(config),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _csv_cell(value: Any) -> Any:
    value = _scalar(value)
    if isinstance(value, float):
        return f"{value:.{DIGITS}g}"
    return value


def save_figure(fig: Figure, table: Table, out_dir: str | Path, name: str, *, command: str = "",
                config: Any = None) -> dict[str, Path]:
    """Write ``out_dir/name.{png,pdf,csv,json}``; returns the paths by extension.

    The JSON is ``{"name", "provenance", "columns", "rows"}`` with each row a list aligned with
    ``columns`` (one line per row: compact and diff-friendly); the CSV has the same rows.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = table_rows(table)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    paths = {ext: out / f"{name}.{ext}" for ext in FORMATS}
    with atomic_open(paths["png"], "wb") as fh:
        fig.savefig(fh, format="png", dpi=200, bbox_inches="tight", pad_inches=0.02)
    with atomic_open(paths["pdf"], "wb") as fh:
        fig.savefig(fh, format="pdf", bbox_inches="tight", pad_inches=0.02, metadata={"CreationDate": None})
    with atomic_open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    head = {"name": name, "provenance": provenance(command, config), "columns": columns}
    body = ",\n".join(json.dumps(to_jsonable([row.get(c) for c in columns]), allow_nan=False) for row in rows)
    text = json.dumps(head, indent=1, allow_nan=False)
    atomic_write(paths["json"], text[:-2] + ',\n "rows": [\n' + body + "\n ]\n}\n")
    _record_stamps(out / "stamps.json", name)
    return paths


def _record_stamps(path: Path, name: str) -> None:
    """Add ``name``'s :func:`run_stamps` to ``path`` (one JSON object by figure name; git-ignored)."""
    try:
        stamps = json.loads(path.read_text())
        stamps = stamps if isinstance(stamps, dict) else {}
    except (OSError, ValueError):
        stamps = {}
    stamps[name] = run_stamps()
    atomic_write(path, json.dumps(stamps, indent=1, sort_keys=True) + "\n")


_WARNED: set[str] = set()


class UnreadableRun(ValueError):
    """A run folder whose files cannot be read, raised by :func:`read_runs` with ``strict``."""


def read_runs(folders: Iterable[R], read: Callable[[R], T | None], *, strict: bool = False) -> list[T]:
    """``read(folder)`` of every folder, skipping (with a warning) the ones whose files are bad.

    A run whose ``config.json`` or ``probe.json`` is truncated, corrupt or lacks what the figure
    reads is left out with one line on stderr naming it (once per process); ``None`` results
    (runs the figure does not show) are dropped silently. With ``strict`` (tables of record, where
    a left-out seed would change the numbers silently) such a run raises :class:`UnreadableRun` instead.
    """
    runs = []
    for folder in folders:
        try:
            run = read(folder)
        except (ValueError, KeyError, TypeError) as err:
            where = getattr(folder, "root", folder)
            text = str(err) if isinstance(err, ValueError) else f"{type(err).__name__} {err}"
            if strict:
                raise UnreadableRun(f"unreadable run {where}: {text}") from None
            message = f"warning: skipped run {where}: {text}"
            if message not in _WARNED:
                _WARNED.add(message)
                print(" ".join(message.split()), file=sys.stderr, flush=True)
            continue
        if run is not None:
            runs.append(run)
    return runs


def read_json(path: str | Path) -> Any:
    """The JSON in ``path``; a ``ValueError`` naming the file when it is truncated, corrupt or not UTF-8 (the
    figure that reads it then fails in one line that says which file, and the others are drawn)."""
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: not valid JSON, truncated or corrupt ({err})") from None


def load_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a figure's JSON as dicts (``None`` where the number was NaN or the cell was empty)."""
    record = json.loads(Path(path).read_text())
    return [dict(zip(record["columns"], row)) for row in record["rows"]]
