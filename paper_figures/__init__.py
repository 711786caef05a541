"""The figures of the paper: each one a function that returns ``(fig, table)`` of the numbers it plots.

    python -m paper_figures --out figures [--only NAME ...] [--quick] [--list]

writes ``figures/NAME.{png,pdf,csv,json}`` for every registered figure (the JSON holds the plotted
numbers with the command and config; the git revision and time go to the git-ignored
``OUT/stamps.json``, so a rerun rewrites the tracked files byte for byte). Figures that read
experiment results which do not exist yet are skipped with one line, never drawn from invented
numbers. Modules:

- :mod:`paper_figures.style` - colours per task/block/method, closed form dotted vs simulation
  solid, column-width sizes;
- :mod:`paper_figures.io` - saving a figure with its table and provenance;
- :mod:`paper_figures.registry` - :class:`FigureSpec`, :func:`render`, :func:`render_all`;
- :mod:`paper_figures.phase_diagram`, :mod:`paper_figures.learning_curves`,
  :mod:`paper_figures.spectral_vs_infonce` - the linear-theory figures 1-3;
- :mod:`paper_figures.deep` - the deep-arm figures 4-7; :mod:`paper_figures.randbits` - figure 8.
"""

from paper_figures.io import load_table, save_figure
from paper_figures.registry import (
    FigureContext,
    FigureSpec,
    MissingResults,
    Outcome,
    default_registry,
    render,
    render_all,
)

__all__ = [
    "FigureContext",
    "FigureSpec",
    "MissingResults",
    "Outcome",
    "default_registry",
    "render",
    "render_all",
    "save_figure",
    "load_table",
]
