"""Do two run folders hold the same run? Training bit for bit, probes number by number.

::

    python scripts/compare_runs.py results/randbits-mnist-cpu/b5_t0.1_p0/seed0 runs/randbits-readout/b5_t0.1_p0/seed0

A table may put runs of two code revisions side by side only if the later revision computes what the
earlier one did. This script is that check for one pair of finished run folders (e.g. an old folder in
``results/`` and the same command rerun at the current revision): it compares every training record of
``metrics.jsonl`` (losses of every epoch; wall-clock ``seconds`` left out) exactly, then every fast-probe
number (the logged ones of ``metrics.jsonl`` and ``probe.json``'s final ``fast`` entry) and reports the
largest difference. What one run records and the other does not (the online head's records and loss, a
newer run's extra probe fields) is listed, not compared.

Prints one line per finding and a verdict. Exit 0: training identical and probes equal; 1: training
identical, probes differ (the verdict says by how much: a probe fitted by another library version can
move by a few test images); 2: a bad argument; 3: training differs.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.cli import OneLineParser  # noqa: E402

UNTIMED = ("seconds",)
"""Record keys that are measurements of the machine, not of the run."""
ONLY_ONE_SIDE = ("online_head_loss",)
"""Training-record keys written only when an option that does not change the encoder is on (``--online-head``)."""


def _records(folder: Path) -> list[dict[str, Any]]:
    path = folder / "metrics.jsonl"
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read ({err})") from err


def _numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """The numbers of a nested probe record, by dotted path (booleans and strings left out)."""
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, item in value.items():
            out.update(_numbers(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(_numbers(item, f"{prefix}[{i}]"))
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: float(value)}
    return {}


def compare(old: Path, new: Path) -> tuple[int, list[str]]:
    """The exit code (0, 1 or 3, see the module docstring) and the lines that explain it."""
    a, b = _records(old), _records(new)
    lines: list[str] = []
    train_a = [r for r in a if r.get("kind") == "train"]
    train_b = [r for r in b if r.get("kind") == "train"]
    if not train_a or len(train_a) != len(train_b):
        return 3, [f"training differs: {len(train_a)} training records against {len(train_b)}"]
    one_side = {f"{k} records" for k in {r.get("kind") for r in a} ^ {r.get("kind") for r in b}}
    for ra, rb in zip(train_a, train_b):
        keys = (set(ra) | set(rb)) - set(UNTIMED)
        for key in sorted(keys):
            if key in ONLY_ONE_SIDE and (key in ra) != (key in rb):
                one_side.add(key)
                continue
            if ra.get(key) != rb.get(key):
                return 3, [f"training differs at epoch {ra.get('epoch')}: {key} {ra.get(key)!r} against {rb.get(key)!r}"]
    lines.append(f"training identical: {len(train_a)} epochs, every loss bit for bit")
    probes_a = [r for r in a if r.get("kind") == "fast_probe"]
    probes_b = [r for r in b if r.get("kind") == "fast_probe"]
    pairs = list(zip(probes_a, probes_b))
    try:
        final_a = json.loads((old / "probe.json").read_text())["fast"]
        final_b = json.loads((new / "probe.json").read_text())["fast"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"cannot read the final fast probe of {old} or {new} ({err})") from err
    pairs.append((final_a, final_b))
    largest, where, compared = 0.0, "", 0
    for pa, pb in pairs:
        na, nb = _numbers(pa), _numbers(pb)
        one_side |= set(na) ^ set(nb)
        for key in sorted(set(na) & set(nb) - {"epoch"}):
            compared += 1
            diff = abs(na[key] - nb[key]) if not (math.isnan(na[key]) and math.isnan(nb[key])) else 0.0
            if diff > largest:
                largest, where = diff, f"{key} {na[key]:g} against {nb[key]:g}"
    if one_side:
        names = sorted({re.sub(r"\[\d+\]", "[]", name) for name in one_side})  # one name per list
        lines.append(f"recorded by one run only (not compared): {', '.join(names)}")
    if largest == 0:
        lines.append(f"probes identical: {compared} numbers of {len(pairs)} fast probes")
        return 0, lines
    lines.append(f"probes differ: largest difference {largest:.4g} ({where}) over {compared} numbers of "
                 f"{len(pairs)} fast probes")
    return 1, lines


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit code of :func:`compare`, or 2 on a bad argument."""
    p = OneLineParser(prog="compare_runs.py", description=__doc__.split("\n")[0])
    p.add_argument("old", type=Path, help="a finished run folder (e.g. under results/)")
    p.add_argument("new", type=Path, help="the same command's run folder made by another revision")
    args = p.parse_args(argv)
    for name, folder in (("OLD", args.old), ("NEW", args.new)):
        if not (folder / "probe.json").is_file():
            p.error(f"{name} {folder}: not a finished run folder (no probe.json)")
    try:
        code, lines = compare(args.old, args.new)
    except ValueError as err:
        p.error(str(err))
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
