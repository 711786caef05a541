"""Do two run folders hold the same run? Training bit for bit, probes number by number.

::

    python scripts/compare_runs.py results/randbits-mnist-cpu/b5_t0.1_p0/seed0 runs/randbits-readout/b5_t0.1_p0/seed0

A table may put runs of two code revisions side by side only if the later revision computes what the
earlier one did. This script is that check for one pair of finished run folders (e.g. an old folder in
``results/`` and the same command rerun at the current revision): it compares every training record of
``metrics.jsonl`` (losses of every epoch; wall-clock ``seconds`` left out) exactly, then every fast-probe
number, epoch by epoch (the fast probes and any other records both runs logged, e.g. the online head's,
and ``probe.json``'s final ``fast`` entry) and reports the largest difference (a NaN against a number is
an infinite one). What one run records and the other does not (the online head when only one ran it,
a newer run's extra probe fields) is listed, not compared; records at different epochs, or with no
number in common, are a difference.

Prints one line per finding and a verdict. Exit 0: training identical and probes equal; 1: training
identical, probes differ (the verdict says by how much: a probe fitted by another library version can
move by a few test images); 2: a bad argument; 3: training differs.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deep_experiments.run.folder import RunFolder  # noqa: E402
from featuredrop.cli import OneLineParser  # noqa: E402

UNTIMED = ("seconds",)
"""Record keys that are measurements of the machine, not of the run."""
ONLY_ONE_SIDE = ("online_head_loss",)
"""Training-record keys written only when an option that does not change the encoder is on (``--online-head``)."""


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


def _by_epoch(records: list[dict[str, Any]], kind: str) -> dict[Any, dict[str, Any]]:
    return {r.get("epoch"): r for r in records if r.get("kind") == kind}


def _difference(a: float, b: float) -> float:
    """``|a - b|``; 0 for two NaNs, infinite for one."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def compare(old: Path, new: Path) -> tuple[int, list[str]]:
    """The exit code (0, 1 or 3, see the module docstring) and the lines that explain it."""
    a, b = RunFolder(old).read_metrics(), RunFolder(new).read_metrics()
    train_a, train_b = _by_epoch(a, "train"), _by_epoch(b, "train")
    if not train_a or train_a.keys() != train_b.keys():
        return 3, [f"training differs: epochs {sorted(train_a)} against {sorted(train_b)}"]
    one_side = {f"{k} records" for k in {r.get("kind") for r in a} ^ {r.get("kind") for r in b}}
    for epoch in sorted(train_a):
        ra, rb = train_a[epoch], train_b[epoch]
        for key in sorted((set(ra) | set(rb)) - set(UNTIMED)):
            if key in ONLY_ONE_SIDE and (key in ra) != (key in rb):
                one_side.add(key)
                continue
            if ra.get(key) != rb.get(key):
                return 3, [f"training differs at epoch {epoch}: {key} {ra.get(key)!r} against {rb.get(key)!r}"]
    lines = [f"training identical: {len(train_a)} epochs, every loss bit for bit"]
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for kind in sorted({r.get("kind") for r in a} & {r.get("kind") for r in b} - {"train"}):
        ka, kb = _by_epoch(a, kind), _by_epoch(b, kind)
        if ka.keys() != kb.keys():
            return 1, [*lines, f"probes differ: {kind} records at epochs {sorted(ka)} against {sorted(kb)}"]
        pairs += [(f"{kind} epoch {e}", ka[e], kb[e]) for e in sorted(ka)]
    pairs.append(("probe.json fast", RunFolder(old).read_probe()["fast"], RunFolder(new).read_probe()["fast"]))
    largest, where, compared, empty = 0.0, "", 0, []
    for name, pa, pb in pairs:
        na, nb = _numbers(pa), _numbers(pb)
        one_side |= {f"{name.split(' epoch')[0]}: {k}" for k in set(na) ^ set(nb)}
        common = sorted(set(na) & set(nb) - {"epoch"})
        if not common:
            empty.append(name)
        for key in common:
            compared += 1
            diff = _difference(na[key], nb[key])
            if diff > largest:
                largest, where = diff, f"{name}, {key}: {na[key]:g} against {nb[key]:g}"
    if one_side:
        names = sorted({re.sub(r"\[\d+\]", "[]", name) for name in one_side})  # one name per list
        lines.append(f"recorded by one run only (not compared): {', '.join(names)}")
    if empty:
        return 1, [*lines, f"probes not comparable: no number in common in {', '.join(empty)}"]
    if largest == 0:
        return 0, [*lines, f"probes identical: {compared} numbers of {len(pairs)} records"]
    return 1, [*lines, f"probes differ: largest difference {largest:.4g} ({where}) over {compared} numbers of "
                       f"{len(pairs)} records"]


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
    except (OSError, ValueError) as err:
        p.error(str(err))
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
