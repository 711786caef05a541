"""CLI: ``python -m paper_figures --out figures [--only NAME ...] [--skip NAME ...] [--quick] [--results DIR] [--randbits DIR ...] [--list]``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, prog_name
from paper_figures.registry import FigureContext, default_registry, render_all

PROG = "python -m paper_figures"


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=prog_name(PROG), description="Draw the paper's figures: NAME.png/.pdf plus NAME.csv/.json of the numbers.")
    p.add_argument("--out", default="figures", help="output folder (default %(default)s); caches go to OUT/cache; "
                   "existing figure files of the same names are replaced")
    p.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures (see --list)")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[],
                   help="draw every figure but these (a results root another call draws them from)")
    p.add_argument("--quick", action="store_true", help="few points and steps (seconds; not the paper's numbers)")
    p.add_argument("--results", default="runs", help="root of the experiment results figures read (default %(default)s)")
    p.add_argument("--randbits", nargs="+", default=["runs/randbits"], metavar="DIR",
                   help="root(s) of the RandBits-MNIST runs figure 'randbits' reads; with several, each cell comes "
                        "from the first that has it (default runs/randbits)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    return p


def figure_command(args: argparse.Namespace, name: str) -> str:
    """The command that redraws figure ``name`` alone with these options (its JSON's provenance).

    One command per figure, whatever ``--only`` or ``--skip`` list drew it: so a figure's files do not change
    when it is redrawn by another call (``make figures``, or ``--only NAME`` after a fix), and the command
    can be pasted as it is.
    """
    return shlex.join([*PROG.split(), "--out", str(args.out), "--only", name, *(["--quick"] if args.quick else []),
                       "--results", str(args.results), "--randbits", *map(str, args.randbits)])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code: 0 when every figure was written or skipped for missing results,
    1 when one failed on an unreadable input (after drawing the others), 2 on an unknown figure name."""
    parser = _parser()
    args = parser.parse_args(argv)
    registry = default_registry()
    if args.list:
        for name, spec in registry.items():
            print(f"{name:<24} {spec.description}")
        return 0
    unknown = [n for n in [*(args.only or ()), *args.skip] if n not in registry]
    only = [n for n in (args.only or registry) if n not in args.skip]
    try:
        if unknown:
            raise ValueError(f"unknown figure(s) {unknown}; known: {list(registry)}")
        if not only:
            raise ValueError("--skip leaves no figure to draw")
        check_output_dir(args.out)
        for flag, root in (("--results", args.results), *(("--randbits", r) for r in args.randbits)):
            if Path(root).exists() and not Path(root).is_dir():  # a missing root only skips the figures that read it
                raise ValueError(f"{flag} {root}: exists and is not a folder")
    except ValueError as err:
        sys.stderr.write(f"{parser.prog}: error: {err}\n")
        return 2
    command = partial(figure_command, args)
    ctx = FigureContext(out=Path(args.out), quick=args.quick, results=Path(args.results), randbits=tuple(Path(r) for r in args.randbits),
                        log=lambda msg: print(msg, flush=True))
    start = time.perf_counter()
    outcomes = render_all(ctx, only, command, registry)
    written = sum(o.status == "written" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o.name for o in outcomes if o.status == "skipped"]
    print(f"{written} figure(s) written to {args.out}, {len(skipped)} skipped"
          + (f" ({', '.join(skipped)})" if skipped else "") + f", {len(failed)} failed "
          f"({time.perf_counter() - start:.1f} s)")
    for outcome in outcomes:  # at the end, where a long run's reader looks: what is missing and how to make it
        if outcome.status == "skipped":
            print(f"  {outcome.name} {outcome.message}")
    for outcome in failed:
        sys.stderr.write(f"{parser.prog}: {outcome.name}: {outcome.message}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
