"""Figure 7: the occlusion-aware linear model calibrated where suppression is real, then predicting.

One row per dataset with an expert overlay-strength sweep (at least three strengths above 0), e.g.
C+Letters and C+Shapes in ``results/claim5-cpu``. :mod:`paper_figures.occlusion_fit` does the work:
both models (occlusion-aware, and the orthogonal two-block model = the same family at overlap 0)
are fitted to the expert runs at strengths above 0, then predict, with no refit, the no-overlay
control, the dropout ``p`` sweep and the de-shared overlay, and the same cells with the mechanism
fitted on the other dataset (leave one dataset out).

Panels per dataset: (a) the calibration (three observables against the overlay strength; the
curves' value at strength 0 is the prediction of the no-overlay control); (b) the dropout sweep at
strength 1; (c) the de-shared overlay and the no-overlay control, measured against both models and
the "nothing changes" null. Deep points: mean over seeds with the 95 % t interval.

Rows (``source``): ``deep`` (measured), ``curve`` (a model's drawn curve), ``calibration`` (one per
dataset and model: parameters, profile intervals, fit quality), ``profile`` (chi-square profile of
each searched parameter), ``prediction`` (a model's value at a measured target cell) and ``verdict``
(per target and null: per-seed errors, paired interval, Holm-adjusted p, verdict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paper_figures.deep import CAVEAT, HINT, DeepRun, find_runs
from paper_figures.occlusion_fit import (
    OBSERVABLES,
    TARGETS,
    Cell,
    Fit,
    FitConfig,
    Measurement,
    calibration_set,
    chance_levels,
    fit,
    measurements,
    peak_opacity,
    score,
    target_set,
    verdicts,
    without_seed,
)
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import interval_text
from paper_figures.style import TEXT_WIDTH, new_figure

__all__ = ["TheoryVsDeepConfig", "theory_vs_deep", "analyse", "markdown", "FIGURES"]

COLORS = {"a_overlaid": "#1f77b4", "a_free": "#17becf", "b_overlaid": "#d62728"}
LABELS = {"a_overlaid": "task A, overlaid images", "a_free": "task A, overlay-free images",
          "b_overlaid": "task B (overlay), overlaid images"}
STYLE = {"occlusion": {"linestyle": "-", "linewidth": 1.4}, "orthogonal": {"linestyle": ":", "linewidth": 1.4}}


@dataclass(frozen=True)
class TheoryVsDeepConfig:
    """Which probe is read, the model's fixed part and grids, and how finely curves are drawn."""

    protocol: str = "fast"
    fit: FitConfig = field(default_factory=FitConfig)
    points: int = 41

    def __post_init__(self) -> None:
        if self.protocol not in ("fast", "paper"):
            raise ValueError(f"protocol must be 'fast' or 'paper', got {self.protocol!r}")
        if self.points < 2:
            raise ValueError("points must be >= 2")


def calibrated_datasets(runs: list[DeepRun]) -> list[str]:
    """Datasets with expert runs at three or more overlay strengths above 0."""
    return sorted(ds for ds in {r.dataset for r in runs}
                  if len({r.overlay_strength for r in runs
                          if r.dataset == ds and r.method == "expert" and r.overlay_strength > 0}) >= 3)


def analyse(runs: list[DeepRun], config: TheoryVsDeepConfig) -> tuple[dict[str, list[Measurement]],
                                                                      dict[tuple[str, str], Fit], list[dict[str, Any]]]:
    """Measurements per dataset, fits per (dataset, model) and the verdict rows (every target, both nulls).

    Raises:
        MissingResults: no dataset has an expert strength sweep.
    """
    datasets = calibrated_datasets(runs)
    if not datasets:
        raise MissingResults("<results>/<dataset>/expert/os<s>_p<p>/ at three or more overlay strengths above 0", HINT)
    data = {ds: measurements(runs, ds, config.protocol) for ds in datasets}
    facts = {ds: {"chance": chance_levels(runs, ds), "peak_opacity": peak_opacity(ds)} for ds in datasets}
    for ds in datasets:  # a de-shared pair draws the same overlay class with chance 1 / classes of task B
        facts[ds]["deshared_kappa"] = facts[ds]["chance"]["b"]
    fits = {(ds, model): fit(calibration_set(data[ds]), config.fit, orthogonal=model == "orthogonal", **facts[ds])
            for ds in datasets for model in ("occlusion", "orthogonal")}
    cache: dict[tuple[str, int, str | None], tuple[Fit, Fit, list[Measurement]]] = {}

    def fits_without(ds: str, seed: int, carried_from: str | None = None) -> tuple[Fit, Fit, list[Measurement]]:
        """Both models fitted on ``ds`` without ``seed`` (``carried_from``: that dataset's mechanism, read-outs
        fitted here), and the measurements they saw."""
        key = (ds, seed, carried_from)
        if key not in cache:
            rest = without_seed(data[ds], seed)
            made = {model: fit(calibration_set(rest), config.fit, orthogonal=model == "orthogonal",
                               mechanism=None if carried_from is None else fits[carried_from, model], **facts[ds])
                    for model in ("occlusion", "orthogonal")}
            cache[key] = (made["occlusion"], made["orthogonal"], rest)
        return cache[key]

    scores = []
    for ds in datasets:
        for target in TARGETS:
            sources = [None] if target != "other_dataset" else [o for o in datasets if o != ds]
            for other in sources:
                scores.append(score(target, target_set(data[ds], target),
                                    lambda seed, ds=ds, other=other: fits_without(ds, seed, other),
                                    ds if other is None else other, config.fit))
    return data, fits, verdicts([s for s in scores if s is not None])


def _calibration_row(f: Fit) -> dict[str, Any]:
    row: dict[str, Any] = {"source": "calibration", "dataset": f.dataset, "model": f.model, "scale": f.scale,
                           "overlap": f.overlap, "rep_dim": f.rep_dim, "chi2": f.chi2, "fit_rmse": f.rmse,
                           "n_points": f.n_points, "n_params": f.n_params, "at_grid_edge": ";".join(f.at_edge)}
    for g in ("a", "b"):
        row.update({f"floor_{g}": f.floor[g], f"gain_{g}": f.gain[g], f"gain_se_{g}": f.gain_se[g],
                    f"unbounded_floor_{g}": f.free_floor[g], f"unbounded_gain_{g}": f.free_gain[g]})
    for p in f.profiles:
        row[f"{p.parameter}_low"], row[f"{p.parameter}_high"] = p.interval()
        row[f"{p.parameter}_profile"] = p.describe()
    row["profile_cut"] = f.profiles[0].cut if f.profiles else float("nan")
    return row


def _deep_row(m: Measurement) -> dict[str, Any]:
    low, high = m.interval()
    return {"source": "deep", "dataset": m.dataset, "cell": m.cell.label(), "kind": m.cell.kind,
            "strength": m.cell.strength, "dropout": m.cell.dropout, "observable": m.observable, "mean": m.mean,
            "ci_low": low, "ci_high": high, "n_seeds": len(m.by_seed), "seeds": " ".join(map(str, m.by_seed))}


def _curves(f: Fit, config: TheoryVsDeepConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(strength grid, accuracy over it), (p grid, accuracy over it) of a fit."""
    o = np.linspace(0.0, 1.0, config.points)
    p = np.linspace(0.0, 0.95, config.points)
    by_o = f.predict(config.fit, [Cell("expert", float(x)) for x in o])
    by_p = f.predict(config.fit, [Cell("dropout", 1.0, float(x)) for x in p])
    return o, by_o, p, by_p


def _errorbar(ax: Any, xs: list[float], ms: list[Measurement], color: str, marker: str = "o") -> None:
    means = np.array([m.mean for m in ms])
    lows, highs = zip(*(m.interval() for m in ms))
    err = np.nan_to_num(np.array([means - np.array(lows), np.array(highs) - means]))
    ax.errorbar(xs, means, yerr=err, color=color, marker=marker, markersize=3.5, linestyle="none", capsize=2, zorder=4)


def theory_vs_deep(runs: list[DeepRun], config: TheoryVsDeepConfig,
                   log: Any = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 7 and its rows (module docstring); logs each calibration and each verdict, one line each."""
    data, fits, verdict_rows = analyse(runs, config)
    datasets = list(data)
    fig, axes = new_figure(3, len(datasets), width=TEXT_WIDTH, height=2.4 * len(datasets), sharey="row")
    axes = np.asarray(axes, dtype=object).reshape(len(datasets), 3)
    rows: list[dict[str, Any]] = []
    for n, ds in enumerate(datasets):
        ms = data[ds]
        rows += [_deep_row(m) for m in ms]
        for model in ("occlusion", "orthogonal"):
            f = fits[ds, model]
            rows.append(_calibration_row(f))
            rows += [{"source": "profile", "dataset": ds, "model": model, "parameter": p.parameter, "value": v,
                      "chi2": c} for p in f.profiles for v, c in zip(p.values, p.chi2)]
            log(f"  {ds} {model}: scale {f.scale:.3g}, overlap {f.overlap:.2f}, k {f.rep_dim}; read-out A "
                f"{f.floor['a']:.3f} + {f.gain['a']:.3f} R^2, B {f.floor['b']:.3f} + {f.gain['b']:.3f} R^2; "
                f"{f.n_params} parameters on {f.n_points} points, chi2 {f.chi2:.1f}, RMSE {f.rmse:.4f}"
                + (f" (at grid edge: {', '.join(f.at_edge)})" if f.at_edge else ""))
            targets = sorted({m.cell for m in ms})
            predicted = f.predict(config.fit, targets)
            rows += [{"source": "prediction", "dataset": ds, "model": model, "cell": c.label(), "observable": o,
                      "accuracy": float(predicted[i, j])} for i, c in enumerate(targets) for j, o in enumerate(OBSERVABLES)]
            o_grid, by_o, p_grid, by_p = _curves(f, config)
            for j, obs in enumerate(OBSERVABLES):
                axes[n, 0].plot(o_grid, by_o[:, j], color=COLORS[obs], **STYLE[model])
                axes[n, 1].plot(p_grid, by_p[:, j], color=COLORS[obs], **STYLE[model])
                rows += [{"source": "curve", "dataset": ds, "model": model, "panel": panel, "observable": obs,
                          "x": float(x), "accuracy": float(a)}
                         for panel, grid, curve in (("strength", o_grid, by_o[:, j]), ("dropout", p_grid, by_p[:, j]))
                         for x, a in zip(grid, curve)]
        for obs in OBSERVABLES:
            sweep = sorted((m for m in ms if m.observable == obs and m.cell.kind == "expert"), key=lambda m: m.cell.strength)
            fitted = [m for m in sweep if m.cell.strength > 0]
            _errorbar(axes[n, 0], [m.cell.strength for m in fitted], fitted, COLORS[obs])
            control = [m for m in sweep if m.cell.strength == 0]  # predicted, not fitted: another marker
            if control:
                _errorbar(axes[n, 0], [0.0], control, COLORS[obs], marker="D")
            drop = [m for m in ms if m.observable == obs and m.cell == Cell("expert", 1.0)]
            drop += sorted((m for m in ms if m.observable == obs and m.cell.kind == "dropout" and m.cell.strength == 1.0),
                           key=lambda m: m.cell.dropout)
            _errorbar(axes[n, 1], [m.cell.dropout for m in drop], drop, COLORS[obs])
        _controls_panel(axes[n, 2], ms, fits[ds, "occlusion"], fits[ds, "orthogonal"], config)
        occ = fits[ds, "occlusion"]
        axes[n, 0].set_title(f"(a) {ds}: expert sweep, fitted (o > 0)\nocclusion w = {occ.overlap:.2f}, k = {occ.rep_dim}",
                             fontsize=7)
        axes[n, 1].set_title("(b) dropout p at o = 1: predicted", fontsize=7)
        axes[n, 2].set_title("(c) de-shared overlay, no-overlay control: predicted", fontsize=7)
        axes[n, 0].set_ylabel(f"{config.protocol} probe accuracy")
    for row in verdict_rows:
        log(f"  {row['dataset']} {row['target']} (fitted on {row['fitted_on']}) vs {row['null']}: RMSE "
            f"{row['model_rmse']:.4f} vs {row['null_rmse']:.4f}, difference {row['difference']:+.4f} "
            f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}], Holm p {row['p_holm']:.3g} -> {row['verdict']}")
    rows += [{"source": "verdict", **{k: (" ".join(repr(float(x)) for x in v) if isinstance(v, list) else v)
                                      for k, v in row.items()}} for row in verdict_rows]
    axes[-1, 0].set_xlabel("overlay strength o")
    axes[-1, 1].set_xlabel("feature dropout p on the overlay")
    handles = [Line2D([], [], color=COLORS[o], label=LABELS[o]) for o in OBSERVABLES]
    handles += [Line2D([], [], color="0.3", **STYLE["occlusion"], label="occlusion-aware model"),
                Line2D([], [], color="0.3", **STYLE["orthogonal"], label="orthogonal two-block model"),
                Line2D([], [], color="0.3", marker="o", linestyle="none", markersize=3.5,
                       label="deep runs (mean, 95 % t interval)"),
                Line2D([], [], color="0.3", marker="D", linestyle="none", markersize=3.5,
                       label="no-overlay control (predicted)"),
                Line2D([], [], color="0.3", marker="x", linestyle="none", label="'nothing changes' (expert o = 1)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=6)
    fig.suptitle(f"linear theory fitted on the expert strength sweep, predicting the controls and dropout ({CAVEAT})",
                 fontsize=7)
    return fig, rows


def _controls_panel(ax: Any, ms: list[Measurement], occ: Fit, ortho: Fit, config: TheoryVsDeepConfig) -> None:
    """Panel (c): per observable, the de-shared and control cells measured, both models' values and the null."""
    cells = [c for c in (Cell("deshared", 1.0), Cell("expert", 0.0)) if any(m.cell == c for m in ms)]
    ticks, labels = [], []
    for i, cell in enumerate(cells):
        values = {model: f.predict(config.fit, [cell])[0] for model, f in (("occlusion", occ), ("orthogonal", ortho))}
        for j, obs in enumerate(OBSERVABLES):
            x = i * (len(OBSERVABLES) + 1) + j
            m = next((m for m in ms if m.cell == cell and m.observable == obs), None)
            if m is not None:
                _errorbar(ax, [x], [m], COLORS[obs])
            ax.plot([x - 0.35, x + 0.35], [values["occlusion"][j]] * 2, color=COLORS[obs], **STYLE["occlusion"])
            ax.plot([x - 0.35, x + 0.35], [values["orthogonal"][j]] * 2, color=COLORS[obs], **STYLE["orthogonal"])
            null = next((m.mean for m in ms if m.cell == Cell("expert", 1.0) and m.observable == obs), None)
            if null is not None:
                ax.plot([x + 0.25], [null], marker="x", color=COLORS[obs], markersize=4)
        ticks.append(i * (len(OBSERVABLES) + 1) + 1)
        labels.append(cell.label().replace("deshared o=1", "de-shared"))
    ax.set_xticks(ticks, labels, fontsize=6)


TARGET_NAMES = {"control": "no-overlay control", "dropout": "dropout p sweep (o = 1)",
                "deshared": "de-shared overlay", "other_dataset": "all three, mechanism from the other dataset"}
NULL_NAMES = {"nothing_changes": "nothing changes", "orthogonal": "orthogonal model"}


def markdown(runs: list[DeepRun], config: TheoryVsDeepConfig) -> str:
    """The calibration table and the verdict table of figure 7, as markdown (what the docs embed)."""
    data, fits, verdict_rows = analyse(runs, config)
    lines = ["| dataset | model | parameters / points | scale [95 % profile] | overlap w | k | read-out A: floor + gain "
             "R² (unbounded) | read-out B | χ² | fit RMSE |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (ds, model), f in fits.items():
        def span(name: str, value: float, fmt: str, f: Fit = f) -> str:
            prof = {p.parameter: p for p in f.profiles}
            if name not in prof:
                return "0 (fixed)"
            low, high = prof[name].interval()
            notes = [(("grid edge" if name == "scale" else "bound") if name in f.at_edge else ""), prof[name].describe()]
            note = ", ".join(n for n in notes if n)
            return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]" + (f" ({note})" if note else "")

        readout = {g: f"{f.floor[g]:.3f} + {f.gain[g]:.3f} ({f.free_floor[g]:.3f} + {f.free_gain[g]:.3f})"
                   for g in ("a", "b")}
        lines.append(f"| {ds} | {model} | {f.n_params} / {f.n_points} | {span('scale', f.scale, '.3g')} | "
                     f"{span('overlap', f.overlap, '.2f')} | {span('rep_dim', f.rep_dim, '.0f')} | {readout['a']} | "
                     f"{readout['b']} | {f.chi2:.1f} | {f.rmse:.4f} |")
    seeds = {ds: sorted({s for m in ms for s in m.by_seed}) for ds, ms in data.items()}
    lines += ["", "| dataset | predicted | mechanism fitted on | cells | seeds | occlusion model RMSE | null | null RMSE | "
              "difference [95 % CI] | Holm p | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    drops = {ds: ", ".join(f"{p:g}" for p in sorted({m.cell.dropout for m in ms if m.cell.kind == "dropout"}))
             for ds, ms in data.items()}
    for row in verdict_rows:
        name = TARGET_NAMES[row["target"]].replace("(o = 1)", f"(p = {drops[row['dataset']]}; o = 1)")
        lines.append(f"| {row['dataset']} | {name} | {row['fitted_on']} | {row['n_cells']} | "
                     f"{row['n_seeds']} | {row['model_rmse']:.4f} | {NULL_NAMES[row['null']]} | {row['null_rmse']:.4f} | "
                     f"{row['difference']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] | {row['p_holm']:.2g} | "
                     f"{row['verdict']} |")
    lines += ["", "| dataset | cell | observable | measured [95 % CI] | occlusion model | orthogonal model | "
              "nothing changes |", "|---|---|---|---|---|---|---|"]
    for ds, ms in data.items():
        cells = sorted({m.cell for m in ms}, key=lambda c: (c.kind != "expert", c.kind, c.strength, c.dropout))
        values = {model: fits[ds, model].predict(config.fit, cells) for model in ("occlusion", "orthogonal")}
        for i, cell in enumerate(cells):
            for j, obs in enumerate(OBSERVABLES):
                m = next((m for m in ms if m.cell == cell and m.observable == obs), None)
                null = next((x.mean for x in ms if x.cell == Cell("expert", 1.0) and x.observable == obs), None)
                if m is None:
                    continue
                low, high = m.interval()
                measured = interval_text(m.mean, low, high, len(m.by_seed))
                role = " (fitted)" if cell.kind == "expert" and cell.strength > 0 else ""
                lines.append(f"| {ds} | {cell.label()}{role} | {obs.replace('_', ' ')} | {measured} | "
                             f"{values['occlusion'][i, j]:.3f} | {values['orthogonal'][i, j]:.3f} | "
                             f"{'—' if null is None or role else f'{null:.3f}'} |")
    lines += ["", "Per panel:"]
    words = {"beats": "beats", "worse": "is worse than", "tie": "cannot be told from", "n/a": "is not compared with"}
    panels = {"dropout": "(b) dropout sweep", "control": "(c) no-overlay control", "deshared": "(c) de-shared overlay",
              "other_dataset": "leave one dataset out"}
    for ds in data:
        occ, ortho = fits[ds, "occlusion"], fits[ds, "orthogonal"]
        lines.append(f"- {ds}, (a) calibration: the occlusion model fits the sweep with χ² {occ.chi2:.1f} on "
                     f"{occ.n_points} points ({occ.n_params} parameters), the orthogonal model with χ² {ortho.chi2:.1f} "
                     f"({ortho.n_params} parameters).")
        for target, name in panels.items():
            for source in dict.fromkeys(r["fitted_on"] for r in verdict_rows if r["dataset"] == ds and r["target"] == target):
                mine = {r["null"]: r for r in verdict_rows
                        if r["dataset"] == ds and r["target"] == target and r["fitted_on"] == source}
                said = " and ".join(f"{words[r['verdict']]} '{NULL_NAMES[null]}'" for null, r in mine.items())
                via = f" (mechanism from {source})" if source != ds else ""
                lines.append(f"- {ds}, {name}{via}: the occlusion model {said}.")
    lines += ["", "Seeds per dataset: " + "; ".join(f"{ds} {' '.join(map(str, s))}" for ds, s in seeds.items())
              + ". RMSE: root-mean-square error of the predicted accuracies over the target's cells, per seed, "
              "then averaged; difference: model minus null, paired by seed (95 % t interval); Holm over this table."]
    return "\n".join(lines)


def _config(quick: bool) -> TheoryVsDeepConfig:
    if quick:
        return TheoryVsDeepConfig(fit=FitConfig(scale_points=16, overlap_points=6), points=11)
    return TheoryVsDeepConfig()


def _draw(config: TheoryVsDeepConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return theory_vs_deep(find_runs(ctx.results), config, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("theory_vs_deep", "the occlusion-aware linear model fitted on the expert strength sweep, predicting "
               "the controls, the dropout sweep and the other dataset", _config, _draw, hint=HINT),
)
