"""Print rows of a figure's number table (``figures/NAME.csv``, written by ``python -m paper_figures``) as markdown.

::

    python scripts/figure_table.py figures/loss_families.csv --where kind=boundary \\
        --columns loss rep_dim p_star boundary shift
    python scripts/figure_table.py figures/randbit_linear.csv --where panel=bits seed=,mean \\
        --pivot method bits r2_image

Every figure writes the numbers it plots beside its PNG; the documentation embeds them through this
script (between ``<!-- script: figure_table ... -->`` markers, checked by the tests), so a number of
the linear theory's simulations on a page is the figure's, never a copy. ``--where COL=V1,V2`` keeps the
rows whose COL is one of the values (an empty value matches an empty cell); ``--columns`` prints those
columns of the kept rows in file order; ``--pivot ROW COL VALUE`` prints one line per distinct ROW (in
file order), one column per distinct COL and VALUE in the cells. Numbers are printed with ``--digits``
decimals (default 3).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from featuredrop.cli import OneLineParser, nonnegative_int


def _fmt(text: str, digits: int) -> str:
    try:
        value = float(text)
    except ValueError:
        return text or "—"
    if value.is_integer() and "." not in text and "e" not in text.lower():
        return text
    return f"{value:.{digits}f}"


def _filter(rows: list[dict[str, str]], where: list[str]) -> list[dict[str, str]]:
    for cond in where:
        col, sep, values = cond.partition("=")
        if not sep:
            raise ValueError(f"--where {cond}: expected COL=V1,V2")
        allowed = set(values.split(","))
        rows = [r for r in rows if r.get(col) in allowed]
    return rows


def render(path: Path, where: list[str], columns: list[str] | None, pivot: list[str] | None, digits: int) -> str:
    """The markdown table of the rows of ``path`` kept by ``where``."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = _filter(rows, where)
    if not rows:
        raise ValueError(f"{path}: no row matches {' '.join(where)}")
    if pivot:
        row_key, col_key, value = pivot
        row_names = list(dict.fromkeys(r[row_key] for r in rows))
        col_names = list(dict.fromkeys(r[col_key] for r in rows))
        cells = {(r[row_key], r[col_key]): r[value] for r in rows}
        lines = [f"| {row_key} \\ {col_key} | " + " | ".join(col_names) + " |",
                 "|---" * (len(col_names) + 1) + "|"]
        for name in row_names:
            lines.append(f"| {name} | " + " | ".join(_fmt(cells.get((name, c), ""), digits) for c in col_names) + " |")
    else:
        cols = columns or list(rows[0])
        missing = [c for c in cols if c not in rows[0]]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}")
        lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
        lines += ["| " + " | ".join(_fmt(r[c], digits) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0, or 1 with one line on stderr (missing file, no matching row, unknown column)."""
    p = OneLineParser(prog="figure_table.py", description=__doc__.split("\n")[0])
    p.add_argument("csv", type=Path, help="a figure's CSV (figures/NAME.csv)")
    p.add_argument("--where", nargs="*", default=[], metavar="COL=V1,V2")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--columns", nargs="+")
    mode.add_argument("--pivot", nargs=3, metavar=("ROW", "COL", "VALUE"))
    p.add_argument("--digits", type=nonnegative_int, default=3)
    args = p.parse_args(argv)
    if not args.csv.is_file():
        p.error(f"CSV {args.csv}: no such file")
    try:
        print(render(args.csv, args.where, args.columns, args.pivot, args.digits), end="")
    except KeyError as err:
        print(f"figure_table: {args.csv} has no column {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f"figure_table: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
