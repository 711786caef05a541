"""The theorems of docs/linear-theory.md (1-5) as properties over random valid models.

Theorem 6 (dynamics) is tested in ``test_dynamics.py``.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from linear_theory import (
    FeatureBlock,
    LinearModel,
    best_dropout,
    critical_dropout,
    encoder_probe_r2,
    spectral_optimum,
)
from linear_theory.closed_form import block_eigenvalues
from linear_theory.spectral import model_eigenvalues, spectral_optimum_r2
from tests.linear.strategies import (
    aug_noises,
    models,
    noises,
    strengths,
    suppression_models,
    two_block_models,
)


@given(suppression_models())
def test_theorem1_suppression(model):
    """Theorem 1 (suppression). Without dropout, if ``lambda_1 > lambda_2`` and ``r_1 >= k``,
    block 2 gets no capacity: ``c_2 = 0``, ``R^2_2 = 0`` and task-2 accuracy is chance, however
    informative block 2 is — checked on the closed form and on the optimum encoder itself."""
    opt = spectral_optimum(model)
    assert opt.captured_dims[1] == 0
    assert opt.probe_r2[1] == 0
    assert opt.probe_accuracy[1] == 0.5
    assert encoder_probe_r2(model, opt.W)[1] < 1e-12
    assert opt.captured_dims[0] == model.rep_dim


@given(two_block_models(no_dropout=True))
def test_theorem2_critical_dropout(model):
    """Theorem 2 (critical dropout). ``lambda_1(p)`` decreases in ``p``; when
    ``lambda_1(0) > lambda_2`` the crossing ``lambda_1(p*) = lambda_2`` has exactly one root
    ``p* = 1 - q+`` in ``[0, 1)``; otherwise there is none (NaN)."""
    lam = model_eigenvalues(model)
    b = model.blocks[0]
    ps = np.linspace(0, 1, 401)
    curve = block_eigenvalues(b.strength, ps, b.aug_noise, model.noise)
    assert np.all(np.diff(curve) < 0)
    p_star = critical_dropout(model, 0, 1)
    if lam[0] > lam[1]:
        assert 0 <= p_star < 1
        at = block_eigenvalues(b.strength, p_star, b.aug_noise, model.noise)
        assert at == pytest.approx(lam[1], rel=1e-9, abs=1e-14)
        sign_changes = np.sum(np.diff(np.sign(curve - lam[1])) != 0)
        assert sign_changes == 1
    else:
        assert math.isnan(p_star)


@given(two_block_models(no_dropout=True), st.floats(0.0, 1.0))
def test_theorem3_rescue(model, frac):
    """Theorem 3 (rescue). For ``p > p*`` block 2 gets ``min(r_2, k)`` dims and block 1 keeps
    ``min(r_1, max(0, k - r_2))``: both tasks are learned when ``k > r_2``, although block 1's label is
    destroyed in a fraction ``p`` of the views."""
    p_star = critical_dropout(model, 0, 1)
    assume(not math.isnan(p_star))
    p = p_star + (1 - p_star) * (0.001 + 0.998 * frac)
    dropped = model.with_block(0, dropout=p)
    lam = model_eigenvalues(dropped)
    assume(lam[1] > lam[0] * (1 + 1e-9))  # strictly past the crossing, numerically
    opt = spectral_optimum(dropped)
    r1, r2, k = model.blocks[0].dim, model.blocks[1].dim, model.rep_dim
    assert opt.captured_dims[1] == min(r2, k)
    assert opt.captured_dims[0] == min(r1, max(0, k - r2))
    if k > r2:
        assert opt.probe_r2[0] > 0 and opt.probe_r2[1] > 0


@given(models(), st.floats(0.0, 0.95), st.floats(0.0, 0.95))
def test_theorem4_monotone_in_dropout_of_the_competitor(model, p_a, p_b):
    """Theorem 4 (monotonicity, in ``p_1``). ``R^2_2`` is non-decreasing in block 1's dropout."""
    assume(len(model.blocks) >= 2)
    lo, hi = sorted((p_a, p_b))
    r_lo = spectral_optimum_r2(model.with_block(0, dropout=lo))[1]
    r_hi = spectral_optimum_r2(model.with_block(0, dropout=hi))[1]
    assert r_hi >= r_lo - 1e-12


@given(models(), strengths, strengths)
def test_theorem4_monotone_in_strengths(model, s_a, s_b):
    """Theorem 4 (monotonicity, in strengths). ``R^2_2`` is non-decreasing in ``s_2`` and
    non-increasing in ``s_1``."""
    assume(len(model.blocks) >= 2)
    lo, hi = sorted((s_a, s_b))
    r2 = lambda m: spectral_optimum_r2(m)[1]  # noqa: E731
    assert r2(model.with_block(1, strength=hi)) >= r2(model.with_block(1, strength=lo)) - 1e-12
    assert r2(model.with_block(0, strength=hi)) <= r2(model.with_block(0, strength=lo)) + 1e-12


@given(models(), aug_noises, aug_noises)
def test_theorem4_monotone_in_augmentation_noise(model, e_a, e_b):
    """Theorem 4 (monotonicity, in ``eta_2``). ``R^2_2`` is non-increasing in block 2's augmentation noise."""
    assume(len(model.blocks) >= 2)
    lo, hi = sorted((e_a, e_b))
    r_lo = spectral_optimum_r2(model.with_block(1, aug_noise=lo))[1]
    r_hi = spectral_optimum_r2(model.with_block(1, aug_noise=hi))[1]
    assert r_hi <= r_lo + 1e-12


def _objective(model, p, w):
    return float(w @ spectral_optimum_r2(model.with_block(0, dropout=p)))


@given(two_block_models(no_dropout=True), st.floats(0.05, 0.95))
def test_theorem5_best_dropout_is_an_interval(model, w0):
    """Theorem 5 (best dropout, at the optimum). The probe R^2 depends on ``p`` only through the
    allocation, so the best set for a weighted sum of task R^2 is ``(p*, 1)`` when the rescue pays
    and ``[0, p*)`` when it does not (at ``p = 1`` block 1 is lost entirely). Checked against an
    independent dense grid of the objective."""
    w = np.array([w0, 1 - w0])
    p_star = critical_dropout(model, 0, 1)
    assume(not math.isnan(p_star) and 0.01 < p_star < 0.99)
    best = best_dropout(model, 0, w)
    before = _objective(model, p_star / 2, w)
    after = _objective(model, (1 + p_star) / 2, w)
    tol = 1e-12
    if after > before + tol and model.rep_dim > model.blocks[1].dim:
        assert best.intervals == ((p_star, 1.0, False, False),)
    elif before > after + tol:
        assert best.intervals == ((0.0, p_star, True, False),)
    grid = np.concatenate([np.linspace(0, 1, 101), [p_star]])
    values = np.array([_objective(model, p, w) for p in grid])
    assert best.value == pytest.approx(values.max(), abs=1e-12)
    for p, v in zip(grid, values):
        assert best.contains(p) == (v >= values.max() - 1e-12), p


def test_theorem5_worked_example():
    """The docs/linear-theory.md setting with ``k = 6``: the rescue pays for task 2 (weights (0, 1)) on ``(p*, 1]``
    since block 2 never needs block 1 there, and it does not pay for the mean of both tasks."""
    blocks = (FeatureBlock(4, 3.0), FeatureBlock(4, 1.0, aug_noise=0.5))
    model = LinearModel(blocks, 6, 0.1, 32)
    p_star = critical_dropout(model, 0, 1)
    only_task2 = best_dropout(model, 0, [0.0, 1.0])
    assert only_task2.intervals == ((p_star, 1.0, False, True),)
    mean = best_dropout(model, 0)
    assert mean.intervals == ((0.0, p_star, True, False),)


@given(st.floats(0.05, 1.0), noises, aug_noises)
def test_critical_dropout_rejects_bad_block_indices(ratio, noise, eta):
    model = LinearModel((FeatureBlock(2, 1.0), FeatureBlock(2, ratio, aug_noise=eta)), 2, noise)
    with pytest.raises(ValueError):
        critical_dropout(model, 0, 0)
    with pytest.raises(ValueError):
        critical_dropout(model, 0, 2)
    with pytest.raises(ValueError):
        best_dropout(model, 5)
