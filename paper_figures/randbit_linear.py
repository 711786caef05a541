"""Figure: RandBit in the linear model, under the spectral closed form, InfoNCE and the generalized losses.

``b`` shared ``+-1`` bits against an augmented image block (:class:`linear_theory.randbit.RandBit`),
capacity ``k = 4``: (a) image-task probe ``R^2`` against ``b`` without dropout; (b) against the
bits' per-view dropout ``p`` at fixed ``b``; (c) beside them, the deep arm's RandBits-MNIST digit
accuracy against ``b`` (figure 8's runs, ``--randbits``; left empty when there are none). The
closed form is exact for bits (only second moments enter the spectral loss); the simulations are
batched and cached (:func:`linear_theory.infonce_runs.infonce_runs`).
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
from linear_theory.randbit import RandBit
from linear_theory.simulate import SimulationConfig, loss_recipe
from paper_figures.loss_families import LOSS_COLORS, LOSS_LABELS
from paper_figures.randbits import RandBitsRun, find_randbits_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import first_crossing
from paper_figures.style import CLOSED_FORM, SIMULATION, TEXT_WIDTH, new_figure

__all__ = ["RandBitLinearConfig", "randbit_linear", "FIGURES"]


@dataclass(frozen=True)
class RandBitLinearConfig:
    """The two sweeps.

    Attributes:
        randbit: the setting (bits ``s_b = 1``; image ``r = 4``, ``s = 1``, ``eta = 0.5``; ``sigma = 0.1``;
            ``d = 32``); its ``bits`` is not read.
        rep_dim: capacity ``k``.
        bits: ``b`` values of panel (a) (``p = 0``).
        dropout_bits, dropouts: ``b`` and the ``p`` values of panel (b).
        losses, simulation, seeds, workers: as :class:`paper_figures.loss_families.LossFamiliesConfig`.
        deep_temperature: the RandBits-MNIST temperature shown in panel (c).
    """

    randbit: RandBit = RandBit()
    rep_dim: int = 4
    bits: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    dropout_bits: int = 6
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6, 0.8)
    losses: tuple[str, ...] = ("infonce", "decoupled", "swd")
    simulation: SimulationConfig = SimulationConfig(batch_size=64)
    seeds: int = 2
    workers: int = 2
    deep_temperature: float = 0.1

    @classmethod
    def quick(cls) -> RandBitLinearConfig:
        """Two values per sweep, one seed, short runs (tests, previews; not converged)."""
        return cls(randbit=RandBit(input_dim=12), bits=(2, 6), dropouts=(0.0, 0.6), seeds=1,
                   simulation=SimulationConfig(steps=150, batch_size=32, init_scale=1.0), workers=1)

    def __post_init__(self) -> None:
        if self.seeds < 1 or not self.bits or not self.dropouts or list(self.dropouts) != sorted(self.dropouts):
            raise ValueError(f"RandBitLinearConfig needs seeds >= 1, bits and increasing dropouts, got "
                             f"{self.seeds}, {self.bits}, {self.dropouts}")


def randbit_linear(config: RandBitLinearConfig | None = None, cache: Path | None = None,
                   deep: list[RandBitsRun] | None = None,
                   log: Callable[[str], None] = lambda msg: None) -> tuple[Figure, list[dict[str, Any]]]:
    """Image-task ``R^2`` against ``b`` and against ``p``: closed form (dotted) and each loss (solid, mean of seeds).

    Returns:
        ``(fig, rows)``: ``panel`` ``"bits"`` / ``"dropout"`` rows (``method`` = ``"spectral"`` or a
        loss, ``bits``, ``dropout``, ``seed`` or ``"mean"``, ``r2_bits``, ``r2_image``),
        ``"p_star"`` rows (``method``, ``p_star`` = the closed form's or the loss's crossing of the
        middle of the spectral step) and ``"deep"`` rows (``bits``, ``digits_accuracy``).
    """
    config = RandBitLinearConfig() if config is None else config
    k, rb = config.rep_dim, config.randbit
    ps = np.asarray(config.dropouts)
    fixed = rb.with_bits(config.dropout_bits)
    rows: list[dict[str, Any]] = []
    fig, axes = new_figure(3, width=TEXT_WIDTH, height=2.3)

    def add(panel: str, method: str, bits: int, p: float, seed: Any, r2: np.ndarray) -> None:
        rows.append({"panel": panel, "method": method, "bits": bits, "dropout": float(p), "seed": seed,
                     "r2_bits": float(r2[0]), "r2_image": float(r2[1])})

    closed_b = np.array([rb.with_bits(b).predict(0.0, k).probe_r2 for b in config.bits])
    closed_p = fixed.predict(ps, k).probe_r2
    for b, r2 in zip(config.bits, closed_b):
        add("bits", "spectral", b, 0.0, "", r2)
    for p, r2 in zip(ps, closed_p):
        add("dropout", "spectral", config.dropout_bits, p, "", r2)
    level = float(fixed.predict([0.0, 0.999], k).probe_r2[:, 1].mean())
    rows.append({"panel": "p_star", "method": "spectral", "bits": config.dropout_bits, "p_star": fixed.critical_dropout()})
    axes[0].plot(config.bits, closed_b[:, 1], color="0.2", marker="o", markersize=2.5, **CLOSED_FORM)
    axes[1].plot(ps, closed_p[:, 1], color="0.2", **CLOSED_FORM)
    axes[1].axvline(fixed.critical_dropout(), color="0.6", linewidth=0.6, zorder=1)

    seeds = range(config.seeds)
    for loss in config.losses:
        sim = loss_recipe(loss, config.simulation)
        by_bits = infonce_runs([rb.with_bits(b).model(0.0, k) for b in config.bits], seeds, sim, cache=cache,
                               workers=config.workers, log=log, progress=True).probe_r2
        by_p = infonce_runs([fixed.model(float(p), k) for p in ps], seeds, sim, cache=cache,
                            workers=config.workers, log=log, progress=True).probe_r2
        for panel, xs, runs in (("bits", config.bits, by_bits), ("dropout", ps, by_p)):
            for i, x in enumerate(xs):
                b, p = (x, 0.0) if panel == "bits" else (config.dropout_bits, x)
                for s in seeds:
                    add(panel, loss, b, p, s, runs[i, s])
                add(panel, loss, b, p, "mean", runs[i].mean(axis=0))
        crossing = first_crossing(ps, by_p.mean(axis=1)[:, 1], level)
        rows.append({"panel": "p_star", "method": loss, "bits": config.dropout_bits, "p_star": crossing})
        style = {"color": LOSS_COLORS.get(loss, "0.4"), "marker": "o", "markersize": 3, **SIMULATION}
        axes[0].plot(config.bits, by_bits.mean(axis=1)[:, 1], **style)
        axes[1].plot(ps, by_p.mean(axis=1)[:, 1], **style)

    axes[0].set_xlabel("shared random bits $b$ ($p = 0$)")
    axes[0].set_ylabel(f"image-task probe $R^2$ ($k = {k}$)")
    axes[0].set_title("(a) more bits")
    axes[1].set_xlabel(f"per-view dropout $p$ of the bits ($b = {config.dropout_bits}$)")
    axes[1].set_title("(b) dropping the bits")
    for ax in axes[:2]:
        ax.set_ylim(-0.03, 1.05)
    axes[1].legend(handles=[Line2D([], [], color=LOSS_COLORS.get(n, "0.4"), marker="o", markersize=3,
                                   label=LOSS_LABELS.get(n, n)) for n in config.losses]
                   + [Line2D([], [], color="0.2", **CLOSED_FORM, label="spectral (exact)")], loc="lower right",
                   fontsize=5.5)
    deep_runs = [r for r in deep or () if r.dropout_p == 0 and np.isclose(r.temperature, config.deep_temperature)]
    ax = axes[2]
    if deep_runs:
        bits = sorted({r.bits for r in deep_runs})
        acc = [float(np.mean([r.digits for r in deep_runs if r.bits == b])) for b in bits]
        rows += [{"panel": "deep", "method": "randbits_mnist", "bits": b, "digits_accuracy": a} for b, a in zip(bits, acc)]
        ax.plot(bits, acc, color="0.2", marker="s", markersize=3, **SIMULATION)
        ax.axhline(0.1, color="0.7", linewidth=0.5)
        ax.set_ylim(0, 1.02)
    else:
        ax.text(0.5, 0.5, "no RandBits-MNIST runs\n(--randbits DIR)", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("random bits $b$ (RandBits-MNIST)")
    ax.set_ylabel("digit accuracy")
    ax.set_title(f"(c) deep arm, $\\tau = {config.deep_temperature:g}$")
    return fig, rows


def _config(quick: bool) -> RandBitLinearConfig:
    return RandBitLinearConfig.quick() if quick else RandBitLinearConfig()


def _draw(config: RandBitLinearConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    try:
        deep = find_randbits_runs(ctx.randbits)
    except MissingResults:
        deep = []
    ctx.log(f"  RandBit sweeps under {len(config.losses)} losses, cached in {ctx.cache}")
    return randbit_linear(config, ctx.cache, deep, ctx.log)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("randbit_linear", "RandBit in the linear model: image R^2 vs bits and vs bit dropout, every loss",
               _config, _draw),
)
