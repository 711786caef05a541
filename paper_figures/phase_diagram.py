"""Figure 1: the phase diagram of the two-block model (spectral closed form).

Task-2 probe ``R^2`` over (strength ratio ``s_2/s_1``, dropout ``p_1`` on the strong block) at two
capacities, with the critical-dropout curve ``p*(ratio)``, and a cut through both tasks: below
``p*`` the weak feature is suppressed, above it rescued (:meth:`linear_theory.two_block.TwoBlock.ratio_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from linear_theory.two_block import TwoBlock
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.style import CLOSED_FORM, HEATMAP_CMAP, TEXT_WIDTH, new_figure, task_color

__all__ = ["PhaseDiagramConfig", "phase_diagram", "FIGURES"]

_R2 = "probe $R^2$"


@dataclass(frozen=True)
class PhaseDiagramConfig:
    """Grid of the phase diagram.

    Attributes:
        setting: the two-block model (docs/linear-theory.md: ``s_1 = 3``, ``r = (4, 4)``, ``sigma = 0.1``,
            ``eta = (0, 0.5)``); the ratio axis sets ``s_2 = ratio * s_1``.
        ratio_range: ``(min, max, num)`` of the weak/strong strength ratio, log-spaced (``p*``
            changes fastest at small ratios).
        dropout_range: ``(min, max, num)`` of the dropout on block 1, linearly spaced.
        rep_dims: capacities of the two heat maps: ``k = r_1`` (suppression is total) and
            ``k = r_1 + 2`` (both tasks can be learned).
        slice_ratio: ratio of the cut drawn in panel (c) (``1/3``: ``s_2 = 1`` as in docs/linear-theory.md).
        slice_points: dropout values along that cut.
    """

    setting: TwoBlock = TwoBlock()
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
    blocks only swap their slots, docs/linear-theory.md point 5), so a mean-``R^2`` map is flat and hides the
    transition; the cut (c) shows the trade-off between the tasks instead.

    Returns:
        ``(fig, rows)``. Rows: ``panel`` ``"a"``/``"b"`` (heat maps; one row per grid point with
        both tasks' ``R^2``, captured dims and ``p_star``), ``"p_star"`` (the drawn curve: ``ratio``,
        ``p_star``) and ``"c"`` (the cut: ``rep_dim``, ``dropout``, both tasks' ``R^2``).
    """
    config = PhaseDiagramConfig() if config is None else config
    ratios, dropouts = config.ratios(), config.dropouts()
    maps = {k: config.setting.ratio_grid(ratios, dropouts, k) for k in config.rep_dims}
    cut_range = (config.dropout_range[0], config.dropout_range[1], config.slice_points)
    cuts = {k: config.setting.ratio_grid([config.slice_ratio], np.linspace(*cut_range), k) for k in config.rep_dims}
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
        r1 = config.setting.dims[0]
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
    s2 = config.slice_ratio * config.setting.strong_strength
    ax.set_title(f"(c) both tasks at $s_2 = {s2:.3g}$ ($s_2/s_1 = {config.slice_ratio:.2g}$)")
    ax.legend(loc="upper center", ncol=2, handlelength=2.4, columnspacing=1.0, borderaxespad=0.1)
    return fig, rows



def _phase_config(quick: bool) -> PhaseDiagramConfig:
    return PhaseDiagramConfig.quick() if quick else PhaseDiagramConfig()


def _phase_draw(config: PhaseDiagramConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    ctx.log(f"  closed form on {config.ratio_range[2]} x {config.dropout_range[2]} points for k = {config.rep_dims}")
    return phase_diagram(config)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("phase_diagram", "strength ratio x dropout -> task-2 probe R^2 (spectral closed form)",
               _phase_config, _phase_draw),
)
