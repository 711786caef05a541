"""Figure 1's numbers against the closed forms, recomputed independently of the figure code."""

from __future__ import annotations

import numpy as np
import pytest

from linear_theory import FeatureBlock, LinearModel, critical_dropout, spectral_optimum
from linear_theory.sweep import SweepConfig, closed_form_sweep
from linear_theory.two_block import TwoBlock
from paper_figures.phase_diagram import PhaseDiagramConfig, phase_diagram

CONFIG = PhaseDiagramConfig.quick()


@pytest.fixture(scope="module")
def rows():
    fig, rows = phase_diagram(CONFIG)
    assert len(fig.axes) == 4  # three panels and the colour bar
    return rows


def _model(ratio, p, k, c=CONFIG.setting):
    s1 = c.strong_strength
    return LinearModel((FeatureBlock(c.dims[0], s1, dropout=p, aug_noise=c.aug_noise[0]),
                        FeatureBlock(c.dims[1], ratio * s1, aug_noise=c.aug_noise[1])), rep_dim=k, noise=c.noise)


def _panel(rows, panel, k=None):
    return [r for r in rows if r["panel"] == panel and (k is None or r["rep_dim"] == k)]


def test_grid_is_complete_and_log_spaced(rows):
    n_ratio, n_p = CONFIG.ratio_range[2], CONFIG.dropout_range[2]
    for panel, k in zip("ab", CONFIG.rep_dims):
        grid = _panel(rows, panel, k)
        assert len(grid) == n_ratio * n_p
        ratios = sorted({r["ratio"] for r in grid})
        np.testing.assert_allclose(ratios, np.geomspace(0.01, 1.0, n_ratio), rtol=1e-12)
        assert sorted({r["dropout"] for r in grid}) == pytest.approx(np.linspace(0, 0.98, n_p).tolist())
    assert len(_panel(rows, "p_star")) == n_ratio
    assert len(_panel(rows, "c")) == 2 * CONFIG.slice_points


def test_heat_map_equals_closed_form_sweep(rows):
    for panel, k in zip("ab", CONFIG.rep_dims):
        for r in _panel(rows, panel, k)[::7]:
            res = closed_form_sweep(SweepConfig(ratio=(r["ratio"],) * 2 + (1,), dropout=(r["dropout"],) * 2 + (1,),
                                                rep_dim=k, setting=TwoBlock(strong_strength=3.0, dims=(4, 4),
                                                                            noise=0.1, aug_noise=(0.0, 0.5))))
            np.testing.assert_allclose([r["probe_r2_task1"], r["probe_r2_task2"]], res["probe_r2"][0, 0], atol=1e-12)
            np.testing.assert_allclose(r["p_star"], res["p_star"][0, 0], rtol=1e-12)


@pytest.mark.parametrize("k", CONFIG.rep_dims)
def test_heat_map_equals_spectral_optimum_of_the_model(rows, k):
    """Independent check: the optimum of LinearModel (eigen-decomposition of A), not the sweep."""
    grid = _panel(rows, "ab"[CONFIG.rep_dims.index(k)], k)
    for r in grid[:: max(1, len(grid) // 12)]:
        opt = spectral_optimum(_model(r["ratio"], r["dropout"], k))
        np.testing.assert_allclose([r["probe_r2_task1"], r["probe_r2_task2"]], opt.probe_r2, atol=1e-9)
        np.testing.assert_allclose([r["captured_dims_block1"], r["captured_dims_block2"]], opt.captured_dims)


def test_p_star_curve_equals_critical_dropout(rows):
    curve = _panel(rows, "p_star")
    for r in curve:
        expected = critical_dropout(_model(r["ratio"], 0.0, CONFIG.rep_dims[0]), strong=0, weak=1)
        assert r["p_star"] == pytest.approx(expected, rel=1e-12)
    # docs/linear-theory.md's worked example: s_2 = 1 (ratio 1/3) gives p* ~ 0.205
    assert critical_dropout(_model(1 / 3, 0.0, 4), 0, 1) == pytest.approx(0.2052, abs=1e-3)


def test_suppression_below_and_rescue_above_p_star(rows):
    """k = r_1: task 2 at chance below p*, learned above; k = r_1 + 2: half of it below, all above."""
    for r in _panel(rows, "a", 4):
        snr2 = (3 * r["ratio"]) ** 2 / ((3 * r["ratio"]) ** 2 + 0.01)
        if r["dropout"] < r["p_star"] - 1e-9:
            assert r["probe_r2_task2"] == 0.0
        elif r["dropout"] > r["p_star"] + 1e-9:
            assert r["probe_r2_task2"] == pytest.approx(snr2)
    for r in _panel(rows, "b", 6):
        snr2 = (3 * r["ratio"]) ** 2 / ((3 * r["ratio"]) ** 2 + 0.01)
        half = r["dropout"] < r["p_star"] - 1e-9
        assert r["probe_r2_task2"] == pytest.approx(snr2 * (0.5 if half else 1.0))


def test_cut_shows_the_trade_off(rows):
    cut4, cut6 = _panel(rows, "c", 4), _panel(rows, "c", 6)
    assert all(r["ratio"] == pytest.approx(1 / 3) for r in cut4 + cut6)
    above4 = [r for r in cut4 if r["dropout"] > r["p_star"] and r["dropout"] < 1]
    above6 = [r for r in cut6 if r["dropout"] > r["p_star"] and r["dropout"] < 1]
    assert above4 and all(r["probe_r2_task1"] == 0.0 for r in above4)  # rescue costs task 1 at k = 4
    assert all(r["probe_r2_task1"] == pytest.approx(0.5 * 9 / 9.01) for r in above6)  # both learned at k = 6
