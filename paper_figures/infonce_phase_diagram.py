"""Figure: the InfoNCE phase diagram beside the spectral one, and their difference.

Task-2 probe ``R^2`` over (strength ratio ``s_2/s_1``, dropout ``p_1``) at ``k = r_1 = 4``: the
spectral closed form (:meth:`linear_theory.two_block.TwoBlock.ratio_grid`), encoders trained with
InfoNCE at every grid point (:func:`linear_theory.infonce_runs.infonce_runs`, batched, cached),
and InfoNCE minus spectral. Per ratio, the InfoNCE boundary is the dropout at which task 2 reaches
half its ceiling ``s_2^2 / (s_2^2 + sigma^2)``; the spectral boundary is ``p*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from linear_theory.infonce_runs import infonce_runs
from linear_theory.simulate import SimulationConfig
from linear_theory.two_block import TwoBlock
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.stats import first_crossing
from paper_figures.style import CLOSED_FORM, HEATMAP_CMAP, TEXT_WIDTH, new_figure

__all__ = ["InfoNCEPhaseConfig", "infonce_phase_diagram", "FIGURES"]


@dataclass(frozen=True)
class InfoNCEPhaseConfig:
    """The grid and the InfoNCE training of the figure.

    Attributes:
        setting: the two-block model (docs/linear-theory.md's InfoNCE setting, ``d = 32``); ``s_2 = ratio * s_1``.
        ratio_range: ``(min, max, num)`` of the strength ratio, log-spaced (50 points).
        dropout_range: ``(min, max, num)`` of the dropout on block 1, linear (20 points).
        rep_dim: capacity ``k`` (``r_1 = 4``: suppression is total).
        simulation: docs/linear-theory.md's InfoNCE training (3000 SGD steps of 256 pairs, lr 0.5,
            tau 0.2, init 0.01); with the written-out gradient (:mod:`linear_theory.infonce_grad`)
            the 1,000 runs take ~4 minutes on 2 cores (``benchmarks/bench_infonce_batch.py``).
        seeds: runs per grid point.
        workers: processes.
    """

    setting: TwoBlock = TwoBlock(input_dim=32)
    ratio_range: tuple[float, float, int] = (0.02, 1.0, 50)
    dropout_range: tuple[float, float, int] = (0.0, 0.95, 20)
    rep_dim: int = 4
    simulation: SimulationConfig = SimulationConfig()
    seeds: int = 1
    workers: int = 2

    @classmethod
    def quick(cls) -> InfoNCEPhaseConfig:
        """A 4 x 4 grid of short runs (tests, previews; not converged)."""
        return cls(ratio_range=(0.1, 1.0, 4), dropout_range=(0.0, 0.9, 4),
                   simulation=SimulationConfig(steps=150, batch_size=32, init_scale=1.0), workers=1)

    def __post_init__(self) -> None:
        lo, hi, n = self.ratio_range
        if not (0 < lo <= hi and n >= 2) or self.dropout_range[2] < 2 or self.seeds < 1:
            raise ValueError(f"InfoNCEPhaseConfig needs ratio_range (min > 0, max >= min, num >= 2), dropout num >= 2 "
                             f"and seeds >= 1, got {self.ratio_range}, {self.dropout_range}, {self.seeds}")

    def ratios(self) -> np.ndarray:
        return np.geomspace(*self.ratio_range)

    def dropouts(self) -> np.ndarray:
        return np.linspace(*self.dropout_range)


def infonce_phase_diagram(config: InfoNCEPhaseConfig | None = None, cache: Path | None = None,
                          log: Callable[[str], None] = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Three heat maps of task-2 ``R^2``: (a) spectral closed form, (b) InfoNCE, (c) InfoNCE - spectral.

    Returns:
        ``(fig, rows)``: ``panel = "grid"`` rows (``ratio``, ``dropout``, ``p_star``, both tasks'
        ``spectral_r2_*`` and ``infonce_r2_*`` (mean over seeds), ``difference_task2``) and
        ``panel = "boundary"`` rows (``ratio``, ``p_star``, ``infonce_boundary``).
    """
    config = InfoNCEPhaseConfig() if config is None else config
    ratios, ps = config.ratios(), config.dropouts()
    s1 = config.setting.strong_strength
    closed = config.setting.ratio_grid(ratios, ps, config.rep_dim)
    models = [replace(config.setting, weak_strength=s1 * r).model(float(p), config.rep_dim) for r in ratios for p in ps]
    runs = infonce_runs(models, range(config.seeds), config.simulation, cache=cache, workers=config.workers, log=log,
                        progress=True)
    sim = runs.probe_r2.mean(axis=1).reshape(len(ratios), len(ps), 2)
    spec = closed["probe_r2"]
    diff = sim[..., 1] - spec[..., 1]
    ceiling = (s1 * ratios) ** 2 / ((s1 * ratios) ** 2 + config.setting.noise**2)
    boundary = np.array([first_crossing(ps, sim[i, :, 1], ceiling[i] / 2) for i in range(len(ratios))])
    p_star = closed["p_star"][:, 0]

    rows: list[dict[str, Any]] = []
    for i, r in enumerate(ratios):
        for j, p in enumerate(ps):
            rows.append({"panel": "grid", "ratio": float(r), "dropout": float(p), "p_star": float(p_star[i]),
                         "spectral_r2_task1": float(spec[i, j, 0]), "spectral_r2_task2": float(spec[i, j, 1]),
                         "infonce_r2_task1": float(sim[i, j, 0]), "infonce_r2_task2": float(sim[i, j, 1]),
                         "difference_task2": float(diff[i, j])})
    rows += [{"panel": "boundary", "ratio": float(r), "p_star": float(ps_), "infonce_boundary": float(b)}
             for r, ps_, b in zip(ratios, p_star, boundary)]

    fig, axes = new_figure(3, width=TEXT_WIDTH, height=2.3, sharey=True)
    maps = [(spec[..., 1], HEATMAP_CMAP, 0.0, 1.0, "(a) spectral closed form"),
            (sim[..., 1], HEATMAP_CMAP, 0.0, 1.0, f"(b) InfoNCE ({config.seeds} seed(s) per point)"),
            (diff, "RdBu_r", -1.0, 1.0, "(c) InfoNCE $-$ spectral")]
    for ax, (values, cmap, lo, hi, title) in zip(axes, maps):
        mesh = ax.pcolormesh(ratios, ps, values.T, cmap=cmap, vmin=lo, vmax=hi, shading="nearest", rasterized=True)
        ax.plot(ratios, p_star, color="white" if cmap == HEATMAP_CMAP else "black", **{**CLOSED_FORM, "linewidth": 1.6})
        ax.set_xscale("log")
        ax.set_xlim(ratios[0], ratios[-1])
        ax.set_ylim(ps[0], ps[-1])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("strength ratio $s_2/s_1$")
        ax.set_title(title)
        fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.02)
    axes[2].plot(ratios, boundary, color="black", marker=".", markersize=3, linestyle="none",
                 label="InfoNCE half-ceiling")
    axes[2].legend(loc="upper left", fontsize=6)
    axes[0].set_ylabel(f"dropout $p_1$ (task-2 $R^2$, $k = {config.rep_dim}$)")
    return fig, rows


def _config(quick: bool) -> InfoNCEPhaseConfig:
    return InfoNCEPhaseConfig.quick() if quick else InfoNCEPhaseConfig()


def _draw(config: InfoNCEPhaseConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    n = config.ratio_range[2] * config.dropout_range[2] * config.seeds
    ctx.log(f"  {n} InfoNCE runs of {config.simulation.steps} steps (batched), cached in {ctx.cache}")
    return infonce_phase_diagram(config, ctx.cache, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("infonce_phase_diagram", "task-2 R^2 over ratio x dropout: spectral, InfoNCE and their difference",
               _config, _draw),
)
