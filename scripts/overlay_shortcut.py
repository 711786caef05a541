"""Print (and save) how well the overlay's colour alone pairs two views, per expert augmentation policy.

::

    python scripts/overlay_shortcut.py --data-dir .data --out results/ladder-cpu/overlay_shortcut.json

``deep_experiments.overlay_shortcut``: for each policy of the augmentation ladder (crop-only to
SimCLR), two views of each of the first ``--batch`` test images of the CPU protocol's dataset
(C+Letters on Fashion-MNIST by default), the overlay's mean colour in each view, and the top-1
retrieval of the partner view by that colour among the batch (chance 1 / batch). A mean over
``--repeats`` batches of views (seeds 0, 1, ...). No encoder, no training: seconds on a CPU.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from deep_experiments.data import DataConfig, build_dataset
from deep_experiments.data.spec import LADDER_POLICIES
from deep_experiments.overlay_shortcut import overlay_colour_retrieval
from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, positive_int
from featuredrop.config import save_json

POLICIES = ("crop_only", *LADDER_POLICIES, "simclr")


def measure(data: DataConfig, policies: tuple[str, ...], batch: int, repeats: int) -> list[dict]:
    """One row per policy: the retrieval measurement averaged over ``repeats`` seeds of views."""
    dataset = build_dataset(data, "test", 0)
    rows = []
    for policy in policies:
        runs = [asdict(overlay_colour_retrieval(dataset, policy, batch, torch.Generator().manual_seed(seed)))
                for seed in range(repeats)]
        row = {"policy": policy, "batch": runs[0]["batch"], "repeats": repeats}
        for key in ("retrieval", "colour_distance_pair", "colour_distance_other", "visible"):
            row[key] = float(np.mean([r[key] for r in runs]))
        row["retrieval_std"] = float(np.std([r["retrieval"] for r in runs], ddof=1)) if repeats > 1 else 0.0
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| views | retrieval of the partner view by overlay colour | colour distance, same image | "
             "colour distance, other images | views showing the overlay |", "|---" * 5 + "|"]
    for r in rows:
        lines.append(f"| {r['policy']} | {r['retrieval']:.3f} ± {r['retrieval_std']:.3f} | "
                     f"{r['colour_distance_pair']:.3f} | {r['colour_distance_other']:.3f} | {r['visible']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 on success; 2 with a one-line reason on a bad option (before any data is read), 1 when the data
    is missing or bad."""
    p = OneLineParser(prog="overlay_shortcut.py", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="c+letters", choices=("c+letters", "c+shapes", "c+digits"))
    p.add_argument("--base-source", default="fashion-mnist", help="base images (default %(default)s; needs --data-dir)")
    p.add_argument("--data-dir", default=None, help="root of the real data (Fashion-MNIST)")
    p.add_argument("--test-size", type=positive_int, default=2000)
    p.add_argument("--batch", type=positive_int, default=256, help="images per retrieval (default: the protocol's batch)")
    p.add_argument("--repeats", type=positive_int, default=5, help="batches of views, seeds 0.. (default %(default)s)")
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--out", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    if args.batch < 2:
        p.error(f"--batch must be >= 2, got {args.batch}")
    if args.batch > args.test_size:
        p.error(f"--batch {args.batch} is larger than --test-size {args.test_size}")
    try:
        if args.out:
            if Path(args.out).is_dir():
                raise ValueError(f"--out {args.out}: is a folder; name the JSON file to write")
            check_output_dir(Path(args.out).parent, "--out")
        if args.data_dir is not None and not Path(args.data_dir).is_dir():
            raise ValueError(f"--data-dir {args.data_dir}: not a folder")
        data = DataConfig(dataset=args.dataset, base_source=args.base_source, data_dir=args.data_dir,
                          test_size=args.test_size)
    except ValueError as err:
        p.error(" ".join(str(err).split()))
    try:
        rows = measure(data, tuple(args.policies), args.batch, args.repeats)
    except (OSError, ValueError) as err:
        print(f"overlay_shortcut: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(table(rows))
    if args.out:
        command = shlex.join(["python", "scripts/overlay_shortcut.py", *(sys.argv[1:] if argv is None else argv)])
        save_json(args.out, {"command": command, "dataset": args.dataset, "base_source": args.base_source,
                             "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
