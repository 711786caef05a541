"""The InfoNCE phase diagram, the loss-family sweep and RandBit-in-the-linear-model figures: their numbers
against the closed forms (spectral optimum, critical dropout) and against the runs they plot."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from linear_theory import critical_dropout, spectral_optimum
from linear_theory.infonce_runs import infonce_runs
from linear_theory.simulate import loss_recipe
from paper_figures.infonce_phase_diagram import InfoNCEPhaseConfig, infonce_phase_diagram
from paper_figures.loss_families import LossFamiliesConfig, loss_families
from paper_figures.randbit_linear import RandBitLinearConfig, randbit_linear
from paper_figures.stats import first_crossing


def test_first_crossing_interpolates():
    assert first_crossing([0, 1, 2], [0.0, 0.2, 1.0], 0.6) == pytest.approx(1.5)
    assert first_crossing([0, 1], [0.7, 1.0], 0.5) == 0.0
    assert np.isnan(first_crossing([0, 1], [0.0, 0.1], 0.5))


def test_infonce_phase_diagram_numbers():
    """Spectral cells = spectral optimum of the cell's model; InfoNCE cells = the runs; difference = their gap;
    boundary rows: p* = critical dropout, InfoNCE boundary = the half-ceiling crossing of the plotted column."""
    config = InfoNCEPhaseConfig.quick()
    fig, rows = infonce_phase_diagram(config)
    assert len(fig.axes) == 6  # three maps and their colour bars
    grid = [r for r in rows if r["panel"] == "grid"]
    assert len(grid) == 16
    s1 = config.setting.strong_strength
    models = []
    for r in grid:
        model = config.setting.model(r["dropout"], config.rep_dim).with_block(1, strength=s1 * r["ratio"])
        models.append(model)
        np.testing.assert_allclose([r["spectral_r2_task1"], r["spectral_r2_task2"]], spectral_optimum(model).probe_r2,
                                   atol=1e-12)
        assert r["difference_task2"] == pytest.approx(r["infonce_r2_task2"] - r["spectral_r2_task2"])
        assert r["p_star"] == pytest.approx(critical_dropout(model, strong=0, weak=1))
    runs = infonce_runs(models, [0], config.simulation).probe_r2[:, 0]
    np.testing.assert_allclose([[r["infonce_r2_task1"], r["infonce_r2_task2"]] for r in grid], runs, rtol=1e-6)
    for b in (r for r in rows if r["panel"] == "boundary"):
        col = [g for g in grid if g["ratio"] == b["ratio"]]
        ceiling = (s1 * b["ratio"]) ** 2 / ((s1 * b["ratio"]) ** 2 + config.setting.noise**2)
        want = first_crossing([g["dropout"] for g in col], [g["infonce_r2_task2"] for g in col], ceiling / 2)
        assert b["infonce_boundary"] == pytest.approx(want, nan_ok=True)


def test_loss_families_numbers():
    """Spectral curve = spectral optimum; each loss's mean = the mean of its seed rows = its runs;
    boundary rows hold p* (critical dropout) and shift = boundary - p*."""
    config = LossFamiliesConfig.quick()
    _, rows = loss_families(config)
    curve = [r for r in rows if r["kind"] == "curve"]
    for r in [r for r in curve if r["loss"] == "spectral"][::25]:
        np.testing.assert_allclose([r["probe_r2_task1"], r["probe_r2_task2"]],
                                   spectral_optimum(config.setting.model(r["dropout"], r["rep_dim"])).probe_r2)
    for loss in config.losses:
        models = [config.setting.model(p, k) for k in config.rep_dims for p in config.dropouts]
        runs = infonce_runs(models, [0], loss_recipe(loss, config.simulation)).probe_r2[:, 0]
        mine = [r for r in curve if r["loss"] == loss and r["seed"] == "mean"]
        np.testing.assert_allclose([[r["probe_r2_task1"], r["probe_r2_task2"]] for r in mine], runs, rtol=1e-6)
    p_star = critical_dropout(config.setting.model(0.0, 4), strong=0, weak=1)
    for b in (r for r in rows if r["kind"] == "boundary"):
        assert b["p_star"] == pytest.approx(p_star)
        assert b["shift"] == pytest.approx(b["boundary"] - p_star, nan_ok=True)
    assert {b["loss"] for b in rows if b["kind"] == "boundary"} == set(config.losses)


def test_randbit_linear_numbers():
    """Spectral rows = the spectral optimum of the binary model (exact for bits); its p* row = the critical
    dropout; each loss's mean rows = its runs; deep rows only from given runs (none here)."""
    config = replace(RandBitLinearConfig.quick(), dropouts=(0.0, 0.15, 0.25, 0.6), losses=("swd",))  # p* = 0.2
    _, rows = randbit_linear(config)
    rb = config.randbit
    for r in (r for r in rows if r.get("method") == "spectral" and r["panel"] in ("bits", "dropout")):
        model = rb.with_bits(r["bits"]).model(r["dropout"], config.rep_dim)
        np.testing.assert_allclose([r["r2_bits"], r["r2_image"]], spectral_optimum(model).probe_r2, atol=1e-12)
    star = next(r for r in rows if r["panel"] == "p_star" and r["method"] == "spectral")
    assert star["p_star"] == pytest.approx(critical_dropout(rb.with_bits(config.dropout_bits).model(0.0, 4), 0, 1))
    models = [rb.with_bits(config.dropout_bits).model(p, config.rep_dim) for p in config.dropouts]
    runs = infonce_runs(models, [0], loss_recipe("swd", config.simulation)).probe_r2[:, 0]
    mine = [r for r in rows if r["panel"] == "dropout" and r["method"] == "swd" and r["seed"] == "mean"]
    np.testing.assert_allclose([[r["r2_bits"], r["r2_image"]] for r in mine], runs, rtol=1e-6)
    assert not [r for r in rows if r["panel"] == "deep"]
