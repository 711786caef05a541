"""Command-line plumbing shared by the three CLIs (sweep, deep runs, figures).

Every CLI of the package reports a bad input as **one line on stderr and exit status 2**, with no
usage dump and no traceback, so that scripts and grids can tell a user error (2) from a failed
run (1). :class:`OneLineParser` does it for argparse's own errors and :func:`fail` for the
errors the CLI finds itself. The ``type=`` helpers (:func:`positive_int`, :func:`nonnegative_int`,
:func:`positive_float`, :func:`nonnegative_float`, :func:`fraction`, :func:`finite_float`) refuse zero, negative, NaN and
infinite numbers at parse time, so a script checks its options before it creates a folder or
starts any work; :func:`unique` refuses a list option that repeats a value (a duplicated seed).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

__all__ = ["OneLineParser", "fail", "prog_name", "positive_int", "nonnegative_int", "positive_float", "finite_float",
           "nonnegative_float", "fraction", "unique"]


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


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (seeds, counts that may be zero)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: a finite number (NaN and infinities refused)."""
    return float(_number(text, float))


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number >= 0 (overlay strengths)."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a probability in [0, 1)."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def unique(parser: argparse.ArgumentParser, flag: str, values: Sequence[object] | None) -> None:
    """Refuse (one line, exit 2) a list option that names a value twice: a duplicated seed would be averaged twice."""
    if values is not None and len(set(values)) != len(values):
        repeated = sorted({v for v in values if list(values).count(v) > 1}, key=str)
        parser.error(f"{flag} repeats {', '.join(map(str, repeated))}")
