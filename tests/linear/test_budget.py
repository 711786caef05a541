"""Theorem 5, second half: under a finite training time the dynamics pick the best dropout.

At the spectral optimum every ``p`` in ``(p*, 1)`` ties. Under gradient flow for time ``T`` from a
small init, (1) the rescue of the weak block takes ``~ 1 / (8 v_w (lambda_w - lambda_s(p)))``
longer after the strong block is learned, so it completes only above ``p_lo(T) > p*``; (2) dropout
slows the strong block by ``(1 - p)^2``, so where it keeps slots it is learned only below
``p_hi(T)``. The closed forms predict both edges; a grid of batched gradient-flow runs measures them.
"""

import numpy as np
import pytest

from linear_theory import FeatureBlock, LinearModel
from linear_theory.budget import budget_dropout, rescue_time, simulated_budget
from linear_theory.spectral import critical_dropout

SCALE = 0.01  # init W0 = SCALE * N(0, 1): a0 = k * SCALE^2 per direction
#: |closed form - grid search| tolerances on the edges. The rescue edge is a two-phase estimate
#: (exponential growth, then linear growth around the strong block's fixed point) and errs late
#: by up to ~10% in time; the strong-block edge is the exact logistic time.
TOL_LO, TOL_HI = 0.05, 0.03
GRID = np.round(np.arange(0.2, 1.0, 0.01), 10)


def _model(r_strong: int, r_weak: int, k: int, s_strong: float = 3.0, noise: float = 0.1) -> LinearModel:
    return LinearModel((FeatureBlock(r_strong, s_strong), FeatureBlock(r_weak, 1.0, aug_noise=0.5)), k, noise, 12)


@pytest.mark.parametrize(
    "model, budget",
    [
        (_model(4, 2, 4), 5.0),  # rescue pays: (1, 0) -> (0.5, 1); the strong block keeps 2 slots
        (_model(4, 2, 4), 20.0),
        (_model(4, 4, 6), 8.0),  # spare slots: the weak block already holds 2 of 4 below p*
        (_model(3, 2, 3, s_strong=2.0, noise=0.2), 10.0),  # another strength ratio and noise level
    ],
    ids=["r42k4_T5", "r42k4_T20", "r44k6_T8", "r32k3_T10"],
)
def test_closed_form_edges_match_the_gradient_flow_grid_search(model, budget):
    """``p_lo(T)`` within ``TOL_LO`` and ``p_hi(T)`` within ``TOL_HI`` (plus the 0.01 grid step) of the grid search."""
    cf = budget_dropout(model, 0, 1, budget, model.rep_dim * SCALE**2)
    sim = simulated_budget(model, 0, 1, budget, GRID, init_scale=SCALE, seeds=(0,))
    assert cf.p_star < cf.p_lo < cf.p_hi <= 1.0
    assert abs(cf.p_lo - sim.p_lo) <= TOL_LO + 0.01, (cf, sim.p_lo)
    assert abs(cf.p_hi - sim.p_hi) <= TOL_HI + 0.01, (cf, sim.p_hi)
    # the measured best set: rescued and strong block learned, exactly on [p_lo, p_hi) of the grid
    best = (sim.rescued > 0.5) & (sim.strong_learned > 0.5)
    assert best.any() and GRID[best].min() == sim.p_lo


def test_edges_move_with_the_budget():
    """``p_lo(T)`` decreases to ``p*`` and ``p_hi(T)`` increases to 1 as ``T`` grows; too short a ``T`` rescues nothing."""
    model = _model(4, 2, 4)
    a0 = 4 * SCALE**2
    results = [budget_dropout(model, 0, 1, T, a0) for T in (2.0, 5.0, 20.0, 80.0, 1e4)]
    p_lo = [r.p_lo for r in results]
    p_hi = [r.p_hi for r in results]
    assert np.all(np.diff(p_lo) < 0) and np.all(np.diff(p_hi) > 0)
    assert p_lo[-1] - results[-1].p_star < 0.01 and p_hi[-1] > 0.99
    assert all(r.best == r.p_lo and r.rescue_pays for r in results)
    assert np.isnan(budget_dropout(model, 0, 1, 1e-3, a0).p_lo)


def test_rescue_time_diverges_at_the_critical_dropout():
    """``t_rescue(p) -> inf`` as ``p -> p*+`` (the eigenvalue gap closes) and is infinite below ``p*``."""
    model = _model(4, 2, 4)
    p_star = critical_dropout(model, 0, 1)
    t = rescue_time(model, 0, 1, p_star + np.array([1e-1, 1e-2, 1e-3, 1e-4]), 4 * SCALE**2)
    assert np.all(np.diff(t) > 0) and t[-1] > 100 * t[0]
    assert np.isinf(rescue_time(model, 0, 1, p_star - 0.05, 4 * SCALE**2))
    # with enough spare rows no slot is taken: the weak block's own logistic time, whatever p
    roomy = _model(4, 2, 6)
    assert rescue_time(roomy, 0, 1, 0.0, 6e-4) == pytest.approx(rescue_time(roomy, 0, 1, 0.9, 6e-4))


def test_no_rescue_worth_paying_for_means_no_dropout():
    """With tied totals (r1 = r2 = k: (1, 0) vs (0, 1)) the rescue does not pay: best is p = 0."""
    res = budget_dropout(_model(4, 4, 4), 0, 1, 10.0, 4 * SCALE**2)
    assert not res.rescue_pays and res.best == 0.0 and res.p_hi == 1.0
    weighted = budget_dropout(_model(4, 4, 4), 0, 1, 10.0, 4 * SCALE**2, weights=[0.2, 0.8])
    assert weighted.rescue_pays and weighted.best == weighted.p_lo


def test_invalid_budget_inputs():
    """Three blocks, equal indices, non-positive budgets or inits, bad weights raise ValueError."""
    model = _model(4, 2, 4)
    three = LinearModel((*model.blocks, FeatureBlock(1, 1.0)), 4, 0.1)
    with pytest.raises(ValueError, match="two blocks"):
        budget_dropout(three, 0, 1, 1.0, 1e-4)
    with pytest.raises(ValueError, match="strong and weak"):
        budget_dropout(model, 0, 0, 1.0, 1e-4)
    with pytest.raises(ValueError, match="budget"):
        budget_dropout(model, 0, 1, 0.0, 1e-4)
    with pytest.raises(ValueError, match="a0"):
        budget_dropout(model, 0, 1, 1.0, 0.0)
    with pytest.raises(ValueError, match="weights"):
        budget_dropout(model, 0, 1, 1.0, 1e-4, weights=[1.0, 2.0, 3.0])
