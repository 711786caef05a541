"""Regenerate (or check) the result tables embedded in the README and the documentation from ``results/``.

::

    python scripts/readme_tables.py            # rewrite every marked block in README.md and docs/*.md
    python scripts/readme_tables.py --check    # exit 1 naming each block that differs (a test runs this)

A table in a markdown file is a block::

    <!-- table: results/claim5-cpu --dataset c+letters -->
    | ... the output of `python scripts/deep_cpu_table.py results/claim5-cpu --dataset c+letters` ... |
    <!-- /table -->

whose body is exactly what ``scripts/deep_cpu_table.py`` prints for the arguments in the opening
marker (paths relative to the repository root). The same holds for any other script of ``scripts/``
with a ``main(argv)`` that prints, marked by its name::

    <!-- script: randbits_table results/randbits-mnist-cpu -->
    ... what `python scripts/randbits_table.py results/randbits-mnist-cpu` prints ...
    <!-- /script -->

So no number in a table is ever copied by hand, and a change of the results or of the table code
that is not carried into the pages fails the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- (?P<kind>table|script): (?P<args>[^\n]*?) -->\n)(?P<body>.*?)(<!-- /(?P=kind) -->)", re.S)
#: the markdown files checked by default: the README and every page of the documentation
DEFAULT_FILES = ("README.md", "docs/*.md")
SCRIPT_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _run_script(name: str, args: str) -> str:
    """What ``scripts/NAME.py ARGS`` prints (its ``main``, run in-process from the repository root)."""
    if not SCRIPT_NAME.fullmatch(name) or not (ROOT / "scripts" / f"{name}.py").is_file():
        raise ValueError(f"no script scripts/{name}.py")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.pop(0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(ROOT):
        code = module.main(shlex.split(args))
    if code != 0:
        raise ValueError(f"{name}.py {args}: {err.getvalue().strip()}")
    return out.getvalue()


def _table(args: str) -> str:
    """What ``deep_cpu_table.py ARGS`` prints (run in-process from the repository root)."""
    return _run_script("deep_cpu_table", args)


def _block(kind: str, args: str) -> str:
    """The body of a block: ``table`` runs ``deep_cpu_table.py ARGS``, ``script`` runs ``NAME.py REST``."""
    if kind == "table":
        return _table(args)
    name, _, rest = args.partition(" ")
    return _run_script(name, rest)


def markdown_files(names: list[str] | None = None) -> list[Path]:
    """The files named (globs relative to the repository root), by default README.md and docs/*.md."""
    paths: list[Path] = []
    for name in names or DEFAULT_FILES:
        if Path(name).is_absolute():
            paths.append(Path(name))
        elif any(c in name for c in "*?["):
            paths.extend(sorted(ROOT.glob(name)))
        else:
            paths.append(ROOT / name)
    return paths


def render(text: str) -> tuple[str, list[str]]:
    """``text`` with every marked block regenerated, and the arguments of the blocks that changed."""
    changed: list[str] = []

    def fill(match: re.Match[str]) -> str:
        body = _block(match["kind"], match["args"])
        if body != match["body"]:
            changed.append(match["args"])
        return match[1] + body + match[5]

    return BLOCK.sub(fill, text), changed


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the files are (now) up to date; 1 with ``--check`` when a table differs or on an error."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*", help="markdown files or globs (default: README.md docs/*.md)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    args = p.parse_args(argv)
    stale = 0
    for path in markdown_files(args.files):
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
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
