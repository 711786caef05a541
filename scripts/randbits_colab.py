"""The RandBits-MNIST experiment of Chen et al. 2021's colab, with and without feature dropout of the bits.

::

    python scripts/fetch_mnist_offline.py --data-dir .data
    OMP_NUM_THREADS=1 python scripts/randbits_colab.py --data-dir .data --out runs/randbits [--jobs 2]
    python -m paper_figures --out figures --results runs/randbits --only randbits

Every run is ``python -m deep_experiments run --preset randbits-colab`` (real MNIST, ConvN, the
colab's two-way cross-view loss, Adam 1e-3 decayed linearly to 0, batch 1000, 10 epochs = 600
steps; the colab's recipe, ``paper_figures.randbits.COLAB_SOURCE``) into ``OUT/b<bits>_t<tau>_p<p>/seed<k>/``:

- the colab's table: bits ``b`` x temperature ``tau`` (``--bits``, ``--temperatures``), expert views;
- feature dropout of the bits (``--dropouts``, at each of ``--dropout-bits`` and ``--dropout-temperature``):
  each view independently replaces the bit planes by 0.5 with probability ``p``.

Runs go in priority order (the fewest, the dropout and the most bits at temperature 0.1, the
dropout runs, the other bits, then the other temperatures, bits nearest the first ``--dropout-bits``
first) so a stopped grid has the most useful part; started again, finished runs are skipped
and an interrupted one resumes. Prints each run's digit (task A) and bit accuracy as it ends.
``--loss decoupled|swd`` trains the same grid with a generalized loss of Chen et al. 2021 (``--temperature``
stays the grid's; give each loss its own ``--out``: figure 8 reads NT-Xent runs only). ``--online-head`` adds
the colab's own read-out to every run (a linear head trained on view-1 representations during pretraining,
which never changes the encoder): figure 8 and ``scripts/randbits_table.py`` show it beside the fast probe.
``--normalization none``, ``--convn-padding valid``, ``--batchnorm keras``, ``--view-forwards separate`` and
``--data-order fixed`` switch to the colab's own input (pixels in [0, 1]), padding (none, Keras' default),
BatchNorm settings (momentum 0.99, eps 1e-3), one encoder pass per view (BatchNorm statistics per view) and
batches (the same ones in the same order every epoch), one recipe difference at a time (give each its own ``--out``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import get_args

from deep_experiments.configs import COLAB_RECIPE_OPTIONS, DataOrder, ViewForwards, option_default
from deep_experiments.models.convn import BATCHNORMS, CONVN_PADDINGS
from deep_experiments.normalize import NORMALIZATIONS
from deep_experiments.run.grid import GridResult, GridRun, check_runs, run_grid
from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, fraction, nonnegative_int, positive_float, positive_int, unique


def runs(bits: list[int], temperatures: list[float], dropouts: list[float], dropout_bits: list[int],
         dropout_temperature: float, seeds: list[int], epochs: int, data_dir: str,
         loss: str = "nt_xent", online_head: bool = False, recipe: Sequence[str] = ()) -> list[GridRun]:
    """The grid's runs in priority order, without duplicates (``online_head``: each run also trains the colab's
    online linear read-out, ``--online-head``; ``recipe``: flags of the colab's recipe differences added to every
    run, e.g. ``("--convn-padding", "valid")``, :func:`recipe_flags`)."""
    first = sorted(temperatures, key=lambda t: abs(t - dropout_temperature))[:1]
    ends = [b for b in bits if b in (min(bits), *dropout_bits, max(bits))]
    cells = [(b, t, 0.0) for t in first for b in ends]
    cells += [(b, dropout_temperature, p) for b in dropout_bits for p in dropouts]
    cells += [(b, t, 0.0) for t in first for b in bits if b not in ends]
    near = sorted(bits, key=lambda b: abs(b - dropout_bits[0]))  # the informative bits first
    cells += [(b, t, 0.0) for b in near for t in temperatures if t not in first]
    out: dict[str, GridRun] = {}
    for seed in seeds:
        for b, t, p in cells:
            flags = ["--preset", "randbits-colab", "--data-dir", data_dir, "--randbit-bits", str(b),
                     "--temperature", f"{t:g}", "--epochs", str(epochs), "--seed", str(seed), "--device", "cpu",
                     "--method", "dropout" if p > 0 else "expert", "--dropout-p", f"{p:g}"]
            flags += ["--loss", loss] if loss != "nt_xent" else []
            flags += ["--online-head"] if online_head else []
            flags += list(recipe)
            folder = f"b{b}_t{t:g}_p{p:g}/seed{seed}"
            out.setdefault(folder, GridRun(folder, tuple(flags)))
    return list(out.values())


def recipe_flags(args: argparse.Namespace) -> list[str]:
    """The flags of the colab's recipe options (:data:`deep_experiments.configs.COLAB_RECIPE_OPTIONS`) whose value
    in ``args`` differs from this package's default, with their values (a default adds no flag)."""
    flags: list[str] = []
    for section, name in COLAB_RECIPE_OPTIONS:
        if getattr(args, name) != option_default(section, name):
            flags += [f"--{name.replace('_', '-')}", getattr(args, name)]
    return flags


def _print(outcome: GridResult) -> None:
    line = f"{outcome.run.folder}: {outcome.status} ({outcome.seconds:.0f} s)"
    if outcome.probe is not None:
        fast = outcome.probe["fast"]
        bits = fast.get("task_b_bits")
        line += f"  digits {fast['task_a']:.4f}" + (f"  bits {bits:.4f}" if bits is not None else "")
    print(line, flush=True)


def build_parser() -> OneLineParser:
    """The command line of this script."""
    p = OneLineParser(prog="randbits_colab.py", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=".data", help="torchvision root holding MNIST/raw (default %(default)s)")
    p.add_argument("--out", default="runs/randbits", help="results root (default %(default)s)")
    p.add_argument("--bits", nargs="+", type=nonnegative_int, default=[0, 5, 10, 15, 20])
    p.add_argument("--temperatures", nargs="+", type=positive_float, default=[0.05, 0.1, 0.2])
    p.add_argument("--dropouts", nargs="+", type=fraction, default=[0.5, 0.9], help="bit-dropout p values")
    p.add_argument("--dropout-bits", nargs="+", type=nonnegative_int, default=[5, 20])
    p.add_argument("--dropout-temperature", type=positive_float, default=0.1)
    p.add_argument("--seeds", nargs="+", type=nonnegative_int, default=[0])
    p.add_argument("--epochs", type=positive_int, default=10, help="pretraining epochs (colab: 10)")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs in parallel (one CPU thread each)")
    p.add_argument("--loss", default="nt_xent", choices=["nt_xent", "decoupled", "swd"],
                   help="loss family (default: the colab's NT-Xent)")
    p.add_argument("--online-head", action="store_true",
                   help="also train the colab's read-out (a linear head trained online on view-1 representations, "
                        "stop-gradient) in every run; probe.json's online_head (a different config: its own --out)")
    p.add_argument("--normalization", default=option_default("data", "normalization"), choices=NORMALIZATIONS,
                   help="encoder inputs: standard (default, the image channel in [-1, 1]) | none (the colab's [0, 1])")
    p.add_argument("--convn-padding", default=option_default("train", "convn_padding"), choices=CONVN_PADDINGS,
                   help="ConvN padding: same (default, padding 1) | valid (the colab's: none)")
    p.add_argument("--batchnorm", default=option_default("train", "batchnorm"), choices=list(BATCHNORMS),
                   help="ConvN BatchNorm: torch (default) | keras (the colab's momentum 0.99 and eps 1e-3)")
    p.add_argument("--view-forwards", default=option_default("train", "view_forwards"), choices=get_args(ViewForwards),
                   help="joint (default: both views in one encoder pass) | separate (one pass per view, as the colab)")
    p.add_argument("--data-order", default=option_default("train", "data_order"), choices=get_args(DataOrder),
                   help="shuffle (default: a new order every epoch) | fixed (the colab's: the same batches every epoch)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 1 when a run failed."""
    p = build_parser()
    args = p.parse_args(argv)
    for flag in ("bits", "temperatures", "dropouts", "dropout_bits", "seeds"):
        unique(p, f"--{flag.replace('_', '-')}", getattr(args, flag))
    grid = runs(args.bits, args.temperatures, args.dropouts, args.dropout_bits, args.dropout_temperature,
                args.seeds, args.epochs, args.data_dir, args.loss, args.online_head, recipe_flags(args))
    try:  # every run's flags (bits, data folder, ...) resolve and the root can be written before anything starts
        check_output_dir(args.out)
        check_runs(grid)
    except ValueError as err:
        p.error(str(err))
    print(f"{len(grid)} runs into {args.out} (RandBits-MNIST, colab recipe, CPU)", flush=True)
    start = time.perf_counter()
    outcomes = run_grid(grid, args.out, args.jobs, report=_print)
    failed = sum(o.probe is None for o in outcomes)
    print(f"grid wall time {time.perf_counter() - start:.0f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
