"""Figure 2: learning curves of the two-block model, with and without dropout, with and without competition.

Captured strength per block over gradient-flow time: the logistic closed form over the flow
(:mod:`linear_theory.dynamics`) without competition; with competition the flow and SGD on sampled
data (:mod:`linear_theory.simulate`) converge to the closed-form optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from linear_theory import captured_strength, spectral_optimum
from linear_theory.dynamics import gradient_flow, logistic_trajectory, orthogonal_init
from linear_theory.simulate import SimulationConfig, initial_encoder, simulate_many
from linear_theory.trajectory import Trajectory
from linear_theory.two_block import TwoBlock
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.style import CLOSED_FORM, SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["LearningCurvesConfig", "learning_curves", "FIGURES"]


@dataclass(frozen=True)
class LearningCurvesConfig:
    """Learning curves of the two-block model, with and without dropout, with and without competition.

    Attributes:
        setting: the two-block model (docs/linear-theory.md: ``s = (3, 1)``, ``r = (4, 4)``, ``eta = (0, 0.5)``,
            ``sigma = 0.1``) in ``d = 16``.
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

    setting: TwoBlock = TwoBlock(input_dim=16)
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

    def init(self, rep_dim: int) -> np.ndarray:
        """``W(0)`` of a row, shape ``(k, d)`` (the same draw for every dropout; see :attr:`init_scale`)."""
        model = self.setting.model(0.0, rep_dim)
        if rep_dim >= sum(self.setting.dims):
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

    Top row, ``k = r_1 + r_2 = 8`` (no competition): the logistic closed form (dotted, docs/linear-theory.md
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
        competition = k < sum(config.setting.dims)
        if competition:  # both dropouts in one batch (a run does not depend on its batch-mates)
            sgd_runs = simulate_many([config.setting.model(p, k) for p in config.dropouts], [config.seed],
                                     config.simulation(), threads=1)
        for j, p in enumerate(config.dropouts):
            panel, ax = "abcd"[2 * i + j], axes[i, j]
            model = config.setting.model(p, k)
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
            opt = spectral_optimum(model)
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
        Line2D([], [], color=task_color(0), label=f"block 1 (strong, $s_1 = {config.setting.strong_strength:g}$)"),
        Line2D([], [], color=task_color(1), label=f"block 2 (weak, $s_2 = {config.setting.weak_strength:g}$)"),
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


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("learning_curves", "captured strength over time: logistic closed form over gradient flow and SGD",
               _curves_config, _curves_draw),
)
