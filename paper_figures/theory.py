"""Figures of the linear theory (shared/theory.md): phase diagram, learning curves, spectral vs InfoNCE.

Each figure is a function ``figure(config) -> (fig, table)``; the table holds every plotted number
(one dict per row; ``panel`` / ``rep_dim`` / ``dropout`` columns say where it is drawn) and is what the tests check against
the closed forms. All use the two-block model of theory.md: block 1 strong (``s_1 = 3``, no
augmentation noise), block 2 weak (``s_2 = ratio * s_1``, augmentation noise ``eta_2 = 0.5``),
``r_1 = r_2 = 4``, ``sigma = 0.1``; feature dropout ``p`` acts on block 1.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

import linear_theory.simulate
from linear_theory import FeatureBlock, LinearModel, captured_strength, critical_dropout
from linear_theory.dynamics import gradient_flow, logistic_trajectory, orthogonal_init
from linear_theory.simulate import SimulationConfig, initial_encoder, simulate_many
from linear_theory.sweep import SweepConfig, closed_form_sweep
from linear_theory.trajectory import Trajectory
from paper_figures.io import to_jsonable
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.style import CLOSED_FORM, HEATMAP_CMAP, SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["PhaseDiagramConfig", "phase_diagram", "LearningCurvesConfig", "learning_curves",
           "SpectralVsInfoNCEConfig", "spectral_vs_infonce", "FIGURES"]

_R2 = "probe $R^2$"


# ---------------------------------------------------------------------------------------------
# Figure 1: phase diagram
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseDiagramConfig:
    """Grid of the phase diagram.

    Attributes:
        strong_strength, dims, noise, aug_noise: the two-block model (``s_1``, ``(r_1, r_2)``,
            ``sigma``, ``(eta_1, eta_2)``), as in :class:`linear_theory.sweep.SweepConfig`.
        ratio_range: ``(min, max, num)`` of the weak/strong strength ratio, log-spaced (``p*``
            changes fastest at small ratios).
        dropout_range: ``(min, max, num)`` of the dropout on block 1, linearly spaced.
        rep_dims: capacities of the two heat maps: ``k = r_1`` (suppression is total) and
            ``k = r_1 + 2`` (both tasks can be learned).
        slice_ratio: ratio of the cut drawn in panel (c) (``1/3``: ``s_2 = 1`` as in theory.md).
        slice_points: dropout values along that cut.
    """

    strong_strength: float = 3.0
    dims: tuple[int, int] = (4, 4)
    noise: float = 0.1
    aug_noise: tuple[float, float] = (0.0, 0.5)
    ratio_range: tuple[float, float, int] = (0.01, 1.0, 97)
    dropout_range: tuple[float, float, int] = (0.0, 0.98, 99)
    rep_dims: tuple[int, int] = (4, 6)
    slice_ratio: float = 1.0 / 3.0
    slice_points: int = 197

    def __post_init__(self) -> None:
        lo, hi, n = self.ratio_range
        if not (0 < lo <= hi and n >= 2):
            raise ValueError(f"PhaseDiagramConfig.ratio_range must be (min > 0, max >= min, num >= 2), got "
                             f"{self.ratio_range}")
        if not (0 <= self.dropout_range[0] <= self.dropout_range[1] <= 1 and self.dropout_range[2] >= 2):
            raise ValueError(f"PhaseDiagramConfig.dropout_range must lie in [0, 1] with num >= 2, got "
                             f"{self.dropout_range}")
        if self.slice_points < 2 or not self.slice_ratio > 0:
            raise ValueError("PhaseDiagramConfig needs slice_ratio > 0 and slice_points >= 2")

    @classmethod
    def quick(cls) -> PhaseDiagramConfig:
        """A coarse grid (tests, previews)."""
        return cls(ratio_range=(0.01, 1.0, 9), dropout_range=(0.0, 0.98, 11), slice_points=21)

    def ratios(self) -> np.ndarray:
        """Log-spaced strength ratios, shape ``(num,)``."""
        lo, hi, n = self.ratio_range
        return np.geomspace(lo, hi, n)

    def dropouts(self) -> np.ndarray:
        """Linearly spaced dropout values, shape ``(num,)``."""
        return np.linspace(*self.dropout_range)

    def sweep_config(self, ratio: float, dropout: tuple[float, float, int], rep_dim: int) -> SweepConfig:
        """The :class:`SweepConfig` of one ratio, a dropout range and a capacity."""
        return SweepConfig(ratio=(ratio, ratio, 1), dropout=dropout, strong_strength=self.strong_strength,
                           dims=self.dims, rep_dim=rep_dim, noise=self.noise, aug_noise=self.aug_noise)


def _sweep(config: PhaseDiagramConfig, ratios: np.ndarray, dropout: tuple[float, float, int],
           rep_dim: int) -> dict[str, np.ndarray]:
    """``closed_form_sweep`` over arbitrary (here log-spaced) ratios: one call per ratio, stacked."""
    parts = [closed_form_sweep(config.sweep_config(float(r), dropout, rep_dim)) for r in ratios]
    return {key: np.concatenate([p[key] for p in parts], axis=0) for key in parts[0]}


def _grid_rows(panel: str, rep_dim: int, res: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    for idx in np.ndindex(res["ratio"].shape):
        rows.append({
            "panel": panel, "rep_dim": rep_dim, "ratio": float(res["ratio"][idx]),
            "dropout": float(res["dropout"][idx]), "p_star": float(res["p_star"][idx]),
            "probe_r2_task1": float(res["probe_r2"][idx][0]), "probe_r2_task2": float(res["probe_r2"][idx][1]),
            "captured_dims_block1": float(res["captured_dims"][idx][0]),
            "captured_dims_block2": float(res["captured_dims"][idx][1]),
        })
    return rows


def phase_diagram(config: PhaseDiagramConfig | None = None) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 1: where feature dropout rescues the suppressed feature (spectral closed form).

    (a) Task-2 probe ``R^2`` over (strength ratio ``s_2/s_1``, dropout ``p_1``) at ``k = r_1 = 4``:
    below the critical dropout ``p*(ratio)`` (dotted, :func:`linear_theory.critical_dropout`) the
    strong block fills the representation and task 2 is at chance (``R^2 = 0``) however strong
    block 2 is; above it block 2 takes all ``k`` slots. (b) The same at ``k = r_1 + 2 = 6``: the
    weak block always gets the 2 spare dims (``R^2 ~ 0.5``) and dropout completes it (``R^2 ~ 1``).
    (c) A cut at ``s_2 = 1`` (ratio 1/3) with both tasks: at ``k = 4`` rescuing task 2 costs task 1
    everything, at ``k = 6`` task 1 keeps half - both tasks are learned.

    The second panel shows the task-2 ``R^2`` at ``k = 6`` rather than the mean task ``R^2``: at
    the spectral optimum the mean over the two tasks is the same on both sides of ``p*`` (the
    blocks only swap their slots, theory.md point 5), so a mean-``R^2`` map is flat and hides the
    transition; the cut (c) shows the trade-off between the tasks instead.

    Returns:
        ``(fig, rows)``. Rows: ``panel`` ``"a"``/``"b"`` (heat maps; one row per grid point with
        both tasks' ``R^2``, captured dims and ``p_star``), ``"p_star"`` (the drawn curve: ``ratio``,
        ``p_star``) and ``"c"`` (the cut: ``rep_dim``, ``dropout``, both tasks' ``R^2``).
    """
    config = PhaseDiagramConfig() if config is None else config
    ratios, dropouts = config.ratios(), config.dropouts()
    maps = {k: _sweep(config, ratios, config.dropout_range, k) for k in config.rep_dims}
    cut_range = (config.dropout_range[0], config.dropout_range[1], config.slice_points)
    cuts = {k: _sweep(config, np.array([config.slice_ratio]), cut_range, k) for k in config.rep_dims}
    p_star = maps[config.rep_dims[0]]["p_star"][:, 0]

    rows: list[dict[str, Any]] = []
    for panel, k in zip("ab", config.rep_dims):
        rows += _grid_rows(panel, k, maps[k])
    rows += [{"panel": "p_star", "ratio": float(r), "p_star": float(p)} for r, p in zip(ratios, p_star)]
    for k in config.rep_dims:
        rows += _grid_rows("c", k, cuts[k])

    fig, axes = new_figure(3, width=TEXT_WIDTH, height=2.25)
    mesh = None
    for ax, panel, k in zip(axes[:2], "ab", config.rep_dims):
        r2_task2 = maps[k]["probe_r2"][..., 1]
        mesh = ax.pcolormesh(ratios, dropouts, r2_task2.T, cmap=HEATMAP_CMAP, vmin=0.0, vmax=1.0,
                             shading="nearest", rasterized=True)
        ax.plot(ratios, p_star, color="white", **{**CLOSED_FORM, "linewidth": 1.8})
        ax.set_xscale("log")
        ax.set_xlim(ratios[0], ratios[-1])
        ax.set_ylim(dropouts[0], dropouts[-1])
        ax.set_xlabel("strength ratio $s_2/s_1$ (weak/strong)")
        r1 = config.dims[0]
        ax.set_title(f"({panel}) task 2, $k = {k} = " + ("r_1$" if k == r1 else f"r_1 + {k - r1}$"))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.axvline(config.slice_ratio, color="0.85", linewidth=0.6, linestyle="--")
    axes[0].set_ylabel("dropout $p_1$ on the strong block")
    axes[0].text(0.97, 0.06, "suppressed", transform=axes[0].transAxes, ha="right", color="white", fontsize=7)
    axes[0].text(0.97, 0.9, "rescued", transform=axes[0].transAxes, ha="right", color="black", fontsize=7)
    i_label = int(np.argmin(np.abs(ratios - 0.06)))
    axes[0].annotate("$p^*$", (ratios[i_label], p_star[i_label]), xytext=(4, 6), textcoords="offset points",
                     color="white", fontsize=8)
    cbar = fig.colorbar(mesh, ax=list(axes[:2]), shrink=0.9, pad=0.02)
    cbar.set_label(f"task-2 {_R2}")

    ax = axes[2]
    for j, k in enumerate(config.rep_dims):
        p = cuts[k]["dropout"][0]
        every = max(2, len(p) // 8)
        for task in (0, 1):
            ax.plot(p, cuts[k]["probe_r2"][0, :, task], color=task_color(task), marker="os"[j],
                    markevery=(j * every // 2, every), markersize=3.5 if j == 0 else 4.5,
                    markerfacecolor=task_color(task) if j == 0 else "white",
                    label=f"task {task + 1}, $k = {k}$", **CLOSED_FORM)
    p_cut = float(cuts[config.rep_dims[0]]["p_star"][0, 0])
    ax.axvline(p_cut, color="0.4", linewidth=0.6)
    ax.text(p_cut, 0.72, " $p^*$", color="0.3", fontsize=7)
    ax.set_xlim(cut_range[0], cut_range[1])
    ax.set_ylim(-0.03, 1.38)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("dropout $p_1$ on the strong block")
    ax.set_ylabel(_R2)
    s2 = config.slice_ratio * config.strong_strength
    ax.set_title(f"(c) both tasks at $s_2 = {s2:.3g}$ ($s_2/s_1 = {config.slice_ratio:.2g}$)")
    ax.legend(loc="upper center", ncol=2, handlelength=2.4, columnspacing=1.0, borderaxespad=0.1)
    return fig, rows


# ---------------------------------------------------------------------------------------------
# Figure 2: learning curves
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LearningCurvesConfig:
    """Learning curves of the two-block model, with and without dropout, with and without competition.

    Attributes:
        strengths, dims, aug_noise: per block ``(s_i)``, ``(r_i)``, ``(eta_i)`` (theory.md: s = (3, 1)).
        noise, input_dim: ``sigma`` and ``d``.
        dropouts: dropout on block 1 of the two columns (none; above ``p* = 0.205``).
        rep_dims: capacity of the two rows: ``k = r_1 + r_2`` (no competition: the logistic closed
            form holds) and ``k = r_1`` (competition: only the fixed point is closed form).
        init_scale: scale of ``W(0)``: without competition an orthogonal init (every block direction at
            ``a0 = k init_scale^2``, rows rotated by a random orthogonal matrix; the logistic closed
            form is exact there), with competition a generic ``init_scale * N(0, 1)`` (the one the
            sampled-data run starts from); one draw per row, shared by both columns.
        t_min, t_max, num_times: log-spaced gradient-flow times of the record.
        sgd_lr, sgd_batch, sgd_record_every: the sampled-data run of the competition row (SGD on
            the spectral loss, see :meth:`simulation`); its step ``n`` is drawn at ``t = n sgd_lr``.
        seed: seed of ``W(0)`` and of the minibatches.
    """

    strengths: tuple[float, float] = (3.0, 1.0)
    dims: tuple[int, int] = (4, 4)
    aug_noise: tuple[float, float] = (0.0, 0.5)
    noise: float = 0.1
    input_dim: int = 16
    dropouts: tuple[float, float] = (0.0, 0.5)
    rep_dims: tuple[int, int] = (8, 4)
    init_scale: float = 0.01
    t_min: float = 1e-2
    t_max: float = 30.0
    num_times: int = 61
    sgd_lr: float = 0.02
    sgd_batch: int = 256
    sgd_record_every: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.t_min < self.t_max and self.num_times >= 2):
            raise ValueError(f"LearningCurvesConfig needs 0 < t_min < t_max and num_times >= 2, got "
                             f"{self.t_min}, {self.t_max}, {self.num_times}")
        if not self.init_scale > 0:
            raise ValueError(f"LearningCurvesConfig.init_scale must be > 0, got {self.init_scale}")

    @classmethod
    def quick(cls) -> LearningCurvesConfig:
        """Fewer recorded times, a shorter horizon, smaller minibatches (tests, previews)."""
        return cls(t_max=10.0, num_times=13, sgd_lr=0.025, sgd_batch=64, sgd_record_every=8)

    def simulation(self) -> SimulationConfig:
        """The sampled-data run of the competition row: SGD on the unbiased spectral-loss estimate,
        ``t_max / sgd_lr`` steps from :func:`linear_theory.simulate.initial_encoder` (``seed``)."""
        return SimulationConfig(steps=max(1, round(self.t_max / self.sgd_lr)), lr=self.sgd_lr,
                                batch_size=self.sgd_batch, init_scale=self.init_scale, seed=self.seed,
                                record_every=self.sgd_record_every, loss="spectral", optimizer="sgd")

    def times(self) -> np.ndarray:
        """Recorded flow times, log-spaced, with ``t = 0`` first. Shape ``(num_times + 1,)``."""
        return np.concatenate([[0.0], np.geomspace(self.t_min, self.t_max, self.num_times)])

    def model(self, rep_dim: int, dropout: float) -> LinearModel:
        """The two-block model at capacity ``rep_dim`` with ``dropout`` on block 1."""
        blocks = (FeatureBlock(self.dims[0], self.strengths[0], dropout=dropout, aug_noise=self.aug_noise[0]),
                  FeatureBlock(self.dims[1], self.strengths[1], aug_noise=self.aug_noise[1]))
        return LinearModel(blocks, rep_dim=rep_dim, noise=self.noise, input_dim=self.input_dim)

    def init(self, rep_dim: int) -> np.ndarray:
        """``W(0)`` of a row, shape ``(k, d)`` (the same draw for every dropout; see :attr:`init_scale`)."""
        model = self.model(rep_dim, 0.0)
        if rep_dim >= sum(self.dims):
            return orthogonal_init(model, rep_dim * self.init_scale**2, np.random.default_rng([self.seed, rep_dim]))
        return initial_encoder(model, self.simulation())  # the sampled-data run starts here too


#: The sampled-data run: a simulation (solid), thinner and lighter than the flow it follows.
_SGD_STYLE: dict[str, Any] = {**SIMULATION, "linewidth": 0.7, "alpha": 0.55, "zorder": 1}


def _curve_rows(panel: str, k: int, p: float, source: str, tr: Trajectory) -> list[dict[str, Any]]:
    rows = []
    for t_idx, t in enumerate(tr.times):
        for blk in range(tr.n_blocks):
            rows.append({"panel": panel, "rep_dim": k, "dropout": p, "source": source, "method": tr.method,
                         "time": float(t), "block": blk + 1,
                         "captured_strength": float(tr.captured_strength[t_idx, blk]),
                         "probe_r2": float(tr.probe_r2[t_idx, blk])})
    return rows


def learning_curves(config: LearningCurvesConfig | None = None) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 2: per-block captured strength ``||W U_i||^2 / r_i`` along training.

    Top row, ``k = r_1 + r_2 = 8`` (no competition): the logistic closed form (dotted, theory.md
    point 6) over the gradient flow (solid, ``solve_ivp``) from the same orthogonal ``W(0)``: every
    feature is learned; the weak one later (rate ``8 s_2^2`` against
    ``8 s_1^2 (1 - p)^2``); dropout only slows the strong one. Bottom row, ``k = r_1 = 4``
    (competition, no closed-form path): the flow and SGD on sampled minibatches (thin solid, the
    unbiased spectral-loss estimate of :mod:`linear_theory.simulate`, step ``n`` at ``t = n lr``)
    from the same generic small ``W(0)`` converge to the closed-form optimum (dotted horizontal
    lines); without dropout block 2 is never learned, with dropout above ``p*`` block 1
    is learned first (it is still faster) and then *unlearned* as block 2 takes its slots.

    Returns:
        ``(fig, rows)``: one row per (panel, source, time, block) with ``captured_strength`` and
        ``probe_r2``; ``source`` is ``closed_form`` (logistic curve, or the optimum as
        ``time = inf``) or ``simulation`` (``method`` ``gradient_flow`` or ``sgd_spectral``).
    """
    config = LearningCurvesConfig() if config is None else config
    times = config.times()
    fig, axes = new_figure(2, 2, width=TEXT_WIDTH, height=3.9, sharex=True, sharey="row")
    rows: list[dict[str, Any]] = []
    for i, k in enumerate(config.rep_dims):
        W0 = config.init(k)
        competition = k < sum(config.dims)
        if competition:  # both dropouts in one batch (a run does not depend on its batch-mates)
            sgd_runs = simulate_many([config.model(k, p) for p in config.dropouts], [config.seed],
                                     config.simulation(), threads=1)
        for j, p in enumerate(config.dropouts):
            panel, ax = "abcd"[2 * i + j], axes[i, j]
            model = config.model(k, p)
            flow = gradient_flow(model, times, W0, rtol=1e-8, atol=1e-11, keep_encoders=False)
            rows += _curve_rows(panel, k, p, "simulation", flow)
            for blk in (0, 1):
                ax.plot(times[1:], flow.captured_strength[1:, blk], color=task_color(blk), **SIMULATION)
            if competition:
                sgd = sgd_runs[j, 0]
                rows += _curve_rows(panel, k, p, "simulation", sgd)
                for blk in (0, 1):
                    ax.plot(sgd.times[1:], sgd.captured_strength[1:, blk], color=task_color(blk), **_SGD_STYLE)
            else:
                a0 = captured_strength(model, W0)
                logistic = logistic_trajectory(model, times, a0)
                rows += _curve_rows(panel, k, p, "closed_form", logistic)
                for blk in (0, 1):
                    ax.plot(times[1:], logistic.captured_strength[1:, blk], color=task_color(blk), **CLOSED_FORM)
            opt = model.spectral_optimum()
            a_opt = captured_strength(model, opt.W)
            for blk in (0, 1):
                rows.append({"panel": panel, "rep_dim": k, "dropout": p, "source": "closed_form",
                             "method": "spectral_optimum", "time": float("inf"), "block": blk + 1,
                             "captured_strength": float(a_opt[blk]), "probe_r2": float(opt.probe_r2[blk])})
                if competition:
                    ax.axhline(a_opt[blk], color=task_color(blk), **{**CLOSED_FORM, "linewidth": 1.5})
            regime = "competition" if competition else "no competition"
            ax.set_title(f"({panel}) $k = {k}$ ({regime}), $p_1 = {p:g}$")
            ax.set_xscale("log")
            ax.set_xlim(times[1], times[-1])
    for ax in axes[1]:
        ax.set_xlabel("gradient-flow time $t$ (SGD: lr $\\times$ steps)")
    for ax in axes[:, 0]:
        ax.set_ylabel("captured strength $\\|W U_i\\|^2 / r_i$")
    axes[0, 0].legend(handles=_curve_legend(config), loc="upper left", handlelength=2.4)
    return fig, rows


def _curve_legend(config: LearningCurvesConfig) -> list[Line2D]:
    return [
        Line2D([], [], color=task_color(0), label=f"block 1 (strong, $s_1 = {config.strengths[0]:g}$)"),
        Line2D([], [], color=task_color(1), label=f"block 2 (weak, $s_2 = {config.strengths[1]:g}$)"),
        Line2D([], [], color="0.3", **SIMULATION, label="gradient flow"),
        Line2D([], [], color="0.3", **_SGD_STYLE, label="SGD, sampled data"),
        Line2D([], [], color="0.3", **CLOSED_FORM, label="closed form (logistic; optimum)"),
    ]


def _curves_config(quick: bool) -> LearningCurvesConfig:
    return LearningCurvesConfig.quick() if quick else LearningCurvesConfig()


def _curves_draw(config: LearningCurvesConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    ctx.log(f"  gradient flow (and SGD for k < r_1 + r_2) to t = {config.t_max:g} for k = {config.rep_dims}, "
            f"p = {config.dropouts}")
    return learning_curves(config)


# ---------------------------------------------------------------------------------------------
# Figure 3: spectral closed form vs InfoNCE simulation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpectralVsInfoNCEConfig:
    """A dropout sweep of the linear model: spectral closed form against trained InfoNCE encoders.

    Attributes:
        strengths, dims, aug_noise, noise, input_dim: the model (theory.md's InfoNCE settings).
        rep_dims: one panel per capacity: ``k = r_1`` (total suppression) and ``r_1 + 2`` (both
            tasks can be learned); add ``r_1 + r_2`` to show that with ample capacity the probe
            recovers both features whatever ``p`` is (the closed form says so; costs more runs).
        dropouts: dropout values on block 1 of the simulations.
        seeds: InfoNCE runs per point (seeds ``0 .. seeds - 1``).
        steps, lr, batch_size, temperature, init_scale: plain SGD on fresh minibatches of pairs,
            cross-view InfoNCE with cosine similarity (theory.md).
        closed_form_points: dropout values of the (dense) closed-form curve.
        workers: processes that run the simulations (results do not depend on it: every run has
            its own seed).
    """

    strengths: tuple[float, float] = (3.0, 1.0)
    dims: tuple[int, int] = (4, 4)
    aug_noise: tuple[float, float] = (0.0, 0.5)
    noise: float = 0.1
    input_dim: int = 32
    rep_dims: tuple[int, ...] = (4, 6)
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5)
    seeds: int = 2
    steps: int = 3000
    lr: float = 0.5
    batch_size: int = 256
    temperature: float = 0.2
    init_scale: float = 0.01
    closed_form_points: int = 241
    workers: int = 2

    @classmethod
    def quick(cls) -> SpectralVsInfoNCEConfig:
        """Two dropout values, one seed, a short run (tests, previews; not converged)."""
        return cls(dropouts=(0.0, 0.4), seeds=1, steps=150, batch_size=64, closed_form_points=41, workers=1)

    def model(self, rep_dim: int, dropout: float) -> LinearModel:
        """The two-block model at capacity ``rep_dim`` with ``dropout`` on block 1."""
        blocks = (FeatureBlock(self.dims[0], self.strengths[0], dropout=dropout, aug_noise=self.aug_noise[0]),
                  FeatureBlock(self.dims[1], self.strengths[1], aug_noise=self.aug_noise[1]))
        return LinearModel(blocks, rep_dim=rep_dim, noise=self.noise, input_dim=self.input_dim)

    def __post_init__(self) -> None:
        for name in ("seeds", "steps", "batch_size", "workers", "closed_form_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"SpectralVsInfoNCEConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.dropouts or not all(0.0 <= p < 1.0 for p in self.dropouts):
            raise ValueError(f"SpectralVsInfoNCEConfig.dropouts must be values in [0, 1), got {self.dropouts}")
        if not self.rep_dims or min(self.rep_dims) < 1:
            raise ValueError(f"SpectralVsInfoNCEConfig.rep_dims must be >= 1, got {self.rep_dims}")
        for name in ("lr", "temperature", "init_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SpectralVsInfoNCEConfig.{name} must be > 0, got {getattr(self, name)}")

    def run_settings(self) -> dict[str, Any]:
        """Everything that determines one simulated run besides ``(k, p, seed)``.

        Includes a hash of the trainer's source (:mod:`linear_theory.simulate`), so a change to
        the simulator (a bug fix) starts a fresh cache instead of re-using stale runs.
        """
        names = ("strengths", "dims", "aug_noise", "noise", "input_dim", "steps", "lr", "batch_size",
                 "temperature", "init_scale")
        source = hashlib.sha256(Path(linear_theory.simulate.__file__).read_bytes()).hexdigest()[:12]
        return {**to_jsonable({name: getattr(self, name) for name in names}),
                "trainer": f"linear_theory.simulate.simulate_many@{source}",
                "simulation": to_jsonable(self.simulation())}

    def simulation(self) -> SimulationConfig:
        """The :class:`linear_theory.simulate.SimulationConfig` of every run (plain SGD, InfoNCE)."""
        return SimulationConfig(steps=self.steps, lr=self.lr, batch_size=self.batch_size,
                                temperature=self.temperature, init_scale=self.init_scale, record_every=self.steps,
                                loss="infonce", optimizer="sgd")

    def run_key(self) -> str:
        """Short hash of :meth:`run_settings`: the cache file of these runs."""
        text = json.dumps(self.run_settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class _RunCache:
    """Final numbers of simulated runs, one JSON file per :meth:`SpectralVsInfoNCEConfig.run_key`.

    Entries are keyed ``"k=K p=P seed=S"`` and written after every batch (atomically), so a sweep
    that grows re-uses the runs it has and an interrupted one resumes.
    """

    def __init__(self, folder: Path | None, config: SpectralVsInfoNCEConfig) -> None:
        self.path = None if folder is None else Path(folder) / f"spectral_vs_infonce-{config.run_key()}.json"
        self.runs: dict[str, dict[str, Any]] = {}
        self.header = {"what": "final probe R^2 of InfoNCE runs of the linear model (paper_figures.theory)",
                       "run_settings": config.run_settings()}
        if self.path is not None and self.path.exists():
            self.runs = json.loads(self.path.read_text())["runs"]

    @staticmethod
    def key(rep_dim: int, dropout: float, seed: int) -> str:
        return f"k={rep_dim} p={dropout:.6g} seed={seed}"

    def get(self, rep_dim: int, dropout: float, seed: int) -> dict[str, Any] | None:
        return self.runs.get(self.key(rep_dim, dropout, seed))

    def put(self, rep_dim: int, dropout: float, seed: int, entry: dict[str, Any]) -> None:
        self.runs[self.key(rep_dim, dropout, seed)] = entry
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.header, "runs": self.runs}, indent=1, sort_keys=True) + "\n")
        tmp.replace(self.path)


def spectral_vs_infonce(config: SpectralVsInfoNCEConfig | None = None, cache: Path | None = None,
                        log: Callable[[str], None] = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 3: task probe ``R^2`` against dropout, spectral closed form vs InfoNCE, per capacity.

    One panel per ``k``. Dotted: the spectral optimum's expected probe ``R^2`` of each task
    (closed form, dense in ``p``); solid with dots: the clean-input probe ``R^2`` of encoders
    trained with InfoNCE (mean over seeds; each seed a small dot). The same phase structure: at
    ``k = r_1`` task 2 is suppressed below a critical dropout and task 1 is lost above it; at
    ``k = r_1 + 2`` both tasks are learned above it (with ``k = r_1 + r_2`` in ``rep_dims`` a
    third panel shows that ample capacity recovers both features whatever ``p`` is). InfoNCE's
    transition is smoother than the spectral step and need not sit exactly at the spectral ``p*``
    (grey line).

    Args:
        config: the sweep (default: the paper's).
        cache: folder of the run cache (``None``: no cache); see :class:`_RunCache`.
        log: progress callback.

    Returns:
        ``(fig, rows)``: ``source`` ``closed_form`` rows (``rep_dim``, ``dropout``, both tasks'
        ``R^2``, ``p_star``) and ``simulation`` rows (also ``seed``; ``seed = "mean"`` rows hold
        the plotted means).
    """
    config = SpectralVsInfoNCEConfig() if config is None else config
    store = _RunCache(cache, config)
    _simulate_missing(config, store, log)
    rows: list[dict[str, Any]] = []
    fig, axes = new_figure(len(config.rep_dims), width=TEXT_WIDTH, height=2.3, sharey=True)
    p_max = min(1.0, max(config.dropouts) + 0.05)  # the closed form only where it is compared
    p_dense = np.linspace(0.0, p_max, config.closed_form_points)
    for ax, k in zip(np.atleast_1d(axes), config.rep_dims):
        p_star = critical_dropout(config.model(k, 0.0), strong=0, weak=1)
        closed = np.array([config.model(k, float(p)).spectral_optimum().probe_r2 for p in p_dense])
        for p, r2 in zip(p_dense, closed):
            rows.append({"source": "closed_form", "method": "spectral_optimum", "rep_dim": k, "dropout": float(p),
                         "seed": "", "probe_r2_task1": float(r2[0]), "probe_r2_task2": float(r2[1]),
                         "p_star": p_star})
        sims = np.full((len(config.dropouts), config.seeds, 2), np.nan)
        for i, p in enumerate(config.dropouts):
            for seed in range(config.seeds):
                entry = store.get(k, p, seed)
                assert entry is not None
                sims[i, seed] = entry["probe_r2"]
                rows.append({"source": "simulation", "method": "infonce", "rep_dim": k, "dropout": float(p),
                             "seed": seed, "probe_r2_task1": entry["probe_r2"][0],
                             "probe_r2_task2": entry["probe_r2"][1], "p_star": p_star})
        mean = sims.mean(axis=1)
        for i, p in enumerate(config.dropouts):
            rows.append({"source": "simulation", "method": "infonce", "rep_dim": k, "dropout": float(p),
                         "seed": "mean", "probe_r2_task1": float(mean[i, 0]), "probe_r2_task2": float(mean[i, 1]),
                         "p_star": p_star})
        ps = np.asarray(config.dropouts)
        for task in (0, 1):
            color = task_color(task)
            ax.plot(ps, mean[:, task], color=color, marker="o", markersize=3, **SIMULATION)
            ax.plot(np.repeat(ps, config.seeds), sims[:, :, task].ravel(), linestyle="none", marker=".",
                    markersize=2.5, color=color, alpha=0.5, zorder=2)
            ax.plot(p_dense, closed[:, task], color=color, **CLOSED_FORM)
        if np.isfinite(p_star):
            ax.axvline(p_star, color="0.6", linewidth=0.6, zorder=1)
        regime = {config.dims[0]: "r_1", sum(config.dims): "r_1 + r_2"}.get(k, f"r_1 + {k - config.dims[0]}")
        ax.set_title(f"({'abcdef'[config.rep_dims.index(k)]}) $k = {k} = {regime}$")
        ax.set_xlabel("dropout $p_1$ on the strong block")
        ax.set_xlim(0.0, p_max)
        ax.set_ylim(-0.03, 1.05)
    all_axes = np.atleast_1d(axes)
    all_axes[0].set_ylabel(f"clean-input {_R2}")
    all_axes[0].legend(handles=[
        Line2D([], [], color=task_color(0), label="task 1 (strong)"),
        Line2D([], [], color=task_color(1), label="task 2 (weak)"),
        Line2D([], [], color="0.3", marker="o", markersize=3, **SIMULATION, label="InfoNCE (mean; dots: seeds)"),
        Line2D([], [], color="0.3", **CLOSED_FORM, label="spectral closed form"),
        Line2D([], [], color="0.6", linewidth=0.6, label="spectral $p^*$"),
    ], loc="center right", handlelength=2.2)  # between the plateaus at 0 and 1, right of p*
    return fig, rows


def _simulate_missing(config: SpectralVsInfoNCEConfig, store: _RunCache, log: Callable[[str], None]) -> None:
    """Run every (k, p, seed) the cache lacks and cache the results.

    One batched :func:`linear_theory.simulate.simulate_many` job per capacity ``k`` (the missing
    dropouts x the missing seeds; a run does not depend on the others in its batch), on up to
    ``config.workers`` processes.
    """
    jobs = []
    for k in config.rep_dims:
        missing = [(p, s) for p in config.dropouts for s in range(config.seeds) if store.get(k, p, s) is None]
        if missing:
            jobs.append((k, tuple(sorted({p for p, _ in missing})), tuple(sorted({s for _, s in missing}))))
    cached = len(config.rep_dims) * len(config.dropouts) * config.seeds
    cached -= sum(1 for k in config.rep_dims for p in config.dropouts for s in range(config.seeds)
                  if store.get(k, p, s) is None)
    if cached:
        log(f"  {cached} InfoNCE run(s) from the cache {store.path}")
    for k, dropouts, seeds in jobs:
        log(f"  k={k}: training {len(dropouts) * len(seeds)} InfoNCE runs ({config.steps} steps each) ...")
    start = time.perf_counter()

    def record(job: tuple[int, tuple[float, ...], tuple[int, ...]], entries: dict[tuple[float, int], Any]) -> None:
        k, dropouts, seeds = job
        for (p, seed), entry in entries.items():
            if store.get(k, p, seed) is None:  # never overwrite a cached run
                store.put(k, p, seed, entry)
        log(f"  k={k}: {len(dropouts) * len(seeds)} InfoNCE runs ({len(dropouts)} dropouts x {len(seeds)} "
            f"seeds) done at {time.perf_counter() - start:.0f} s")

    if config.workers == 1 or len(jobs) <= 1:
        for job in jobs:
            record(job, _simulate_group(config, *job))
        return
    # spawn, not fork: the parent has torch (and its thread pools) loaded
    with ProcessPoolExecutor(min(config.workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_simulate_group, config, *job): job for job in jobs}
        for future in as_completed(futures):
            record(futures[future], future.result())


def _simulate_group(config: SpectralVsInfoNCEConfig, rep_dim: int, dropouts: tuple[float, ...],
                    seeds: tuple[int, ...]) -> dict[tuple[float, int], dict[str, Any]]:
    """Train InfoNCE encoders for every (dropout, seed) at capacity ``rep_dim`` in one batch.

    Returns:
        ``{(p, seed): {"probe_r2": [2], "captured_strength": [2], "final_loss": float}}`` at the
        last step (probe on clean inputs, :func:`linear_theory.spectral.encoder_probe_r2`).
    """
    models = [config.model(rep_dim, p) for p in dropouts]
    tr = simulate_many(models, seeds, config.simulation(), threads=1)
    r2, cs, loss = tr.final_probe_r2(), tr.final_captured_strength(), tr.final_loss()
    return {(p, seed): {"probe_r2": r2[i, j].tolist(), "captured_strength": cs[i, j].tolist(),
                        "final_loss": float(loss[i, j])}
            for i, p in enumerate(dropouts) for j, seed in enumerate(seeds)}


def _infonce_config(quick: bool) -> SpectralVsInfoNCEConfig:
    return SpectralVsInfoNCEConfig.quick() if quick else SpectralVsInfoNCEConfig()


def _infonce_draw(config: SpectralVsInfoNCEConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    n = len(config.rep_dims) * len(config.dropouts) * config.seeds
    ctx.log(f"  {n} InfoNCE runs of {config.steps} steps, re-used from / saved to the cache in {ctx.cache}")
    return spectral_vs_infonce(config, ctx.cache, ctx.log)


def _phase_config(quick: bool) -> PhaseDiagramConfig:
    return PhaseDiagramConfig.quick() if quick else PhaseDiagramConfig()


def _phase_draw(config: PhaseDiagramConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    ctx.log(f"  closed form on {config.ratio_range[2]} x {config.dropout_range[2]} points for k = {config.rep_dims}")
    return phase_diagram(config)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("phase_diagram", "strength ratio x dropout -> task-2 probe R^2 (spectral closed form)",
               _phase_config, _phase_draw),
    FigureSpec("learning_curves", "captured strength over time: logistic closed form over gradient flow and SGD",
               _curves_config, _curves_draw),
    FigureSpec("spectral_vs_infonce", "probe R^2 vs dropout: spectral closed form vs simulated InfoNCE",
               _infonce_config, _infonce_draw),
)
