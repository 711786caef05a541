"""Command-line plumbing shared by the three CLIs (sweep, deep runs, figures).

Every CLI of the package reports a bad input as **one line on stderr and exit status 2**, with no
usage dump and no traceback, so that scripts and grids can tell a user error (2) from a failed
run (1). :class:`OneLineParser` does it for argparse's own errors and :func:`fail` for the
errors the CLI finds itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

__all__ = ["OneLineParser", "fail", "prog_name"]


def prog_name(module_form: str) -> str:
    """The name the user typed: a console script's own name (``featuredrop-sweep``), else ``module_form``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("featuredrop-") else module_form


def fail(message: str, code: int = 2) -> NoReturn:
    """Write ``message`` as a single line (whitespace collapsed) to stderr and exit with ``code``."""
    sys.stderr.write(" ".join(str(message).split()) + "\n")
    raise SystemExit(code)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are ``PROG: error: MESSAGE`` on one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE`` and exit with 2 (no usage dump)."""
        fail(f"{self.prog}: error: {message}", 2)
