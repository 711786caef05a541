"""Figure 3: the spectral closed form beside simulated InfoNCE encoders over the same dropout sweep.

The closed form is :meth:`linear_theory.two_block.TwoBlock.predict`; the InfoNCE runs come from
:func:`linear_theory.infonce_runs.infonce_runs` (cached in the figure context's cache folder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from linear_theory.infonce_runs import infonce_runs
from linear_theory.simulate import SimulationConfig
from linear_theory.two_block import TwoBlock
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.style import CLOSED_FORM, SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["SpectralVsInfoNCEConfig", "spectral_vs_infonce", "FIGURES"]

_R2 = "probe $R^2$"


@dataclass(frozen=True)
class SpectralVsInfoNCEConfig:
    """A dropout sweep of the linear model: spectral closed form against trained InfoNCE encoders.

    Attributes:
        setting: the model (docs/linear-theory.md's InfoNCE settings: ``s = (3, 1)``, ``r = (4, 4)``,
            ``eta = (0, 0.5)``, ``sigma = 0.1``, ``d = 32``).
        rep_dims: one panel per capacity: ``k = r_1`` (total suppression) and ``r_1 + 2`` (both
            tasks can be learned); add ``r_1 + r_2`` to show that with ample capacity the probe
            recovers both features whatever ``p`` is (the closed form says so; costs more runs).
        dropouts: dropout values on block 1 of the simulations.
        seeds: InfoNCE runs per point (seeds ``0 .. seeds - 1``).
        simulation: plain SGD on fresh minibatches of pairs, cross-view InfoNCE with cosine
            similarity (docs/linear-theory.md: 3000 steps, lr 0.5, batch 256, tau 0.2, init 0.01).
        closed_form_points: dropout values of the (dense) closed-form curve.
        workers: processes that run the simulations (results do not depend on it: every run has
            its own seed).
    """

    setting: TwoBlock = TwoBlock(input_dim=32)
    rep_dims: tuple[int, ...] = (4, 6)
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5)
    seeds: int = 2
    simulation: SimulationConfig = SimulationConfig()
    closed_form_points: int = 241
    workers: int = 2

    @classmethod
    def quick(cls) -> SpectralVsInfoNCEConfig:
        """Two dropout values, one seed, a short run (tests, previews; not converged)."""
        return cls(dropouts=(0.0, 0.4), seeds=1, simulation=SimulationConfig(steps=150, batch_size=64),
                   closed_form_points=41, workers=1)

    def __post_init__(self) -> None:
        for name in ("seeds", "workers", "closed_form_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"SpectralVsInfoNCEConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.dropouts or not all(0.0 <= p < 1.0 for p in self.dropouts):
            raise ValueError(f"SpectralVsInfoNCEConfig.dropouts must be values in [0, 1), got {self.dropouts}")
        if not self.rep_dims or min(self.rep_dims) < 1:
            raise ValueError(f"SpectralVsInfoNCEConfig.rep_dims must be >= 1, got {self.rep_dims}")
        if self.simulation.loss != "infonce" or self.simulation.optimizer != "sgd":
            raise ValueError(f"SpectralVsInfoNCEConfig.simulation must be plain SGD on InfoNCE, got "
                             f"{self.simulation.optimizer} on {self.simulation.loss}")


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
        cache: folder of the run cache (``None``: no cache); see :mod:`linear_theory.infonce_runs`.
        log: progress callback.

    Returns:
        ``(fig, rows)``: ``source`` ``closed_form`` rows (``rep_dim``, ``dropout``, both tasks'
        ``R^2``, ``p_star``) and ``simulation`` rows (also ``seed``; ``seed = "mean"`` rows hold
        the plotted means).
    """
    config = SpectralVsInfoNCEConfig() if config is None else config
    models = [config.setting.model(p, k) for k in config.rep_dims for p in config.dropouts]
    runs = infonce_runs(models, range(config.seeds), config.simulation, cache=cache, workers=config.workers, log=log,
                        progress=True)
    all_sims = runs.probe_r2.reshape(len(config.rep_dims), len(config.dropouts), config.seeds, 2)
    rows: list[dict[str, Any]] = []
    fig, axes = new_figure(len(config.rep_dims), width=TEXT_WIDTH, height=2.3, sharey=True)
    p_max = min(1.0, max(config.dropouts) + 0.05)  # the closed form only where it is compared
    p_dense = np.linspace(0.0, p_max, config.closed_form_points)
    p_star = float(config.setting.critical_dropout())
    for ax, k, sims in zip(np.atleast_1d(axes), config.rep_dims, all_sims):
        closed = config.setting.predict(p_dense, k).probe_r2
        for p, r2 in zip(p_dense, closed):
            rows.append({"source": "closed_form", "method": "spectral_optimum", "rep_dim": k, "dropout": float(p),
                         "seed": "", "probe_r2_task1": float(r2[0]), "probe_r2_task2": float(r2[1]),
                         "p_star": p_star})
        for i, p in enumerate(config.dropouts):
            for seed in range(config.seeds):
                rows.append({"source": "simulation", "method": "infonce", "rep_dim": k, "dropout": float(p),
                             "seed": seed, "probe_r2_task1": float(sims[i, seed, 0]),
                             "probe_r2_task2": float(sims[i, seed, 1]), "p_star": p_star})
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
        dims = config.setting.dims
        regime = {dims[0]: "r_1", sum(dims): "r_1 + r_2"}.get(k, f"r_1 + {k - dims[0]}")
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


def _infonce_config(quick: bool) -> SpectralVsInfoNCEConfig:
    return SpectralVsInfoNCEConfig.quick() if quick else SpectralVsInfoNCEConfig()


def _infonce_draw(config: SpectralVsInfoNCEConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    n = len(config.rep_dims) * len(config.dropouts) * config.seeds
    ctx.log(f"  {n} InfoNCE runs of {config.simulation.steps} steps, re-used from / saved to the cache in {ctx.cache}")
    return spectral_vs_infonce(config, ctx.cache, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("spectral_vs_infonce", "probe R^2 vs dropout: spectral closed form vs simulated InfoNCE",
               _infonce_config, _infonce_draw),
)
