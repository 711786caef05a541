"""Figure 7: the linear theory as a calibrated prediction of the deep runs (calibrate, then predict).

The two-block linear model (:class:`linear_theory.two_block.TwoBlock`: block 1 = the overlay,
deep task B; block 2 = the base photo, deep task A) has no pixel units, so it cannot be laid on
the deep numbers by hand. Instead:

1. **Calibrate on the expert runs of the overlay-strength sweep only** (no dropout). Free
   parameters: the overlay's strength scale ``a`` (``s_1 = a * o`` at overlay strength ``o``;
   ``s_2`` = the setting's weak strength), the capacity ``k`` (1 .. ``r_1 + r_2``), and per task an
   affine read-out from the closed form's probe ``R^2`` to deep accuracy,
   ``acc_t = floor_t + gain_t * R^2_t`` with ``gain_t >= 0`` (the deep probe is not a sign task).
   ``(a, k)`` are chosen on a grid, the read-outs by weighted least squares (weights ``1/sem^2``,
   the standard error over seeds floored at :attr:`TheoryVsDeepConfig.sem_floor`).
2. **Predict the dropout curve** at overlay strength 1 (``p`` on the overlay = ``p_1``) with the
   calibrated parameters, no refit, and compare with the dropout runs: RMSE, and the same RMSE for
   the null prediction "dropout changes nothing" (every ``p`` at the ``o = 1`` expert mean). The
   theory predicts something only where it beats the null.
3. **Predict dropout across overlay strengths** (panel c): dropout at ``p = dropout_p`` (0.5) at
   every overlay strength that has dropout runs, against the same null (the expert mean at that
   strength). Drawn only where such runs exist beyond strength 1.

Which deep accuracy: the linear model has no occlusion, so task A (the photo) is read on the
overlay-free test images (the overlay-control probe, ``probe.json`` ``fast.overlay_free``; the
drop on overlaid images mixes occlusion with suppression, see ``paper_figures.suppression``) and
task B on the run's own (overlaid) test images; ``task_a_images="own"`` reads both on the own images.

Only datasets that have an expert strength sweep (at least three strengths) are calibrated; the
figure is drawn for the first such dataset (C+Digits in ``results/claim-cpu``). Rows:
``source`` = ``deep`` (measured, ``panel`` ``overlay``/``dropout``/``dropout_strength``), ``fit`` (the
calibrated curve on the overlay panel), ``prediction`` (the dropout panels), ``calibration`` (the fitted parameters and
errors, one row per dataset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from linear_theory.two_block import TwoBlock
from paper_figures.deep import CAVEAT, HINT, DeepRun, find_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import summarize
from paper_figures.style import CLOSED_FORM, SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["TheoryVsDeepConfig", "Calibration", "Point", "calibrate", "deep_points", "theory_vs_deep", "FIGURES"]

TASK_BLOCK = {"task_b": 0, "task_a": 1}
"""Deep task -> linear block: the overlay (task B) is the strong block 1, the photo (task A) block 2."""


@dataclass(frozen=True)
class TheoryVsDeepConfig:
    """The linear setting, the calibration grid and the deep numbers read.

    Attributes:
        protocol: which probe of the deep runs (``fast`` or ``paper``).
        setting: the two-block model (its ``strong_strength`` is replaced by ``a * o``).
        scales: the grid of overlay strength scales ``a`` (log-spaced ``scale_range``, ``scale_points``).
        sem_floor: the smallest standard error a deep point is given (one seed has none).
        points: points of the drawn curves.
        task_a_images: ``"overlay_free"`` (default: no occlusion, as in the linear model) or ``"own"``.
        dropout_p: the dropout of panel (c), the strength sweep of dropout runs.
    """

    protocol: str = "fast"
    task_a_images: str = "overlay_free"
    setting: TwoBlock = field(default_factory=TwoBlock)
    scale_range: tuple[float, float] = (0.01, 30.0)
    scale_points: int = 400
    sem_floor: float = 0.005
    points: int = 201
    dropout_p: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.dropout_p < 1:
            raise ValueError(f"dropout_p must be in (0, 1), got {self.dropout_p}")
        lo, hi = self.scale_range
        if not 0 < lo < hi < np.inf:
            raise ValueError(f"scale_range must satisfy 0 < low < high, got {self.scale_range}")
        if self.scale_points < 2 or self.points < 2:
            raise ValueError("scale_points and points must be >= 2")
        if self.task_a_images not in ("overlay_free", "own"):
            raise ValueError(f"task_a_images must be 'overlay_free' or 'own', got {self.task_a_images!r}")
        if not self.sem_floor > 0:
            raise ValueError(f"sem_floor must be > 0, got {self.sem_floor}")

    def scales(self) -> np.ndarray:
        """The calibration grid of ``a``."""
        return np.geomspace(*self.scale_range, self.scale_points)


@dataclass(frozen=True)
class Point:
    """One deep measurement: mean and std over seeds of a task's accuracy at ``x``."""

    task: str
    x: float
    mean: float
    std: float
    n_seeds: int

    def sem(self, floor: float) -> float:
        """Standard error of the mean, at least ``floor`` (a single seed has no spread of its own)."""
        return max(self.std / np.sqrt(self.n_seeds) if self.n_seeds > 1 else 0.0, floor)


@dataclass(frozen=True)
class Calibration:
    """The fitted linear model: ``s_1 = scale * o``, capacity ``rep_dim``, a read-out per task."""

    scale: float
    rep_dim: int
    floor: dict[str, float]
    gain: dict[str, float]
    fit_rmse: float

    def accuracy(self, setting: TwoBlock, overlay_strength: Any, dropout: Any) -> dict[str, np.ndarray]:
        """Predicted deep accuracy per task at overlay strength(s) ``o`` and overlay dropout ``p``."""
        r2 = setting.predict(dropout, self.rep_dim, strong=self.scale * np.asarray(overlay_strength, float)).probe_r2
        return {task: self.floor[task] + self.gain[task] * r2[..., block] for task, block in TASK_BLOCK.items()}


def _readout(r2: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares ``y ~ floor + gain * r2`` with ``gain >= 0``; returns (floor, gain, sse)."""
    mean_r2, mean_y = np.average(r2, weights=w), np.average(y, weights=w)
    var = np.average((r2 - mean_r2) ** 2, weights=w)
    gain = max(np.average((r2 - mean_r2) * (y - mean_y), weights=w) / var, 0.0) if var > 1e-12 else 0.0
    floor = mean_y - gain * mean_r2
    return float(floor), float(gain), float(np.sum(w * (y - floor - gain * r2) ** 2))


def calibrate(points: list[Point], config: TheoryVsDeepConfig) -> Calibration:
    """Fit ``(a, k)`` on a grid and the read-outs by weighted least squares to expert-sweep points.

    Raises:
        ValueError: fewer than three overlay strengths per task (nothing to calibrate on).
    """
    for task in TASK_BLOCK:
        if len({p.x for p in points if p.task == task}) < 3:
            raise ValueError(f"calibration needs at least three overlay strengths of {task}")
    setting, scales = config.setting, config.scales()
    best: tuple[float, Calibration] | None = None
    for rep_dim in range(1, sum(setting.dims) + 1):
        by_task = {t: [p for p in points if p.task == t] for t in TASK_BLOCK}
        r2 = {t: setting.predict(0.0, rep_dim, strong=np.outer(scales, [p.x for p in ps])).probe_r2[..., TASK_BLOCK[t]]
              for t, ps in by_task.items()}
        for i, scale in enumerate(scales):
            floor, gain, sse = {}, {}, 0.0
            for task, ps in by_task.items():
                y = np.array([p.mean for p in ps])
                w = np.array([1.0 / p.sem(config.sem_floor) ** 2 for p in ps])
                floor[task], gain[task], err = _readout(r2[task][i], y, w)
                sse += err
            if best is None or sse < best[0] - 1e-12:
                best = (sse, Calibration(float(scale), rep_dim, floor, gain, 0.0))
    assert best is not None
    cal = best[1]
    fitted = [cal.accuracy(setting, p.x, 0.0)[p.task] for p in points]
    rmse = float(np.sqrt(np.mean([(p.mean - f) ** 2 for p, f in zip(points, fitted)])))
    return Calibration(cal.scale, cal.rep_dim, cal.floor, cal.gain, rmse)


def _accuracy(run: DeepRun, task: str, config: TheoryVsDeepConfig) -> float:
    """The deep number a task is compared on (task A on overlay-free images, see the module docstring)."""
    if task == "task_a" and config.task_a_images == "overlay_free":
        control = run.probe[config.protocol].get("overlay_free")
        if control is None:
            raise MissingResults(run.folder / "probe.json (overlay-free control: rerun the probe)", HINT)
        return float(control[task])
    return run.accuracy(config.protocol, task)


def deep_points(runs: list[DeepRun], dataset: str,
                config: TheoryVsDeepConfig) -> tuple[list[Point], list[Point], list[DeepRun]]:
    """The expert strength sweep and the dropout sweep at strength 1 of ``dataset`` (+ the runs used)."""
    sweep = [r for r in runs if r.dataset == dataset and r.method == "expert"]
    drop = [r for r in runs if r.dataset == dataset and r.method == "dropout" and np.isclose(r.overlay_strength, 1.0)]
    return (_points(sweep, lambda r: r.overlay_strength, config), _points(drop, lambda r: r.dropout_p, config),
            sweep + drop)


def dropout_strength_points(runs: list[DeepRun], dataset: str,
                            config: TheoryVsDeepConfig) -> tuple[list[Point], list[DeepRun]]:
    """The dropout runs at ``config.dropout_p`` of ``dataset`` by overlay strength (+ the runs used)."""
    drop = [r for r in runs if r.dataset == dataset and r.method == "dropout" and np.isclose(r.dropout_p, config.dropout_p)]
    return _points(drop, lambda r: r.overlay_strength, config), drop


def _points(group: list[DeepRun], key: Any, config: TheoryVsDeepConfig) -> list[Point]:
    """Mean and std over seeds per task and per distinct ``key(run)``."""
    out = []
    for task in TASK_BLOCK:
        for x in sorted({key(r) for r in group}):
            accs = [_accuracy(r, task, config) for r in group if np.isclose(key(r), x)]
            mean, std = summarize(accs)
            out.append(Point(task, float(x), mean, 0.0 if len(accs) < 2 else std, len(accs)))
    return out


def _calibrated_datasets(runs: list[DeepRun]) -> list[str]:
    """Datasets with an expert sweep over at least three overlay strengths."""
    return sorted(ds for ds in {r.dataset for r in runs}
                  if len({r.overlay_strength for r in runs if r.dataset == ds and r.method == "expert"}) >= 3)


def _errors(points: list[Point], predict: Any, null: Any) -> dict[str, tuple[float, float, int]]:
    """Per task: (RMSE of ``predict(x)[task]``, RMSE of the null ``null(task, x)``, number of points).

    Points whose null is unknown (no expert run at that setting) are left out of both.
    """
    out = {}
    for task in TASK_BLOCK:
        measured = [p for p in points if p.task == task and np.isfinite(null(task, p.x))]
        if measured:
            y = np.array([p.mean for p in measured])
            predicted = np.array([float(predict(p.x)[task]) for p in measured])
            reference = np.array([null(task, p.x) for p in measured])
            out[task] = (float(np.sqrt(np.mean((y - predicted) ** 2))), float(np.sqrt(np.mean((y - reference) ** 2))),
                         len(measured))
    return out


def theory_vs_deep(runs: list[DeepRun], config: TheoryVsDeepConfig,
                   log: Any = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 7: fit on the expert strength sweep (a), predict the dropout sweep (b) and, where
    dropout runs exist at other overlay strengths, dropout across strengths (c).

    Logs the calibration and the prediction errors against the null prediction (one line each).
    """
    datasets = _calibrated_datasets(runs)
    if not datasets:
        raise MissingResults("<results>/<dataset>/expert/os<s>_p0/ at three or more overlay strengths", HINT)
    rows: list[dict[str, Any]] = []
    across = {ds: dropout_strength_points(runs, ds, config) for ds in datasets}
    panels = 3 if len({p.x for p in across[datasets[0]][0]}) > 1 else 2
    fig, axes = new_figure(panels, width=TEXT_WIDTH, height=2.7, sharey=True)
    for n, dataset in enumerate(datasets):
        sweep, drop, used = deep_points(runs, dataset, config)
        strength_pts, strength_runs = across[dataset]
        cal = calibrate(sweep, config)
        grid_o = np.linspace(0.0, max(p.x for p in sweep), config.points)
        grid_p = np.linspace(0.0, 0.99, config.points)
        fit, pred = cal.accuracy(config.setting, grid_o, 0.0), cal.accuracy(config.setting, 1.0, grid_p)
        pred_o = cal.accuracy(config.setting, grid_o, config.dropout_p)

        def expert_mean(task: str, o: float, sweep: list[Point] = sweep) -> float:
            return next((p.mean for p in sweep if p.task == task and np.isclose(p.x, o)), np.nan)

        errors = _errors(drop, lambda x, cal=cal: cal.accuracy(config.setting, 1.0, x),
                         lambda t, x: expert_mean(t, 1.0))
        errors_o = _errors(strength_pts, lambda x, cal=cal: cal.accuracy(config.setting, x, config.dropout_p),
                           expert_mean)
        rows.append({"source": "calibration", "dataset": dataset, "scale": cal.scale, "rep_dim": cal.rep_dim,
                     **{f"floor_{t}": cal.floor[t] for t in TASK_BLOCK}, **{f"gain_{t}": cal.gain[t] for t in TASK_BLOCK},
                     "fit_rmse": cal.fit_rmse,
                     **{f"prediction_rmse_{t}": e[0] for t, e in errors.items()},
                     **{f"null_rmse_{t}": e[1] for t, e in errors.items()},
                     **{f"strength_prediction_rmse_{t}": e[0] for t, e in errors_o.items()},
                     **{f"strength_null_rmse_{t}": e[1] for t, e in errors_o.items()},
                     "dropout_p": config.dropout_p,
                     "folders": ";".join(dict.fromkeys(str(r.folder) for r in used + strength_runs))})
        log(f"  {dataset}: calibrated on {len(sweep) // 2} overlay strengths: s_1 = {cal.scale:.3g} * o (s_2 = "
            f"{config.setting.weak_strength:g}), k = {cal.rep_dim}, read-out task A {cal.floor['task_a']:.3f} + "
            f"{cal.gain['task_a']:.3f} R^2, task B {cal.floor['task_b']:.3f} + {cal.gain['task_b']:.3f} R^2; "
            f"fit RMSE {cal.fit_rmse:.4f}")
        for what, errs in (("dropout prediction at strength 1, by p", errors),
                           (f"dropout p {config.dropout_p:g} prediction, by overlay strength", errors_o)):
            for task, (rmse, null, count) in errs.items():
                verdict = "beats" if rmse < null else "does not beat"
                log(f"  {dataset}: {what}, {task} ({count} points): RMSE {rmse:.4f} vs {null:.4f} for "
                    f"'dropout changes nothing' -> the theory {verdict} the null")
        if n:  # one dataset drawn; the others are in the rows and the log
            continue
        drawn = [(axes[0], "overlay", grid_o, fit, "fit", sweep), (axes[1], "dropout", grid_p, pred, "prediction", drop)]
        if panels == 3:
            drawn.append((axes[2], "dropout_strength", grid_o, pred_o, "prediction", strength_pts))
        for task, block in TASK_BLOCK.items():
            color = task_color(block)
            for ax, panel, grid, curves, source, pts in drawn:
                curve = curves[task]
                ax.plot(grid, curve, color=color, **CLOSED_FORM)
                rows += [{"source": source, "dataset": dataset, "panel": panel, "task": task, "x": float(x),
                          "accuracy": float(a)} for x, a in zip(grid[::10], curve[::10])]
                mine = [p for p in pts if p.task == task]
                if mine:
                    ax.errorbar([p.x for p in mine], [p.mean for p in mine], yerr=[p.std for p in mine], color=color,
                                marker="o", markersize=3.5, capsize=2, **SIMULATION)
                rows += [{"source": "deep", "dataset": dataset, "panel": panel, "task": task, "x": p.x, "mean": p.mean,
                          "std": p.std, "n_seeds": p.n_seeds, "protocol": config.protocol,
                          "images": config.task_a_images if task == "task_a" else "own"} for p in mine]
        size = 7 if panels == 2 else 6
        axes[0].set_title(f"(a) {dataset}, expert views: calibration\n"
                          f"$s_1 = {cal.scale:.2g}\\,o$, $k = {cal.rep_dim}$, RMSE {cal.fit_rmse:.3f}", fontsize=size)
        shown = ", ".join(f"{t[-1].upper()} {e[0]:.3f} (null {e[1]:.3f})" for t, e in errors.items())
        axes[1].set_title(f"(b) dropout at $o = 1$: prediction, no refit\nRMSE {shown}", fontsize=size)
        if panels == 3:
            shown = ", ".join(f"{t[-1].upper()} {e[0]:.3f} (null {e[1]:.3f})" for t, e in errors_o.items())
            axes[2].set_title(f"(c) dropout $p = {config.dropout_p:g}$ by $o$: prediction\nRMSE {shown}", fontsize=size)
            axes[2].set_xlabel("overlay strength $o$")
    axes[0].set_xlabel("overlay strength $o$")
    axes[1].set_xlabel("feature dropout $p$ on the overlay ($p_1$)")
    axes[0].set_ylabel(f"{config.protocol} probe accuracy\n(task A: {config.task_a_images.replace('_', '-')} images)")
    handles = [Line2D([], [], color=task_color(0), label="task B / block 1 (overlay)"),
               Line2D([], [], color=task_color(1), label="task A / block 2 (photo)"),
               Line2D([], [], color="0.3", marker="o", markersize=3.5, **SIMULATION, label="deep runs (mean ± std)"),
               Line2D([], [], color="0.3", **CLOSED_FORM, label="calibrated linear model")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=6)
    fig.suptitle(f"linear theory calibrated on the strength sweep, then predicting dropout ({CAVEAT})", fontsize=7)
    return fig, rows


def _config(quick: bool) -> TheoryVsDeepConfig:
    return TheoryVsDeepConfig(scale_points=60, points=41) if quick else TheoryVsDeepConfig()


def _draw(config: TheoryVsDeepConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return theory_vs_deep(find_runs(ctx.results), config, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("theory_vs_deep", "the linear model calibrated on the expert strength sweep, predicting the dropout sweep",
               _config, _draw, hint=HINT),
)
