"""RandBit in the linear model: exact moments of shared +-1 bits, the spectral closed form, and simulations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from linear_theory import spectral_optimum
from linear_theory.randbit import RandBit
from linear_theory.simulate import SimulationConfig, final_probe_r2, sample_views_torch
from linear_theory.symbolic import SYMBOLS, derive


def test_bit_moments_exact_by_enumeration_in_sympy():
    """Theorem: for bits s_b m u (u uniform on {-1, 1}, m^(t) ~ Bernoulli(1 - p) per view, all independent),
    E[x^(1) x^(2)] = s_b^2 (1-p)^2, E[x^2] = s_b^2 (1-p), E[x_i x_j] = 0 (i != j): summing over every
    outcome (u_i, u_j, m1, m2) gives docs/linear-theory.md's block moments with eta = 0, so lambda_bits -> 1 - p as sigma -> 0."""
    s, p, sigma = SYMBOLS["s"], SYMBOLS["p"], SYMBOLS["sigma"]
    prob_m = {0: p, 1: 1 - p}
    cross = same = other = sp.Integer(0)
    for ui, uj, m1, m2 in itertools.product((-1, 1), (-1, 1), (0, 1), (0, 1)):
        w = sp.Rational(1, 4) * prob_m[m1] * prob_m[m2]
        cross += w * (s * m1 * ui) * (s * m2 * ui)
        same += w * (s * m1 * ui) ** 2
        other += w * (s * m1 * ui) * (s * m1 * uj)
    d = derive()
    assert sp.simplify(cross - d.c_block.subs(SYMBOLS["eta"], 0)) == 0
    assert sp.simplify(same + sigma**2 - d.v_block.subs(SYMBOLS["eta"], 0)) == 0
    assert sp.simplify(other) == 0
    lam_bits = sp.simplify(cross / (same + sigma**2))
    assert sp.simplify(lam_bits.subs(sigma, 0) - (1 - p)) == 0
    rb = RandBit(bit_strength=1.7, noise=0.3)
    f = sp.lambdify((s, p, sigma), lam_bits)
    np.testing.assert_allclose(rb.bit_eigenvalue([0.0, 0.4]), [f(1.7, 0.0, 0.3), f(1.7, 0.4, 0.3)], rtol=1e-12)


@pytest.mark.parametrize("dropout", [0.0, 0.35])
def test_sampled_bits_are_shared_signs_with_the_exact_moments(dropout):
    """Monte Carlo (numpy and torch samplers, 200k pairs): bit coordinates of a clean input are +-s_b; a view
    holds them unchanged or not at all; the empirical moments match LinearModel.moments() (4 sigma)."""
    rb = RandBit(bits=3, bit_strength=2.0, image_dim=2, noise=0.2, input_dim=6)
    model = rb.model(dropout, rep_dim=2)
    n = 200_000
    v = model.sample_views(n, np.random.default_rng(0))
    assert set(np.unique(v.latents[0])) == {-1.0, 1.0}
    bits1 = v.view1[:, :3]
    sigma_hat = v.view1.T @ v.view1 / n
    cross_hat = v.view1.T @ v.view2 / n
    sigma, cross = model.moments()
    tol = 4 * np.sqrt(np.maximum(np.outer(np.diag(sigma), np.diag(sigma)), 0.04) / n) * 3
    np.testing.assert_array_less(np.abs(sigma_hat - sigma), tol)
    np.testing.assert_array_less(np.abs(cross_hat - cross), tol)
    np.testing.assert_allclose(cross[:3, :3], 4.0 * (1 - dropout) ** 2 * np.eye(3), rtol=1e-12)
    assert np.abs(bits1).max() < 2.0 + 6 * 0.2  # signs times s_b plus noise
    quiet = RandBit(bits=3, bit_strength=2.0, image_dim=2, noise=1e-9, input_dim=6).model(dropout, rep_dim=2)
    t1, t2 = sample_views_torch(quiet, 1000, torch.Generator().manual_seed(1))
    assert set(np.unique(np.round(np.abs(torch.cat([t1, t2])[:, :3].numpy()), 6))) <= {0.0, 2.0}
    x1, x2 = sample_views_torch(model, n, torch.Generator().manual_seed(0))
    np.testing.assert_array_less(np.abs((x1.T @ x2 / n).numpy() - cross), tol)
    np.testing.assert_array_less(np.abs((x1.T @ x1 / n).numpy() - sigma), tol)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.floats(0.2, 1.0), st.floats(0.2, 1.0), st.integers(1, 6))
def test_suppression_and_rescue_of_the_image(bits, s_img, eta, k):
    """Theorem (spectral optimum, exact for bits; s_img <= s_b, eta > 0 so lambda_img < lambda_bits(0)): with
    b >= k and p < p* the bits take every slot (image R^2 = 0); for p > p* the image gets min(r, k) dims;
    as sigma -> 0, p* -> 1 - lambda_img = 1 - 1/(1 + eta^2) (docs/related-work.md: rescue once p > 1 - rho_img)."""
    rb = RandBit(bits=bits, image_strength=s_img, image_aug_noise=eta, noise=0.1)
    p_star = rb.critical_dropout()
    assert 0 < p_star < 1
    clean = RandBit(bits=bits, image_strength=s_img, image_aug_noise=eta, noise=1e-9)
    assert clean.critical_dropout() == pytest.approx(1 - 1 / (1 + eta**2), abs=1e-6)
    below, above = max(0.0, p_star - 0.02), min(1.0, p_star + 0.02)
    cap = rb.predict([below, above], k).captured_dims
    if bits >= k:
        assert cap[0, 1] == 0 and rb.suppressed(below, k)
    assert cap[1, 1] == min(rb.image_dim, k)
    exact = spectral_optimum(rb.model(above, k)).captured_dims  # the general optimum of the binary model agrees
    np.testing.assert_allclose(exact, cap[1])


def test_capacity_sweep_over_bits_closed_form():
    """b bits at k = 4, no dropout: the bits take min(b, k) slots and the image the rest (R^2 = (k-b)/r * 0.99)."""
    rb = RandBit()
    r2 = np.array([rb.with_bits(b).predict(0.0, 4).probe_r2[1] for b in range(1, 7)])
    np.testing.assert_allclose(r2, np.maximum(4 - np.arange(1, 7), 0) / 4 * (1 / 1.01), rtol=1e-12)


@pytest.mark.parametrize(("loss", "lr", "tau", "suppressed_below"),
                         [("infonce", 0.5, 0.2, 0.1), ("decoupled", 5.0, 1.0, 0.1), ("swd", 2.0, 0.2, 0.4)])
def test_simulated_bits_suppress_and_dropout_rescues(loss, lr, tau, suppressed_below):
    """InfoNCE and the generalized losses, small and quick (d = 12, 400 steps of 64 pairs, init 1): b = k = 4
    bits suppress the image without dropout; dropping them with p = 0.6 > p* = 0.2 rescues it (R^2 > 0.9).
    Measured at p = 0: InfoNCE and decoupled R^2 ~ 0.0; SWD only partly (0.27): 16 sign patterns cannot
    match its continuous prior on the sphere, so the matching term pulls some image directions in.
    (The decoupled loss's gradient is ~10x smaller than InfoNCE's: lr 5.)"""
    rb = RandBit(input_dim=12)
    cfg = SimulationConfig(steps=400, batch_size=64, init_scale=1.0, record_every=400, loss=loss, temperature=tau, lr=lr)
    r2 = final_probe_r2([rb.model(0.0, 4), rb.model(0.6, 4)], [0], cfg)[:, 0]
    assert r2[0, 0] > 0.6 and r2[0, 1] < suppressed_below
    assert r2[1, 1] > 0.9
