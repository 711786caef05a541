"""The spectral closed-form optimum against gradients, perturbations, GD and Monte Carlo."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linear_theory import (
    FeatureBlock,
    LinearModel,
    encoder_probe_r2,
    spectral_grad,
    spectral_loss,
    spectral_optimum,
)
from linear_theory.closed_form import allocate_capacity, block_eigenvalues, sign_accuracy
from linear_theory.spectral import model_eigenvalues
from tests.linear.strategies import models


def _generic(model: LinearModel) -> bool:
    """No two distinct blocks tie (ties make the captured subspace arbitrary)."""
    lam = model_eigenvalues(model)
    diffs = np.abs(lam[:, None] - lam[None, :]) + np.eye(len(lam))
    return bool(np.all(diffs > 1e-6))


@given(models())
def test_optimum_is_stationary_with_loss_minus_sum_lambda_squared(model):
    """At ``W*`` the gradient vanishes and ``L(W*) = -sum_{j<=k} lambda_j^2`` (largest k, with multiplicity)."""
    opt = spectral_optimum(model)
    assert np.max(np.abs(spectral_grad(model, opt.W))) < 1e-9 * max(1.0, np.max(np.abs(opt.W)) ** 3)
    lam_all = np.repeat(opt.eigenvalues, [b.dim for b in model.blocks])
    expected = -np.sum(np.sort(lam_all)[::-1][: model.rep_dim] ** 2)
    assert opt.loss == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert float(spectral_loss(model, opt.W)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(models(), st.integers(0, 2**32 - 1))
def test_no_perturbation_lowers_the_loss(model, seed):
    """``W*`` is a global minimizer: random perturbations of any size never do better."""
    rng = np.random.default_rng(seed)
    opt = spectral_optimum(model)
    scales = np.array([1e-4, 1e-2, 1e-1, 1.0])[:, None, None, None]
    perturbed = opt.W + scales * rng.standard_normal((4, 8, *opt.W.shape))
    assert np.all(spectral_loss(model, perturbed) >= opt.loss - 1e-10)


@given(models(), st.integers(0, 2**32 - 1))
def test_optimum_gram_matches_formula(model, seed):
    """``W*^T W* = Sigma^{-1/2} [A]_k Sigma^{-1/2}`` when the k-th and (k+1)-th eigenvalues differ."""
    sigma, c = model.moments()
    s = np.diag(1 / np.sqrt(np.diag(sigma)))
    a = s @ c @ s
    evals, evecs = np.linalg.eigh(a)
    order = np.argsort(evals)[::-1]
    k = model.rep_dim
    if k < len(evals) and abs(evals[order[k - 1]] - evals[order[k]]) < 1e-8:
        return  # the top-k subspace is not unique
    top = order[:k]
    ak = (evecs[:, top] * np.clip(evals[top], 0, None)) @ evecs[:, top].T
    opt = spectral_optimum(model)
    np.testing.assert_allclose(opt.W.T @ opt.W, s @ ak @ s, atol=1e-10)


@given(models())
def test_probe_r2_of_the_optimum_encoder_matches_the_closed_form(model):
    """The probe R^2 computed from ``W*`` itself equals ``(c_i / r_i) s_i^2 / (s_i^2 + sigma^2)``."""
    if not _generic(model):
        return
    opt = spectral_optimum(model)
    np.testing.assert_allclose(encoder_probe_r2(model, opt.W), opt.probe_r2, atol=1e-8)


def test_gradient_descent_from_small_init_reaches_the_closed_form():
    """Plain GD on the population loss converges to ``-sum lambda^2`` and the predicted allocation."""
    model = LinearModel((FeatureBlock(3, 2.0, aug_noise=0.5), FeatureBlock(2, 1.0, dropout=0.2)), 4, 0.2, 6)
    rng = np.random.default_rng(0)
    W = 0.01 * rng.standard_normal((model.rep_dim, model.d))
    for _ in range(20_000):
        W -= 0.01 * spectral_grad(model, W)
    opt = spectral_optimum(model)
    assert float(spectral_loss(model, W)) == pytest.approx(opt.loss, abs=1e-8)
    np.testing.assert_allclose(encoder_probe_r2(model, W), opt.probe_r2, atol=1e-6)


@given(st.lists(st.floats(0.0, 3.0), min_size=1, max_size=5), st.data())
def test_allocation_fills_capacity_in_eigenvalue_order(lams, data):
    """Captured dims sum to ``min(k, dims with lambda > 0)``, never exceed a block's dim, and a block
    strictly above another is filled before it gets anything."""
    lam = np.array(lams)
    dims = np.array(data.draw(st.lists(st.integers(1, 4), min_size=len(lam), max_size=len(lam))), dtype=float)
    k = data.draw(st.integers(1, 12))
    c = allocate_capacity(lam, dims, k)
    assert np.all(c >= -1e-12) and np.all(c <= dims + 1e-12)
    assert c.sum() == pytest.approx(min(k, dims[lam > 0].sum()))
    for i in range(len(lam)):
        for j in range(len(lam)):
            if lam[i] > lam[j] * (1 + 1e-9) and c[j] > 0:
                assert c[i] == pytest.approx(dims[i])


def test_vectorized_closed_forms_equal_pointwise_calls():
    """A sweep evaluated in one broadcast call equals a loop of scalar model calls."""
    ratios = np.linspace(0.1, 1.0, 7)
    ps = np.linspace(0.0, 0.9, 5)
    R, P = np.meshgrid(ratios, ps, indexing="ij")
    s = np.stack([np.full_like(R, 3.0), 3.0 * R], axis=-1)
    p = np.stack([P, np.zeros_like(P)], axis=-1)
    lam = block_eigenvalues(s, p, np.array([0.0, 0.5]), 0.1)
    cap = allocate_capacity(lam, [4, 4], 4)
    for i, r in enumerate(ratios):
        for j, pp in enumerate(ps):
            m = LinearModel((FeatureBlock(4, 3.0, pp), FeatureBlock(4, 3.0 * r, 0.0, 0.5)), 4, 0.1)
            opt = spectral_optimum(m)
            np.testing.assert_allclose(lam[i, j], opt.eigenvalues, rtol=1e-12)
            np.testing.assert_allclose(cap[i, j], opt.captured_dims, atol=1e-12)


def test_sign_accuracy_matches_monte_carlo():
    """``1/2 + arcsin(rho)/pi`` is the sign agreement of correlated Gaussians (6 standard errors)."""
    rng = np.random.default_rng(3)
    n = 200_000
    for r2 in (0.0, 0.3, 0.8, 0.99):
        rho = np.sqrt(r2)
        y = rng.standard_normal(n)
        yhat = rho * y + np.sqrt(1 - r2) * rng.standard_normal(n)
        acc = np.mean(np.sign(y) == np.sign(yhat))
        assert abs(acc - sign_accuracy(r2)) < 6 * np.sqrt(0.25 / n)
