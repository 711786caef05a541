"""Figure: does the loss family move the suppression boundary? The two-block dropout sweep under each loss.

The spectral closed form (:meth:`linear_theory.two_block.TwoBlock.predict`) beside linear encoders
trained with InfoNCE and the generalized losses of Chen, Luo & Li 2021 (decoupled NT-Xent, SWD to
the uniform sphere; :func:`linear_theory.simulate.loss_recipe`), all batched and cached
(:func:`linear_theory.infonce_runs.infonce_runs`). A loss's boundary is the dropout at which its
mean task-2 ``R^2`` crosses the middle of the spectral step (below / above ``p*``).
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
from linear_theory.simulate import SimulationConfig, loss_recipe
from linear_theory.two_block import TwoBlock
from paper_figures.registry import FigureContext, FigureSpec
from paper_figures.stats import first_crossing
from paper_figures.style import CLOSED_FORM, SIMULATION, TEXT_WIDTH, new_figure

__all__ = ["LossFamiliesConfig", "loss_families", "LOSS_COLORS", "FIGURES"]

LOSS_COLORS = {"infonce": "#1b9e77", "decoupled": "#d95f02", "swd": "#7570b3"}
LOSS_LABELS = {"infonce": "InfoNCE", "decoupled": "decoupled NT-Xent", "swd": "SWD (uniform sphere)"}


@dataclass(frozen=True)
class LossFamiliesConfig:
    """The sweep: docs/linear-theory.md's two-block InfoNCE setting, dropout on block 1, one panel per capacity.

    Attributes:
        setting, rep_dims, dropouts: the model, capacities and dropout values.
        losses: the simulated families (``SimulationConfig.loss`` values).
        simulation: the InfoNCE training at batch 64 (the decoupled and SWD losses train with
            autograd, several times slower per step at batch 256); each family's recipe is
            :func:`linear_theory.simulate.loss_recipe` of it.
        seeds, workers: runs per point and processes.
    """

    setting: TwoBlock = TwoBlock(input_dim=32)
    rep_dims: tuple[int, ...] = (4, 6)
    dropouts: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
    losses: tuple[str, ...] = ("infonce", "decoupled", "swd")
    simulation: SimulationConfig = SimulationConfig(batch_size=64)
    seeds: int = 2
    workers: int = 2

    @classmethod
    def quick(cls) -> LossFamiliesConfig:
        """Three dropout values, one seed, short runs (tests, previews; not converged)."""
        return cls(dropouts=(0.0, 0.2, 0.5), seeds=1, simulation=SimulationConfig(steps=150, batch_size=32,
                                                                                    init_scale=1.0), workers=1)

    def __post_init__(self) -> None:
        if self.seeds < 1 or not self.losses or not self.dropouts or list(self.dropouts) != sorted(self.dropouts):
            raise ValueError(f"LossFamiliesConfig needs seeds >= 1, some losses and increasing dropouts, got "
                             f"{self.seeds}, {self.losses}, {self.dropouts}")


def loss_families(config: LossFamiliesConfig | None = None, cache: Path | None = None,
                  log: Callable[[str], None] = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Task-2 (solid) and task-1 (faint) probe ``R^2`` against dropout under each loss, per capacity.

    Returns:
        ``(fig, rows)``: ``kind = "curve"`` rows (``loss`` incl. ``"spectral"``, ``rep_dim``,
        ``dropout``, ``seed`` or ``"mean"``, both tasks' ``R^2``) and ``kind = "boundary"`` rows
        (``loss``, ``rep_dim``, ``p_star``, ``boundary``, ``shift = boundary - p_star``).
    """
    config = LossFamiliesConfig() if config is None else config
    ps = np.asarray(config.dropouts)
    p_star = float(config.setting.critical_dropout())
    models = [config.setting.model(float(p), k) for k in config.rep_dims for p in ps]
    rows: list[dict[str, Any]] = []
    fig, axes = new_figure(len(config.rep_dims), width=TEXT_WIDTH, height=2.3, sharey=True)
    axes = np.atleast_1d(axes)
    p_dense = np.linspace(0.0, ps[-1], 201)
    for ax, k in zip(axes, config.rep_dims):
        closed = config.setting.predict(p_dense, k).probe_r2
        rows += [{"kind": "curve", "loss": "spectral", "rep_dim": k, "dropout": float(p), "seed": "",
                  "probe_r2_task1": float(r[0]), "probe_r2_task2": float(r[1])} for p, r in zip(p_dense, closed)]
        ax.plot(p_dense, closed[:, 1], color="0.2", **CLOSED_FORM)
        ax.axvline(p_star, color="0.6", linewidth=0.6, zorder=1)
        ax.set_title(f"$k = {k}$")
        ax.set_xlabel("dropout $p_1$ on the strong block")
    level = {k: float(config.setting.predict([0.0, 0.999], k).probe_r2[:, 1].mean()) for k in config.rep_dims}
    for loss in config.losses:
        runs = infonce_runs(models, range(config.seeds), loss_recipe(loss, config.simulation), cache=cache,
                            workers=config.workers, log=log, progress=True)
        r2 = runs.probe_r2.reshape(len(config.rep_dims), len(ps), config.seeds, 2)
        for ax, k, sims in zip(axes, config.rep_dims, r2):
            mean = sims.mean(axis=1)
            for i, p in enumerate(ps):
                for seed in [*range(config.seeds), "mean"]:
                    vals = mean[i] if seed == "mean" else sims[i, seed]
                    rows.append({"kind": "curve", "loss": loss, "rep_dim": k, "dropout": float(p), "seed": seed,
                                 "probe_r2_task1": float(vals[0]), "probe_r2_task2": float(vals[1])})
            boundary = first_crossing(ps, mean[:, 1], level[k])
            rows.append({"kind": "boundary", "loss": loss, "rep_dim": k, "p_star": p_star, "level": level[k],
                         "boundary": boundary, "shift": boundary - p_star})
            ax.plot(ps, mean[:, 1], color=LOSS_COLORS.get(loss, "0.4"), marker="o", markersize=3, **SIMULATION)
            ax.plot(ps, mean[:, 0], color=LOSS_COLORS.get(loss, "0.4"), alpha=0.35, linewidth=0.9)
    axes[0].set_ylabel("probe $R^2$ (solid: task 2; faint: task 1)")
    axes[0].set_ylim(-0.03, 1.05)
    axes[-1].legend(handles=[Line2D([], [], color=LOSS_COLORS.get(n, "0.4"), marker="o", markersize=3,
                                    label=LOSS_LABELS.get(n, n)) for n in config.losses]
                    + [Line2D([], [], color="0.2", **CLOSED_FORM, label="spectral closed form")],
                    loc="center right", fontsize=6)
    return fig, rows


def _config(quick: bool) -> LossFamiliesConfig:
    return LossFamiliesConfig.quick() if quick else LossFamiliesConfig()


def _draw(config: LossFamiliesConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    n = len(config.rep_dims) * len(config.dropouts) * config.seeds * len(config.losses)
    ctx.log(f"  {n} runs of {config.simulation.steps} steps under {len(config.losses)} losses, cached in {ctx.cache}")
    return loss_families(config, ctx.cache, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("loss_families", "two-block dropout sweep under InfoNCE and the generalized losses (linear)",
               _config, _draw),
)
