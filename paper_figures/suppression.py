"""Figure ``deep_suppression``: suppression of the base task against the occlusion control, and its rescue.

Reads run folders whose probes carry the overlay controls (:mod:`deep_experiments.overlay_control`:
the fast probe repeated on overlay-free and on full-overlay images of the same bases). For every
run at overlay strength 1, paired by seed with the **control**, an expert run of the same dataset
at overlay strength 0 (the encoder that never saw an overlay). Its training is the same for every
C+* dataset, but its full-overlay probe is not: each dataset occludes the base with its own
overlay, so a control is only used for its own dataset::

    suppression     = full_overlay.task_a(control) - full_overlay.task_a(run)   # occlusion cancels
    overlay-free gap = overlay_free.task_a(control) - overlay_free.task_a(run)
    rescue          = full_overlay.task_a(dropout or viewmaker) - full_overlay.task_a(expert)
    own-views suppression = full_overlay.task_a(same views at strength 0) - full_overlay.task_a(run)

The last is the suppression under a method's own views (the viewmaker's), against its own control
trained without the overlay; only where such runs exist. It separates "these views suppress less"
from "these views are better views" (a higher base-task accuracy with or without an overlay).

Each is reported as the mean over the paired seeds with its 95 % confidence interval (Student's t,
``n - 1`` degrees of freedom; :func:`paper_figures.stats.paired_t`) and a two-sided p-value,
Holm-corrected over every row of the table (``p_holm``; ``significant``: ``p_holm <= 0.05``); a
single pair has no interval. Only runs whose ``probe.json`` has the controls are used; others are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from paper_figures.deep import DeepRun, find_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import holm, paired_t
from paper_figures.style import METHOD_COLORS, TEXT_WIDTH, new_figure

__all__ = ["SuppressionConfig", "suppression_rows", "FIGURES"]

HINT = ("OMP_NUM_THREADS=1 python scripts/deep_cpu_grid.py --preset cpu --strengths 0 --out DIR --extra --data-dir "
        ".data, then --results DIR")  # --extra takes every flag after it
QUANTITIES = ("suppression", "overlay_free_gap", "rescue", "own_views_suppression")
ALPHA = 0.05
"""Family-wise error rate of the Holm correction within a table."""


@dataclass(frozen=True)
class SuppressionConfig:
    """``dropout_p``: the dropout runs compared (the others are ignored)."""

    dropout_p: float = 0.5


def _controlled(run: DeepRun) -> bool:
    fast = run.probe.get("fast", {})
    return "full_overlay" in fast and "overlay_free" in fast


def _task_a(run: DeepRun, control: str) -> float:
    return float(run.probe["fast"][control]["task_a"])


def paired_differences(values: dict[int, float], reference: dict[int, float]) -> tuple[list[int], list[float]]:
    """``reference - values`` for the seeds both have (sorted), and those seeds."""
    seeds = sorted(set(values) & set(reference))
    return seeds, [reference[s] - values[s] for s in seeds]


def difference_summary(diffs: list[float]) -> dict[str, Any]:
    """``mean``, ``std`` (ddof 1), ``n_seeds``, the 95 % t interval ``ci_low`` / ``ci_high`` and the
    two-sided ``p_value`` of paired differences (NaN interval and p for a single pair)."""
    t = paired_t(diffs)
    return {"mean": t.mean, "std": t.std, "n_seeds": t.n, "ci_low": t.low, "ci_high": t.high, "p_value": t.p_value}


def with_holm(rows: list[dict[str, Any]], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """``rows`` (each with a ``p_value``) with ``p_holm`` (Holm over all of them) and ``significant``."""
    adjusted = holm([row["p_value"] for row in rows], alpha)
    return [{**row, "p_holm": p, "significant": bool(p <= alpha)} for row, p in zip(rows, adjusted)]


def _row(dataset: str, method: str, quantity: str, seeds: list[int], diffs: list[float],
         folders: list[str]) -> dict[str, Any]:
    return {"dataset": dataset, "method": method, "quantity": quantity, **difference_summary(diffs),
            "seeds": ",".join(map(str, seeds)), "folders": ";".join(folders)}


def suppression_rows(runs: list[DeepRun], config: SuppressionConfig) -> list[dict[str, Any]]:
    """The table of the figure: one row per (dataset, method, quantity), Holm-corrected over all of them;
    see the module docstring."""
    runs = [r for r in runs if _controlled(r) and (r.method != "dropout" or np.isclose(r.dropout_p, config.dropout_p))]
    controls = [r for r in runs if r.method == "expert" and r.overlay_strength == 0]
    rows: list[dict[str, Any]] = []
    for dataset in sorted({r.dataset for r in runs if r.overlay_strength == 1}):
        own = [r for r in controls if r.dataset == dataset]
        ref = {kind: {r.seed: _task_a(r, kind) for r in own} for kind in ("full_overlay", "overlay_free")}
        trained = [r for r in runs if r.dataset == dataset and r.overlay_strength == 1]
        expert = {r.seed: _task_a(r, "full_overlay") for r in trained if r.method == "expert"}
        for method in sorted({r.method for r in trained}, key=lambda m: (m != "expert", m)):
            group = {r.seed: r for r in trained if r.method == method}
            for quantity, kind, reference, sign in (("suppression", "full_overlay", ref["full_overlay"], 1),
                                                    ("overlay_free_gap", "overlay_free", ref["overlay_free"], 1),
                                                    ("rescue", "full_overlay", expert, -1)):
                if quantity == "rescue" and method == "expert":
                    continue
                seeds, diffs = paired_differences({s: _task_a(r, kind) for s, r in group.items()}, reference)
                if seeds:
                    folders = [str(group[s].folder) for s in seeds]
                    rows.append(_row(dataset, method, quantity, seeds, [sign * d for d in diffs], folders))
            own_control = {r.seed: _task_a(r, "full_overlay") for r in runs
                           if r.dataset == dataset and r.method == method and r.overlay_strength == 0}
            if method != "expert" and own_control:
                seeds, diffs = paired_differences({s: _task_a(r, "full_overlay") for s, r in group.items()}, own_control)
                if seeds:
                    rows.append(_row(dataset, method, "own_views_suppression", seeds, diffs,
                                     [str(group[s].folder) for s in seeds]))
    return with_holm(rows)


def ci_error(row: dict[str, Any]) -> list[list[float]] | None:
    """The ``yerr`` of a bar at ``row["mean"]`` that spans its confidence interval (None without one)."""
    if not np.isfinite(row["ci_low"]):
        return None
    return [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]


def _draw(config: SuppressionConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    try:
        runs = find_runs(ctx.results)
    except MissingResults as err:  # say which runs this figure needs, not the generic grid
        raise MissingResults(err.path, HINT) from None
    rows = suppression_rows(runs, config)
    if not rows:
        raise MissingResults(f"{ctx.results}: runs with overlay controls and an overlay-strength-0 expert control",
                             HINT)
    datasets = sorted({r["dataset"] for r in rows})
    quantities = [q for q in QUANTITIES if any(r["quantity"] == q for r in rows)]
    fig, axes = new_figure(len(quantities), 1, width=TEXT_WIDTH, height=2.4, sharey=True)
    for ax, quantity in zip(np.atleast_1d(axes), quantities):
        chosen = [r for r in rows if r["quantity"] == quantity]
        methods = sorted({r["method"] for r in chosen}, key=lambda m: (m != "expert", m))
        width = 0.8 / max(1, len(methods))
        labelled: set[str] = set()
        for j, method in enumerate(methods):
            for i, dataset in enumerate(datasets):
                match = [r for r in chosen if r["method"] == method and r["dataset"] == dataset]
                if match:
                    x = i + (j - (len(methods) - 1) / 2) * width
                    row = match[0]
                    ax.bar(x, row["mean"], width * 0.92, yerr=ci_error(row), capsize=2,
                           color=METHOD_COLORS.get(method, "0.5"), label=method if method not in labelled else None,
                           error_kw={"linewidth": 0.8})
                    if row["significant"]:
                        up = row["mean"] >= 0
                        ax.annotate("*", (x, row["ci_high"] if up else row["ci_low"]), xytext=(0, 1 if up else -3),
                                    textcoords="offset points", ha="center", va="bottom" if up else "top", fontsize=7)
                    labelled.add(method)
        ax.axhline(0, color="0.3", linewidth=0.6)
        ax.set_xticks(range(len(datasets)), datasets, fontsize=6)
        ax.set_title(quantity.replace("_", " "), fontsize=7)
        ax.legend(fontsize=6)
    np.atleast_1d(axes)[0].set_ylabel("task-A accuracy difference\n(mean, paired 95 % CI; * Holm p ≤ 0.05)")
    return fig, rows


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("deep_suppression", "deep runs: base-task suppression against the no-overlay control, and rescue",
               lambda quick: SuppressionConfig(), _draw, hint=HINT),
)
