"""Print the RandBits-MNIST results as markdown tables (the documentation's RandBits page embeds them).

::

    python scripts/randbits_table.py results/randbits-mnist-cpu
    python scripts/randbits_table.py results/randbits-readout-cpu results/randbits-mnist-cpu   # several roots
    python scripts/randbits_table.py results/randbits-mnist-cpu --losses results/randbits-loss-cpu

The first form prints one row per (bits, temperature, bit-dropout p) cell of the NT-Xent runs under
ROOT (``paper_figures.randbits.find_randbits_runs``; with several roots each cell comes whole from the
first that has it, as in figure 8; runs of two recipes or a seed twice in a cell are refused): the digit accuracy of the fast probe (logistic
regression on clean representations after pretraining) and of the colab's own read-out (a linear head
trained online on view-1 representations during pretraining; runs made with ``--online-head``), and the
fast probe's per-bit accuracy, each the mean over the cell's seeds with its 95 % t interval when there
are several, beside the colab's saved digit accuracy (``paper_figures.randbits.COLAB_TABLE``; a
published reference, not our measurement).

``--recipes`` prints one row per (root, bits) instead, expert views at each root's temperatures: the same
cells under different recipes side by side (this package's, the colab's options one at a time, all of
them), each root one recipe (its name from the runs' configs), with both read-outs and the colab's value.

``--losses LOSSROOT`` prints the loss-family comparison instead: NT-Xent at each temperature it was
run at (ROOT, and LOSSROOT for other temperatures) and every other loss found under LOSSROOT
(``LOSSROOT/<loss>/b<bits>_t<tau>_p<p>/seed<k>/``), one row per (loss, temperature), columns b = 0,
b = 5 and b = 5 with the bits dropped at p = 0.5, so that losses can be compared at equal temperature.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from deep_experiments.run.folder import find_runs
from featuredrop.cli import OneLineParser
from paper_figures.randbits import COLAB_TABLE, find_randbits_runs
from paper_figures.registry import MissingResults
from paper_figures.stats import interval_text, paired_t

LOSS_NAMES = {"nt_xent": "NT-Xent", "decoupled": "decoupled NT-Xent", "swd": "SWD, uniform sphere"}


def _cell(values: list[float | None]) -> str:
    """Mean over seeds, with the 95 % t interval of the mean when there are several; ``—`` when none."""
    have = [v for v in values if v is not None]
    if not have:
        return "—"
    if len(have) == 1:  # the table's seeds column says it is one
        return f"{have[0]:.3f}"
    t = paired_t(have)
    return interval_text(t.mean, t.low, t.high, t.n)


def _g(x: float) -> str:
    return f"{x:g}"


def cells_table(roots: Path | list[Path]) -> str:
    """One row per (bits, temperature, p) cell of the NT-Xent runs under ``roots`` (the first root with a cell)."""
    groups: dict[tuple[float, float, int], list] = defaultdict(list)
    for run in find_randbits_runs(roots):
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


def recipes_table(roots: list[Path]) -> str:
    """One row per (root, bits, temperature) of expert views: the root's recipe, seeds, both read-outs, the colab's."""
    lines = ["| recipe | bits b | τ | seeds | digit accuracy, fast probe (ours) | digit accuracy, online head (ours) "
             "| colab's digit accuracy (online head) |", "|---|---|---|---|---|---|---|"]
    for root in roots:
        groups: dict[tuple[int, float], list] = defaultdict(list)
        for run in find_randbits_runs(root):
            if run.dropout_p == 0:
                groups[(run.bits, run.temperature)].append(run)
        for (bits, tau), runs in sorted(groups.items()):
            colab = COLAB_TABLE.get((bits, tau))
            lines.append(f"| {runs[0].recipe} | {bits} | {_g(tau)} | {','.join(str(r.seed) for r in runs)} "
                         f"| {_cell([r.digits for r in runs])} | {_cell([r.online_digits for r in runs])} "
                         f"| {f'{colab:.3f}' if colab is not None else '—'} |")
    return "\n".join(lines) + "\n"


def losses_table(root: Path | list[Path], loss_root: Path) -> str:
    """Digit accuracy per (loss, temperature) at b = 0, b = 5 and b = 5 with the bits dropped at p = 0.5.

    NT-Xent runs come from ``root`` and ``loss_root`` alike (``loss_root`` holds the ones at another
    temperature, e.g. τ = 1 to match the decoupled loss); a seed of one cell found twice is an error.
    Each cell is the mean over seeds with its 95 % t interval and n when there are several.
    """
    cells: dict[tuple[str, float], dict[tuple[int, float], dict[int, float]]] = defaultdict(lambda: defaultdict(dict))

    def add(loss: str, tau: float, bits: int, p: float, seed: int, digits: float, where: Path) -> None:
        cell = cells[(loss, tau)][(bits, p)]
        if seed in cell:
            raise ValueError(f"{where}: a second run of {LOSS_NAMES.get(loss, loss)} τ = {tau:g}, b = {bits}, "
                             f"p = {p:g}, seed {seed}")
        cell[seed] = digits

    for run in find_randbits_runs(root):
        add("nt_xent", run.temperature, run.bits, run.dropout_p, run.seed, run.digits, run.folder)
    for folder in find_runs(loss_root):
        cfg = folder.load_config()
        if cfg.data.dataset != "randbit" or cfg.views.kind not in ("expert", "dropout"):
            continue
        p = cfg.views.dropout.p if cfg.views.kind == "dropout" else 0.0
        add(cfg.train.loss, cfg.train.temperature, cfg.data.randbit_bits, p, cfg.train.seed,
            float(folder.read_probe()["fast"]["task_a"]), folder.root)
    if not any(loss != "nt_xent" for loss, _ in cells):
        raise MissingResults(loss_root / "<loss>/b<bits>_t<tau>_p<p>/seed<k>/probe.json",
                             "scripts/randbits_colab.py --loss decoupled|swd")
    order = list(LOSS_NAMES)
    lines = ["| loss | τ | b = 0 | b = 5 bits | b = 5, bits dropped p = 0.5 |", "|---|---|---|---|---|"]
    for (loss, tau), by_cell in sorted(cells.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        row = []
        for c in ((0, 0.0), (5, 0.0), (5, 0.5)):
            values = list(by_cell[c].values()) if by_cell.get(c) else []
            row.append("–" if not values else _cell(values) + (f" (n = {len(values)})" if len(values) > 1 else ""))
        lines.append(f"| {LOSS_NAMES.get(loss, loss)} | {_g(tau)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0, or 1 with one line on stderr when the runs are missing."""
    p = OneLineParser(prog="randbits_table.py", description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path, nargs="+",
                   help="the NT-Xent RandBits-MNIST runs (ROOT/b<bits>_t<tau>_p<p>/seed<k>); with several, each cell "
                        "from the first that has it")
    p.add_argument("--losses", type=Path, metavar="LOSSROOT", help="print the loss-family table instead")
    p.add_argument("--recipes", action="store_true", help="one row per root and cell: recipes side by side")
    args = p.parse_args(argv)
    for flag, root in (*(("ROOT", r) for r in args.root), ("--losses", args.losses)):
        if root is not None and not root.is_dir():
            p.error(f"{flag} {root}: not a folder")
    try:
        if args.losses and args.recipes:
            p.error("--losses and --recipes print different tables; give one")
        if args.losses:
            print(losses_table(args.root, args.losses), end="")
        else:
            print(recipes_table(args.root) if args.recipes else cells_table(args.root), end="")
    except MissingResults as err:
        print(f"randbits_table: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a cell's seed twice: the table would average it twice
        print(f"randbits_table: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
