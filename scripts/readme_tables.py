"""Regenerate (or check) the result tables embedded in the README from ``results/``.

::

    python scripts/readme_tables.py            # rewrite every marked table in README.md
    python scripts/readme_tables.py --check    # exit 1 naming each table that differs (a test runs this)

A table in a markdown file is a block::

    <!-- table: results/claim5-cpu --dataset c+letters -->
    | ... the output of `python scripts/deep_cpu_table.py results/claim5-cpu --dataset c+letters` ... |
    <!-- /table -->

whose body is exactly what ``scripts/deep_cpu_table.py`` prints for the arguments in the opening
marker (paths relative to the repository root). So no number in a table is ever copied by hand, and
a change of the results or of the table code that is not carried into the README fails the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (?P<args>[^\n]*?) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def _table(args: str) -> str:
    """What ``deep_cpu_table.py ARGS`` prints (run in-process from the repository root)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import deep_cpu_table
    finally:
        sys.path.pop(0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(ROOT):
        code = deep_cpu_table.main(shlex.split(args))
    if code != 0:
        raise ValueError(f"deep_cpu_table.py {args}: {err.getvalue().strip()}")
    return out.getvalue()


def render(text: str) -> tuple[str, list[str]]:
    """``text`` with every marked table regenerated, and the arguments of the tables that changed."""
    changed: list[str] = []

    def fill(match: re.Match[str]) -> str:
        body = _table(match["args"])
        if body != match["body"]:
            changed.append(match["args"])
        return match[1] + body + match[4]

    return BLOCK.sub(fill, text), changed


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the files are (now) up to date; 1 with ``--check`` when a table differs or on an error."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*", default=["README.md"], help="markdown files (default %(default)s)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    args = p.parse_args(argv)
    stale = 0
    for name in args.files:
        path = ROOT / name if not Path(name).is_absolute() else Path(name)
        try:
            text = path.read_text(encoding="utf-8")
            new, changed = render(text)
        except (OSError, ValueError) as err:
            print(f"readme_tables: {' '.join(str(err).split())}", file=sys.stderr)
            return 1
        for args_ in changed:
            print(f"{name}: table '{args_}' {'is out of date' if args.check else 'regenerated'}")
        stale += len(changed)
        if changed and not args.check:
            path.write_text(new, encoding="utf-8")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
