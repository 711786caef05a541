"""What a benchmark writes with ``--json FILE``: the machine, the command, the rows and its speed targets.

Every benchmark of ``make bench`` takes ``--json FILE`` (:func:`add_json_option`); the path is checked
before anything is timed (:func:`check_json_path`: one line, exit 2), and the record is written
atomically at the end (:func:`write`). A record is a JSON object::

    {"benchmark": "bench_closed_form", "command": "python benchmarks/bench_closed_form.py ...",
     "date_utc": "2026-12-07T20:10:00Z",
     "machine": {"cpu": ..., "cores": 2, "torch": ..., "threads": 1, "omp_num_threads": "1",
                 "load_avg_1min": {"start": 2.1, "end": 2.4}},
     "rows": [...what it printed...],
     "speed_targets": [{"name": ..., "target": "< 2 s", "bound": "max", "value": 2.0, "unit": "s",
                        "measured": 0.034, "met": true, "note": ""}]}

``met`` is null (and ``note`` says why) when the run did not measure the target: other settings than
the target's, or another device. ``scripts/bench_table.py`` prints these records as the README's table.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from featuredrop.atomic import atomic_write, check_output_dir  # noqa: E402

BOUNDS = {"max": "<", "min": ">="}
"""A target's bound: the measured value must stay below (``max``) or reach (``min``) its value."""


@dataclass(frozen=True)
class SpeedTarget:
    """One speed target a benchmark's docstring states, and what this run measured of it."""

    name: str
    bound: str
    value: float
    unit: str
    measured: float | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the fields, the target as text and whether it is met (null: not measured)."""
        if self.bound not in BOUNDS:
            raise ValueError(f"bound must be one of {sorted(BOUNDS)}, got {self.bound!r}")
        measured = self.measured if self.measured is not None and math.isfinite(self.measured) else None
        met = None if measured is None else (measured < self.value if self.bound == "max" else measured >= self.value)
        value = f"{self.value}x" if self.unit == "x" else f"{self.value:g} {self.unit}"  # 1.0x, 300 s
        return {**asdict(self), "measured": measured, "met": met, "target": f"{BOUNDS[self.bound]} {value}"}


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``: also write the record there (atomically)."""
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the machine, command, rows and speed targets to this JSON file (atomically)")


def check_json_path(parser: argparse.ArgumentParser, path: str | None) -> None:
    """Refuse (one line, exit 2) a ``--json`` that is a folder or whose folder cannot be made; before any timing."""
    if path is None:
        return
    try:
        if Path(path).is_dir():
            raise ValueError(f"--json {path}: is a folder; name the JSON file to write")
        check_output_dir(Path(path).parent, "--json")
    except ValueError as err:
        parser.error(str(err))


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


@dataclass(frozen=True)
class Start:
    """What is known when a benchmark starts timing: its name, command, date and load."""

    benchmark: str
    command: str
    date_utc: str
    load_start: float | None


def begin(script: str, argv: list[str] | None) -> Start:
    """Take the start of a record: ``script`` is the benchmark's ``__file__``, ``argv`` its arguments (None: sys.argv)."""
    args = sys.argv[1:] if argv is None else list(argv)
    name = Path(script).stem
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Start(name, shlex.join(["python", f"benchmarks/{name}.py", *args]), date, _load())


def finish(begun: Start, rows: list[dict[str, Any]], targets: list[SpeedTarget], **extra: Any) -> dict[str, Any]:
    """The record of a finished benchmark (the load read now is the end load)."""
    import torch

    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
               "torch": torch.__version__, "threads": torch.get_num_threads(),
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
               "load_avg_1min": {"start": begun.load_start, "end": _load()}}
    return {"benchmark": begun.benchmark, "command": begun.command, "date_utc": begun.date_utc, "machine": machine,
            "rows": rows, "speed_targets": [t.as_dict() for t in targets], **extra}


def write(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically, making its folder (checked by :func:`check_json_path`)."""
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
