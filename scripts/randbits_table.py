"""Print the RandBits-MNIST results as markdown tables (the documentation's RandBits page embeds them).

::

    python scripts/randbits_table.py results/randbits-mnist-cpu
    python scripts/randbits_table.py results/randbits-mnist-cpu --losses results/randbits-loss-cpu

The first form prints one row per (bits, temperature, bit-dropout p) cell of the NT-Xent runs under
ROOT (``paper_figures.randbits.find_randbits_runs``): the digit accuracy of the fast probe (logistic
regression on clean representations after pretraining) and of the colab's own read-out (a linear head
trained online on view-1 representations during pretraining; runs made with ``--online-head``), and the
fast probe's per-bit accuracy, each the mean over the cell's seeds with its 95 % t interval when there
are several, beside the colab's saved digit accuracy (``paper_figures.randbits.COLAB_TABLE``; a
published reference, not our measurement).

``--losses LOSSROOT`` prints the loss-family comparison instead: NT-Xent at each temperature it was
run at (ROOT) and every other loss found under LOSSROOT (``LOSSROOT/<loss>/b<bits>_t<tau>_p<p>/seed<k>/``),
one row per (loss, temperature), columns b = 0, b = 5 and b = 5 with the bits dropped at p = 0.5.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from deep_experiments.run.folder import find_runs
from featuredrop.cli import OneLineParser
from paper_figures.randbits import COLAB_TABLE, find_randbits_runs
from paper_figures.registry import MissingResults
from paper_figures.stats import paired_t

LOSS_NAMES = {"nt_xent": "NT-Xent", "decoupled": "decoupled NT-Xent", "swd": "SWD, uniform sphere"}


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.3f}"


def _cell(values: list[float | None]) -> str:
    """Mean over seeds, with the 95 % t interval of the mean when there are several; ``—`` when none."""
    have = [v for v in values if v is not None]
    if not have:
        return "—"
    if len(have) == 1:
        return f"{have[0]:.3f}"
    t = paired_t(have)
    return f"{t.mean:.3f} [{t.low:.3f}, {t.high:.3f}]"


def _g(x: float) -> str:
    return f"{x:g}"


def cells_table(root: Path) -> str:
    """One row per (bits, temperature, p) cell of the NT-Xent runs under ``root``."""
    groups: dict[tuple[float, float, int], list] = defaultdict(list)
    for run in find_randbits_runs(root):
        groups[(run.temperature, run.dropout_p, run.bits)].append(run)
    lines = ["| bits b | τ | bit dropout p | seeds | digit accuracy, fast probe (ours) "
             "| digit accuracy, online head (ours) | per-bit accuracy, fast probe (ours) "
             "| colab's digit accuracy (online head) |", "|---|---|---|---|---|---|---|---|"]
    for (tau, p, bits), runs in sorted(groups.items()):
        colab = COLAB_TABLE.get((bits, tau)) if p == 0 else None
        online = [r for r in runs if r.online_digits is not None]
        seeds = ",".join(str(r.seed) for r in runs)
        if online and len(online) < len(runs):
            seeds += f" (online head: {','.join(str(r.seed) for r in online)})"
        lines.append(f"| {bits} | {_g(tau)} | {_g(p)} | {seeds} | {_cell([r.digits for r in runs])} "
                     f"| {_cell([r.online_digits for r in runs])} | {_cell([r.bits_accuracy for r in runs])} "
                     f"| {f'{colab:.3f}' if colab is not None else '—'} |")
    return "\n".join(lines) + "\n"


def losses_table(root: Path, loss_root: Path) -> str:
    """Digit accuracy per (loss, temperature) at b = 0, b = 5 and b = 5 with the bits dropped at p = 0.5."""
    cells: dict[tuple[str, float], dict[tuple[int, float], list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in find_randbits_runs(root):
        cells[("nt_xent", run.temperature)][(run.bits, run.dropout_p)].append(run.digits)
    for folder in find_runs(loss_root):
        cfg = folder.load_config()
        if cfg.data.dataset != "randbit" or cfg.train.loss == "nt_xent":
            continue
        p = cfg.views.dropout.p if cfg.views.kind == "dropout" else 0.0
        digits = float(folder.read_probe()["fast"]["task_a"])
        cells[(cfg.train.loss, cfg.train.temperature)][(cfg.data.randbit_bits, p)].append(digits)
    if not any(loss != "nt_xent" for loss, _ in cells):
        raise MissingResults(loss_root / "<loss>/b<bits>_t<tau>_p<p>/seed<k>/probe.json",
                             "scripts/randbits_colab.py --loss decoupled|swd")
    order = list(LOSS_NAMES)
    lines = ["| loss | τ | b = 0 | b = 5 bits | b = 5, bits dropped p = 0.5 |", "|---|---|---|---|---|"]
    for (loss, tau), by_cell in sorted(cells.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        row = [(_mean(by_cell[c]) if by_cell.get(c) else "–") for c in ((0, 0.0), (5, 0.0), (5, 0.5))]
        lines.append(f"| {LOSS_NAMES.get(loss, loss)} | {_g(tau)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0, or 1 with one line on stderr when the runs are missing."""
    p = OneLineParser(prog="randbits_table.py", description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path, help="the NT-Xent RandBits-MNIST runs (ROOT/b<bits>_t<tau>_p<p>/seed<k>)")
    p.add_argument("--losses", type=Path, metavar="LOSSROOT", help="print the loss-family table instead")
    args = p.parse_args(argv)
    for flag, root in (("ROOT", args.root), ("--losses", args.losses)):
        if root is not None and not root.is_dir():
            p.error(f"{flag} {root}: not a folder")
    try:
        print(losses_table(args.root, args.losses) if args.losses else cells_table(args.root), end="")
    except MissingResults as err:
        print(f"randbits_table: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
