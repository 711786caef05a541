"""One place for the look of every figure: colours, line styles, sizes and fonts.

Conventions (shared by the theory and the deep figures):

- **colour = what** is plotted: task/block 1 (the strong, suppressing feature) blue, task/block 2
  (the weak, suppressed feature) vermillion; the registered kinds of views of the deep arm
  (``deep_experiments.views.METHODS``: expert / viewmaker / feature dropout) take
  :data:`METHOD_PALETTE` in registry order: grey / purple / green (Okabe-Ito palette, safe for
  colour-blind readers and in greyscale);
- **line style = where the number comes from**: closed form dotted, simulation (gradient flow,
  GD/SGD, InfoNCE, deep runs) solid; simulations are drawn first and the closed form on top;
- sizes are for a two-column paper: :data:`COLUMN_WIDTH` and :data:`TEXT_WIDTH` in inches, 8-pt text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deep_experiments.views import METHODS  # noqa: E402

__all__ = [
    "COLUMN_WIDTH",
    "TEXT_WIDTH",
    "TASK_COLORS",
    "BLOCK_COLORS",
    "METHOD_PALETTE",
    "METHOD_COLORS",
    "SOURCE_LINESTYLES",
    "CLOSED_FORM",
    "SIMULATION",
    "HEATMAP_CMAP",
    "RC",
    "figure_context",
    "new_figure",
    "task_color",
    "method_color",
]

#: Width of one column of a two-column paper, inches.
COLUMN_WIDTH = 3.35
#: Width of the full text block, inches.
TEXT_WIDTH = 6.9

_BLUE, _VERMILLION, _GREEN, _PURPLE, _GREY = "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#555555"
_ORANGE, _SKY, _YELLOW = "#E69F00", "#56B4E9", "#F0E442"

#: Task ``i`` reads block ``i``: the same colour for both (index 0 = strong/task 1, 1 = weak/task 2).
TASK_COLORS: tuple[str, str] = (_BLUE, _VERMILLION)
BLOCK_COLORS: tuple[str, str] = TASK_COLORS
#: Colours of the kinds of views, given out in registry order (a new kind takes the next one).
METHOD_PALETTE: tuple[str, ...] = (_GREY, _PURPLE, _GREEN, _ORANGE, _SKY, _YELLOW)
#: Views used for contrastive training in the deep arm (and the linear analogue of each), by registry name.
METHOD_COLORS: dict[str, str] = dict(zip(METHODS, METHOD_PALETTE))

#: Line style of each source of numbers.
SOURCE_LINESTYLES: dict[str, str] = {"closed_form": ":", "simulation": "-"}
CLOSED_FORM: dict[str, object] = {"linestyle": ":", "linewidth": 2.0, "zorder": 3}
SIMULATION: dict[str, object] = {"linestyle": "-", "linewidth": 1.3, "zorder": 2}

#: Perceptually uniform map for quantities in [0, 1] (probe R^2, accuracy).
HEATMAP_CMAP = "viridis"

#: rcParams of every figure (applied inside :func:`figure_context`, never globally).
RC: dict[str, object] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.3,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable, accepted by publishers
    "mathtext.fontset": "dejavusans",
}


@contextmanager
def figure_context() -> Iterator[None]:
    """Apply :data:`RC` for the duration of a figure function (leaves global state alone)."""
    with plt.rc_context(RC):
        yield


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = COLUMN_WIDTH, height: float = 2.2,
               **subplot_kw: object) -> tuple[Figure, object]:
    """A figure of ``width`` x ``height`` inches with a grid of axes (constrained layout).

    Uses :class:`matplotlib.figure.Figure` directly (not pyplot), so figures are not kept alive by
    pyplot's registry and need no ``plt.close``.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)
    return fig, axes


def task_color(task: int) -> str:
    """Colour of task/block ``task`` (0-based: 0 = strong feature, 1 = weak feature)."""
    return TASK_COLORS[task]


def method_color(method: str) -> str:
    """Colour of a view-generation method (``expert``, ``viewmaker``, ``dropout``)."""
    try:
        return METHOD_COLORS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; known: {sorted(METHOD_COLORS)}") from None
