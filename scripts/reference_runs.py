"""Tiny reference runs that pin what the training code computes, so a change of behaviour cannot pass unseen.

::

    python scripts/reference_runs.py --check            # rerun them; exit 1 naming any number that moved
    python scripts/reference_runs.py --write            # record them anew (only for an intended change)

The deep tables compare runs made by one code revision. A later revision may be used beside them only
if it computes the same thing: these runs (the CPU protocol's recipe shrunk to seconds, on the offline
data: ConvN width 8, crop-only views, Adam with linear decay, 2 epochs of 64 images, probes with
their overlay controls and 2 test-overlay draws; one run per kind of view that the C+* tables use)
are recorded in ``tests/data/reference_runs.json`` with the revision that recorded them, and
``tests/deep/test_reference_runs.py`` reruns them. ``--check`` compares every training loss and
probe accuracy bit for bit (``--rtol 0``, on the machine kind the results were made on);
the test allows a relative 1e-6 so that a CPU of another kind does not fail it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.cli import OneLineParser, finite_float  # noqa: E402

RECORD = ROOT / "tests" / "data" / "reference_runs.json"
METHODS = ("expert", "dropout", "deshared", "viewmaker")
VIEWS: dict[str, dict[str, Any]] = {"viewmaker": {"viewmaker": {"num_res_blocks": 1, "width": 8}}}
"""Each method's own view settings on top of ``CONFIG`` (the viewmaker: the CPU preset's narrowed network)."""
CONFIG: dict[str, Any] = {
    "data": {"dataset": "c+letters", "train_size": 64, "test_size": 64, "augmentation": "crop_only"},
    "train": {"encoder": "convn", "width": 8, "out_dim": 16, "optimizer": "adam", "lr": 1e-3,
              "lr_schedule": "linear_decay", "weight_decay": 1e-4, "batch_size": 16, "epochs": 2,
              "temperature": 0.1, "probe_at": [0.5, 1.0]},
    "probe": {"paper": False, "fast_max_iter": 100, "test_overlay_draws": 2},
}


def run_all() -> dict[str, Any]:
    """Every reference run's numbers: per method the metric records (without times) and the final probe."""
    from deep_experiments.configs import build_config
    from deep_experiments.run.probe_run import probe_run
    from deep_experiments.run.train import train

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in METHODS:
            config = build_config(CONFIG, {"views": {"kind": method, **VIEWS.get(method, {})}, "train": {"seed": 3}})
            records = train(config, Path(tmp) / method, device="cpu", progress=False, argv=["reference_runs"])
            probe = probe_run(Path(tmp) / method, device="cpu", progress=False, argv=["reference_runs"])
            out[method] = {"metrics": [{k: v for k, v in r.items() if k != "seconds"} for r in records],
                           "probe": probe["fast"]}
    return out


def differences(recorded: Any, now: Any, rtol: float, path: str = "") -> list[str]:
    """Where ``now`` differs from ``recorded`` (numbers beyond ``rtol``; anything else at all)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        keys = sorted(set(recorded) | set(now))
        return [d for k in keys for d in differences(recorded.get(k), now.get(k), rtol, f"{path}.{k}" if path else k)]
    if isinstance(recorded, list) and isinstance(now, list) and len(recorded) == len(now):
        return [d for i, (a, b) in enumerate(zip(recorded, now)) for d in differences(a, b, rtol, f"{path}[{i}]")]
    numbers = (int, float)
    if isinstance(recorded, numbers) and isinstance(now, numbers) and not isinstance(recorded, bool):
        same = recorded == now if rtol == 0 else math.isclose(recorded, now, rel_tol=rtol, abs_tol=1e-12)
        return [] if same else [f"{path}: recorded {recorded!r}, now {now!r}"]
    return [] if recorded == now else [f"{path}: recorded {recorded!r}, now {now!r}"]


def _revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the runs match the record (or were written), 1 naming what moved."""
    p = OneLineParser(prog="reference_runs.py", description=__doc__.split("\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="rerun and compare with the record")
    mode.add_argument("--write", action="store_true", help="rerun and record (an intended change of behaviour)")
    p.add_argument("--rtol", type=finite_float, default=0.0, help="relative tolerance of --check (default 0: bit for bit)")
    args = p.parse_args(argv)
    if args.rtol < 0:
        p.error(f"--rtol must be >= 0, got {args.rtol}")
    if args.write and args.rtol:
        p.error("--rtol applies to --check only")
    from deep_experiments.run.perf import retain_freed_memory

    retain_freed_memory()  # as the deep CLI runs (the numbers must not depend on where memory comes from)
    now = run_all()
    if args.write:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps({"revision": _revision(), "config": CONFIG, "runs": now}, indent=1,
                                     sort_keys=True) + "\n")
        print(f"recorded {len(now)} reference runs in {RECORD.relative_to(ROOT)}")
        return 0
    if not RECORD.exists():
        print(f"reference_runs: no record at {RECORD} (run with --write)", file=sys.stderr)
        return 1
    recorded = json.loads(RECORD.read_text())
    moved = differences(recorded["runs"], now, args.rtol)
    for line in moved[:20]:
        print(line)
    print(f"{len(moved)} number(s) differ from the record of {recorded['revision']}" if moved
          else f"the reference runs reproduce the record of {recorded['revision']} (rtol {args.rtol:g})")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
