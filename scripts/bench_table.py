"""Print the speed targets of recorded benchmark runs as one markdown table (the README's "Speed" table).

::

    make bench BENCH_JSON=results/bench       # each benchmark writes ROOT/<benchmark>.json
    python scripts/bench_table.py results/bench

Reads every ``ROOT/*.json`` written by a benchmark's ``--json`` (``benchmarks/record.py``) and prints one
row per speed target, in the order the benchmarks ran: the benchmark and target, the target, the measured
value, whether it is met ("not measured" with the reason when the run had other settings than the
target's), the threads, the 1-minute load average at the benchmark's start and end, and the UTC date. A
benchmark that states no target gets one row saying so. One line under the table names the machine.
Exit 1 with one line when ROOT holds no JSON; 2 when ROOT is not a folder or a file is not such a record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from featuredrop.cli import OneLineParser


class BadRecord(ValueError):
    """A JSON file under ROOT that is not a benchmark record."""


def _number(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


def read_records(root: Path) -> list[dict[str, Any]]:
    """Every record under ``root``, in the order the benchmarks started; raises BadRecord naming a bad file."""
    records = []
    for path in sorted(root.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            machine = data["machine"]
            load = machine["load_avg_1min"]
            records.append({"file": path.name, "benchmark": str(data["benchmark"]), "date": str(data["date_utc"]),
                            "threads": int(machine["threads"]), "cpu": str(machine["cpu"]),
                            "cores": int(machine["cores"]), "torch": str(machine["torch"]),
                            "load": (_number(load["start"]), _number(load["end"])),
                            "targets": [{"name": str(t["name"]), "target": str(t["target"]), "unit": str(t["unit"]),
                                         "measured": _number(t["measured"]), "met": t["met"],
                                         "note": str(t.get("note", ""))} for t in data["speed_targets"]]})
            if any(t["met"] not in (True, False, None) for t in records[-1]["targets"]):
                raise ValueError("'met' must be true, false or null")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise BadRecord(f"{path}: not a benchmark record ({type(err).__name__}: {err})") from None
    return sorted(records, key=lambda r: (r["date"], r["file"]))


def _measured(target: dict[str, Any]) -> str:
    value = target["measured"]
    if value is None:
        return "—"
    return f"{value:.3f}x" if target["unit"] == "x" else f"{value:.3g} {target['unit']}"


def _met(target: dict[str, Any]) -> str:
    if target["met"] is None:
        return f"not measured ({target['note']})" if target["note"] else "not measured"
    return "yes" if target["met"] else "**no**"


def _load(load: tuple[float | None, float | None]) -> str:
    return " → ".join("?" if x is None else f"{x:.1f}" for x in load)


def table(records: list[dict[str, Any]]) -> str:
    """The markdown table and the machine line."""
    lines = ["| benchmark | target | measured | met? | threads | load | date |", "|---|---|---|---|---|---|---|"]
    for rec in records:
        common = f"{rec['threads']} | {_load(rec['load'])} | {rec['date'][:10]} |"
        bench = f"`{rec['benchmark']}`"
        if not rec["targets"]:
            lines.append(f"| {bench}: states no speed target | — | — | — | {common}")
        for t in rec["targets"]:
            lines.append(f"| {bench}: {t['name']} | {t['target']} | {_measured(t)} | {_met(t)} | {common}")
    machines = sorted({f"{r['cpu']}, {r['cores']} cores, torch {r['torch']}" for r in records})
    lines += ["", f"Machine: {'; '.join(machines)}. Load: the 1-minute load average at the benchmark's start → end."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints the table; 1 when ROOT holds no JSON, 2 for a bad ROOT or a file that is no record."""
    p = OneLineParser(prog="bench_table.py", description=__doc__.split("\n")[0])
    p.add_argument("root", help="folder of the benchmarks' JSON records (make bench BENCH_JSON=ROOT)")
    args = p.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        p.error(f"ROOT {args.root}: not a folder")
    try:
        records = read_records(root)
    except BadRecord as err:
        print(f"bench_table: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    if not records:
        print(f"bench_table: {args.root}: no benchmark JSON (make bench BENCH_JSON={args.root})", file=sys.stderr)
        return 1
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
