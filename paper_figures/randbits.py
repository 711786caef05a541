"""Figure 8: RandBits-MNIST with the Chen et al. colab's recipe, with and without dropout of the bits.

Reads run folders of ``scripts/randbits_colab.py`` under ``FigureContext.randbits``
(``--randbits DIR [DIR ...]``: with several roots, each (bits, temperature, p) cell comes whole from the
first root that has it, so one cell never mixes runs of two roots) through :class:`deep_experiments.run.folder.RunFolder`: any folder below it
with ``config.json`` (dataset ``randbit``) and ``probe.json``. Bits ``b``, temperature, method, dropout ``p`` and seed come from ``config.json``;
accuracies from ``probe.json``'s fast probe: ``task_a`` = digit class (chance 0.1) and ``task_b_bits`` = mean
accuracy of one linear probe per bit (chance 0.5); and, for runs made with ``--online-head``, from its
``online_head`` entry: the colab's own read-out (a linear head trained online on view-1 representations
during pretraining), drawn dash-dotted beside the fast probe.
Panel (a) is the colab's table (digit accuracy vs ``b``, one line per temperature; the colab's own
saved numbers, :data:`COLAB_TABLE`, drawn thin and dotted beside ours); panel (b)
the rescue by feature dropout of the bits (each view's bit planes replaced by 0.5 with
probability ``p``) at one ``(b, temperature)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from deep_experiments.configs import COLAB_RECIPE_OPTIONS, option_default
from deep_experiments.run.folder import RunFolder, find_runs
from paper_figures.io import read_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import summarize
from paper_figures.style import SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["RandBitsRun", "RandBitsConfig", "COLAB_TABLE", "find_randbits_runs", "randbits_figure", "recipe_of",
           "FIGURES"]

COLAB_SOURCE = ("google-research/simclr colabs/intriguing_properties/randbits_mnist.ipynb, commit 1839ca4, "
                "saved cell output (TensorFlow, online linear head trained during pretraining)")
#: The colab's saved table: final test accuracy of its linear head, by (bits, temperature).
#: Published reference values (see ``COLAB_SOURCE``), drawn beside our runs; not our measurement.
COLAB_TABLE: dict[tuple[int, float], float] = {
    (0, 0.05): 0.8992, (5, 0.05): 0.7063, (10, 0.05): 0.3299, (15, 0.05): 0.1426, (20, 0.05): 0.0990,
    (0, 0.1): 0.8916, (5, 0.1): 0.6118, (10, 0.1): 0.1867, (15, 0.1): 0.0980, (20, 0.1): 0.1033,
    (0, 0.2): 0.8998, (5, 0.2): 0.3299, (10, 0.2): 0.1035, (15, 0.2): 0.1003, (20, 0.2): 0.0989,
}

HINT = ("python scripts/fetch_mnist_offline.py --data-dir .data && OMP_NUM_THREADS=1 python "
        "scripts/randbits_colab.py --data-dir .data --out DIR, then --randbits DIR")
MARKERS = ("o", "s", "^", "D", "v")


@dataclass(frozen=True)
class RandBitsRun:
    """One finished RandBit run folder."""

    folder: Path
    bits: int
    temperature: float
    dropout_p: float  # 0 for expert views
    seed: int
    epochs: int
    digit_source: str
    digits: float
    bits_accuracy: float | None
    online_digits: float | None = None  # the colab's read-out (``--online-head`` runs only)
    online_bits: float | None = None
    recipe: str = "package"  # ``package``, or the colab's recipe options the run used (:func:`recipe_of`)

    @classmethod
    def read(cls, run: RunFolder) -> RandBitsRun | None:
        """The run of a finished run folder, or ``None`` when it is not a RandBit run of expert or dropout
        views trained with NT-Xent (generalized-loss and other kinds of views: not this figure)."""
        cfg = run.load_config()
        if cfg.data.dataset != "randbit" or cfg.train.loss != "nt_xent" or cfg.views.kind not in ("expert", "dropout"):
            return None
        probe = run.read_probe()
        fast, online = probe["fast"], probe.get("online_head") or {}
        p = cfg.views.dropout.p if cfg.views.kind == "dropout" else 0.0
        online_digits = float(online["task_a"]) if "task_a" in online else None
        return cls(run.root, cfg.data.randbit_bits, cfg.train.temperature, p, cfg.train.seed, cfg.train.epochs,
                   cfg.data.digit_source, float(fast["task_a"]), fast.get("task_b_bits"), online_digits,
                   online.get("task_b_bits"), recipe_of(cfg))


def recipe_of(config: Any) -> str:
    """``"package"`` for this package's recipe, else the colab's options the run switched on, e.g.
    ``"normalization none, convn_padding valid"`` (the fields of
    :data:`deep_experiments.configs.COLAB_RECIPE_OPTIONS` that are not at this package's default)."""
    changed = [f"{name} {getattr(getattr(config, section), name)}" for section, name in COLAB_RECIPE_OPTIONS
               if getattr(getattr(config, section), name) != option_default(section, name)]
    return ", ".join(changed) or "package"


def find_randbits_runs(roots: str | Path | Sequence[str | Path]) -> list[RandBitsRun]:
    """Every finished RandBit run below ``roots`` (expert and dropout views), sorted.

    With several roots, a (bits, temperature, dropout p) cell is taken whole from the first root that has
    it: later roots only add cells the earlier ones lack (e.g. a newer set of runs in front of an older one).

    Raises:
        MissingResults: none found.
        ValueError: one root inside another, a seed twice in one cell, or runs of two recipes (:func:`recipe_of`):
            one table or figure is one recipe, each seed once.
    """
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    for i, outer in enumerate(roots):
        for inner in roots[i + 1:]:
            if outer.resolve().is_relative_to(inner.resolve()) or inner.resolve().is_relative_to(outer.resolve()):
                raise ValueError(f"RandBits roots {outer} and {inner}: one is inside the other (its runs would count "
                                 f"twice)")
    runs: list[RandBitsRun] = []
    for root in roots:
        taken = {_cell_of(r) for r in runs}
        runs += [r for r in read_runs(find_runs(root), RandBitsRun.read) if _cell_of(r) not in taken]
    if not runs:
        raise MissingResults(roots[0] / "b<bits>_t<tau>_p<p>/seed<k>/probe.json", HINT)
    seen: dict[tuple[Any, ...], Path] = {}
    for run in runs:
        key = (*_cell_of(run), run.seed)
        if key in seen:
            raise ValueError(f"{run.folder}: a second run of b = {run.bits}, τ = {run.temperature:g}, "
                             f"p = {run.dropout_p:g}, seed {run.seed} (the first is {seen[key]})")
        seen[key] = run.folder
    recipes = {r.recipe: r.folder for r in runs}
    if len(recipes) > 1:
        raise ValueError("RandBits runs of different recipes in one table: "
                         + "; ".join(f"{name} ({folder})" for name, folder in recipes.items()))
    return sorted(runs, key=lambda r: (r.dropout_p, r.temperature, r.bits, r.seed))


def _cell_of(run: RandBitsRun) -> tuple[int, float, float]:
    return run.bits, run.temperature, run.dropout_p


@dataclass(frozen=True)
class RandBitsConfig:
    """Panel (b) shows dropout runs at each of ``dropout_bits`` bits, temperature ``dropout_temperature``."""

    dropout_bits: tuple[int, ...] = (5, 20)
    dropout_temperature: float = 0.1


def _config(quick: bool) -> RandBitsConfig:
    return RandBitsConfig()


def _summary(values: list[float | None]) -> tuple[float | None, float | None, int]:
    """Mean and standard deviation (ddof 1; 0 for one value) of the values that exist, and their count."""
    have = [v for v in values if v is not None]
    return (*summarize(have), len(have)) if have else (None, None, 0)


def _row(panel: str, group: list[RandBitsRun], **keys: Any) -> dict[str, Any]:
    digits = summarize([r.digits for r in group])
    bits = _summary([r.bits_accuracy for r in group])
    online = _summary([r.online_digits for r in group])
    online_bits = _summary([r.online_bits for r in group])
    return {"panel": panel, **keys, "digits_mean": digits[0], "digits_std": digits[1],
            "bits_mean": bits[0], "bits_std": bits[1],
            "online_digits_mean": online[0], "online_digits_std": online[1], "n_online": online[2],
            "online_bits_mean": online_bits[0], "online_bits_std": online_bits[1], "n_seeds": len(group),
            "epochs": ",".join(sorted({str(r.epochs) for r in group})),
            "digit_source": ",".join(sorted({r.digit_source for r in group})),
            "recipe": ",".join(sorted({r.recipe for r in group})),
            "folders": ";".join(str(r.folder) for r in group)}


def randbits_figure(runs: list[RandBitsRun], config: RandBitsConfig) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 8: (a) digit / bit accuracy vs bits per temperature (expert views); (b) vs bit-dropout p.

    Rows: ``panel`` ``table`` (``bits``, ``temperature``) or ``dropout`` (``dropout_p``), each with
    ``digits_mean``/``digits_std``, ``bits_mean``/``bits_std`` (ddof 1 over seeds; error bars), the online
    head's ``online_digits_mean``/``_std`` and ``online_bits_mean``/``_std`` over its ``n_online`` runs, ``n_seeds``,
    ``epochs``, ``digit_source`` and the source ``folders``; ``colab_reference`` rows hold the
    colab's saved accuracy (``digits_mean``) at the temperatures we ran, with its ``source``.
    """
    fig, axes = new_figure(2, width=TEXT_WIDTH, height=2.5, sharey=True)
    rows: list[dict[str, Any]] = []
    expert = [r for r in runs if r.dropout_p == 0]
    taus = sorted({r.temperature for r in expert})
    for k, tau in enumerate(taus):
        ref = sorted((b, acc) for (b, t), acc in COLAB_TABLE.items() if np.isclose(t, tau))
        if ref:
            axes[0].plot(*zip(*ref), color="0.55", marker=MARKERS[k % len(MARKERS)], markersize=3, fillstyle="none",
                         linestyle=":", linewidth=0.9)
            rows += [{"panel": "colab_reference", "bits": b, "temperature": tau, "digits_mean": acc,
                      "source": COLAB_SOURCE} for b, acc in ref]
        cells = sorted({r.bits for r in expert if r.temperature == tau})
        table = [_row("table", [r for r in expert if r.temperature == tau and r.bits == b], bits=b, temperature=tau)
                 for b in cells]
        rows += table
        marker = MARKERS[k % len(MARKERS)]
        axes[0].errorbar(cells, [t["digits_mean"] for t in table], yerr=[t["digits_std"] for t in table],
                         color=task_color(1), marker=marker, markersize=3.5, capsize=2, label=f"$\\tau$ = {tau:g}",
                         **SIMULATION)
        online = [t for t in table if t["online_digits_mean"] is not None]
        if online:
            axes[0].errorbar([t["bits"] for t in online], [t["online_digits_mean"] for t in online],
                             yerr=[t["online_digits_std"] for t in online], color=task_color(1), marker=marker,
                             markersize=3.5, capsize=2, linestyle="-.", linewidth=1.0, fillstyle="none")
        bit_cells = [(t["bits"], t["bits_mean"]) for t in table if t["bits_mean"] is not None]
        if bit_cells:
            axes[0].plot(*zip(*bit_cells), color=task_color(0), marker=marker, markersize=3.5, linestyle="--",
                         linewidth=1.0)
    axes[0].set_xticks(sorted({b for b, _ in COLAB_TABLE} | {r.bits for r in expert}))
    axes[0].set_xlabel("random bits $b$ shared by both views")
    axes[0].set_ylabel("linear read-out test accuracy")
    axes[0].set_title("(a) the colab's table: expert (crop) views")
    if expert:
        axes[0].legend(loc="center left", fontsize=6)
    for k, bits in enumerate(config.dropout_bits):
        at = [r for r in runs if r.bits == bits and np.isclose(r.temperature, config.dropout_temperature)]
        ps = sorted({r.dropout_p for r in at})
        curve = [_row("dropout", [r for r in at if r.dropout_p == p], bits=bits,
                      temperature=config.dropout_temperature, dropout_p=p) for p in ps]
        rows += curve
        for task, key in ((1, "digits"), (0, "bits")):
            have = [c for c in curve if c[f"{key}_mean"] is not None]
            axes[1].errorbar([c["dropout_p"] for c in have], [c[f"{key}_mean"] for c in have],
                             yerr=[c[f"{key}_std"] for c in have], color=task_color(task),
                             marker=MARKERS[k % len(MARKERS)], markersize=3.5, capsize=2,
                             linestyle="--" if task == 0 else "-", label=f"$b$ = {bits}" if task == 1 else None)
    if any(r["panel"] == "dropout" for r in rows):
        axes[1].legend(loc="center right", fontsize=6)
    axes[1].set_xlim(-0.05, 1.0)
    axes[1].set_xlabel("feature dropout $p$ of the bits (per view)")
    axes[1].set_title(f"(b) dropping the bits ($\\tau$ = {config.dropout_temperature:g})")
    for ax in axes:
        ax.axhline(0.1, color="0.7", linewidth=0.5)
        ax.set_ylim(0, 1.02)
    if not rows:
        raise MissingResults("RandBit runs with expert or dropout views", HINT)
    handles = [Line2D([], [], color=task_color(1), label="digit class, fast probe (task A; chance 0.1)"),
               Line2D([], [], color=task_color(0), linestyle="--", label="bits, per-bit probe (task B; chance 0.5)"),
               Line2D([], [], color="0.55", linestyle=":", marker="o", fillstyle="none", markersize=3,
                      label="colab's saved digit accuracy (reference)")]
    if any(r.get("online_digits_mean") is not None for r in rows):
        handles.insert(1, Line2D([], [], color=task_color(1), linestyle="-.", marker="o", fillstyle="none",
                                 markersize=3, label="digit class, colab's online head (ours)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=6)
    sources = ",".join(sorted({r.digit_source for r in runs}))
    recipe = ",".join(sorted({r.recipe for r in runs}))
    fig.suptitle(f"RandBits-MNIST, Chen et al. colab recipe (ConvN, Adam, batch 1000), CPU runs, digits: {sources}"
                 + ("" if recipe == "package" else f"; the colab's {recipe}"), fontsize=7)
    return fig, rows


def _draw(config: RandBitsConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return randbits_figure(find_randbits_runs(ctx.randbits), config)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("randbits", "RandBits-MNIST (colab recipe): digit and bit accuracy vs bits, temperature and bit dropout",
               _config, _draw, hint=HINT),
)
