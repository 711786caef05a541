"""Registry of figures: each figure is a :class:`FigureSpec`; :func:`render` draws and saves one.

A figure module (one per theory figure, :mod:`paper_figures.deep` for the deep-arm figures,
:mod:`paper_figures.randbits`) exposes ``FIGURES``, a tuple of specs; :func:`default_registry`
collects them in the paper order of :data:`FIGURE_MODULES`. A spec names the result files it
reads (``requires``); when one is missing the figure is *skipped* with one line,
``skipped: no results at PATH (run COMMAND)``, and nothing is drawn: no figure is ever made from
invented numbers. A draw function may also raise :class:`MissingResults` itself.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from matplotlib.figure import Figure

from paper_figures.io import Table, save_figure
from paper_figures.style import figure_context

__all__ = [
    "FigureContext",
    "FigureSpec",
    "MissingResults",
    "Outcome",
    "FIGURE_MODULES",
    "default_registry",
    "render",
    "render_all",
]

#: Modules whose ``FIGURES`` make up the paper, in paper order (figures 1-3, 4-7, 8).
FIGURE_MODULES: tuple[str, ...] = ("paper_figures.phase_diagram", "paper_figures.learning_curves",
                                   "paper_figures.spectral_vs_infonce", "paper_figures.infonce_phase_diagram",
                                   "paper_figures.loss_families", "paper_figures.randbit_linear", "paper_figures.deep",
                                   "paper_figures.theory_vs_deep", "paper_figures.suppression",
                                   "paper_figures.ladder", "paper_figures.randbits")


class MissingResults(Exception):
    """The results a figure reads do not exist; the figure is skipped, not drawn."""

    def __init__(self, path: str | Path, hint: str = "") -> None:
        self.path = Path(path)
        self.hint = hint
        run = f" (run {hint})" if hint else ""
        super().__init__(f"skipped: no results at {self.path}{run}")


@dataclass(frozen=True)
class FigureContext:
    """Where a figure run reads and writes.

    Attributes:
        out: folder for the figure files and for simulation caches (``out/cache``).
        quick: fewer points and steps (tests, previews); the numbers are not the paper's.
        results: root folder of experiment results (deep-arm runs) that figures read.
        randbits: root folder(s) of the RandBits-MNIST runs (``scripts/randbits_colab.py``); with several,
            each cell comes from the first that has it (:func:`paper_figures.randbits.find_randbits_runs`).
        log: progress callback (one line per call); silent by default.
    """

    out: Path
    quick: bool = False
    results: Path = Path("runs")
    randbits: Path | tuple[Path, ...] = Path("runs/randbits")
    log: Callable[[str], None] = field(default=lambda msg: None, repr=False, compare=False)

    @property
    def cache(self) -> Path:
        """Folder of cached simulation results (JSON), re-used across runs."""
        return self.out / "cache"


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the paper.

    Attributes:
        name: file stem and CLI name (``--only NAME``).
        description: one line for ``--list``.
        config: ``config(quick) -> config`` (a frozen dataclass, recorded in the JSON provenance).
        draw: ``draw(config, context) -> (fig, table)``; the table holds the plotted numbers.
        requires: ``requires(context) -> paths`` of result files the figure reads (empty: none).
        hint: the command that produces the required results (shown when they are missing).
    """

    name: str
    description: str
    config: Callable[[bool], Any]
    draw: Callable[[Any, FigureContext], tuple[Figure, Table]]
    requires: Callable[[FigureContext], Sequence[Path]] = field(default=lambda ctx: ())
    hint: str = ""


@dataclass(frozen=True)
class Outcome:
    """What :func:`render` did with one figure."""

    name: str
    status: Literal["written", "skipped", "failed"]
    message: str
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def default_registry(modules: Iterable[str] = FIGURE_MODULES) -> dict[str, FigureSpec]:
    """All figures of the paper by name, in order (imports each module's ``FIGURES``)."""
    registry: dict[str, FigureSpec] = {}
    for module_name in modules:
        for spec in importlib.import_module(module_name).FIGURES:
            if spec.name in registry:
                raise ValueError(f"figure name {spec.name!r} registered twice")
            registry[spec.name] = spec
    return registry


def render(spec: FigureSpec, ctx: FigureContext, command: str = "") -> Outcome:
    """Draw one figure and save its files, or skip it when its results are missing."""
    start = time.perf_counter()
    try:
        for path in spec.requires(ctx):
            if not Path(path).exists():
                raise MissingResults(path, spec.hint)
        config = spec.config(ctx.quick)
        with figure_context():
            fig, table = spec.draw(config, ctx)
            files = save_figure(fig, table, ctx.out, spec.name, command=command,
                                config={"figure": config, "quick": ctx.quick})
    except MissingResults as err:
        return Outcome(spec.name, "skipped", str(err), seconds=time.perf_counter() - start)
    except FileNotFoundError as err:  # data a figure reads is not on this machine (the message says how to get it)
        return Outcome(spec.name, "skipped", f"skipped: {' '.join(str(err).split())}", seconds=time.perf_counter() - start)
    except (OSError, ValueError, KeyError) as err:
        # an unreadable or corrupt input (bad JSON, a missing key, a file that cannot be read): this figure is
        # not drawn, the others still are; any other exception is a bug and shows its traceback
        reason = " ".join(str(err).split()) or type(err).__name__
        return Outcome(spec.name, "failed", f"failed: {type(err).__name__}: {reason}",
                       seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    stems = ",".join(files)
    message = f"wrote {Path(ctx.out) / spec.name}.{{{stems}}} ({seconds:.1f} s)"
    return Outcome(spec.name, "written", message, files, seconds)


def render_all(ctx: FigureContext, names: Sequence[str] | None = None, command: str | Callable[[str], str] = "",
               registry: dict[str, FigureSpec] | None = None) -> list[Outcome]:
    """Render the named figures (default: all) in registry order, logging one line per figure.

    ``command``: the command recorded in each figure's provenance, or a function of the figure's name
    giving it (the CLI records the command that redraws that one figure).

    Raises:
        ValueError: on a name that is not registered (the message lists the valid ones).
    """
    registry = default_registry() if registry is None else registry
    wanted = list(registry) if not names else list(names)
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {list(registry)}")
    outcomes = []
    for i, name in enumerate(wanted, 1):
        spec = registry[name]
        ctx.log(f"[{i}/{len(wanted)}] {name}: {spec.description}")
        outcome = render(spec, ctx, command(name) if callable(command) else command)
        ctx.log(f"[{i}/{len(wanted)}] {name}: {outcome.message}")
        outcomes.append(outcome)
    return outcomes
