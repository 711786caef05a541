"""The sympy derivations agree with themselves and with the numeric closed forms on random inputs."""

import numpy as np
import pytest

from linear_theory import FeatureBlock, LinearModel, spectral_optimum
from linear_theory.closed_form import block_eigenvalues, critical_dropout_from_eigenvalue
from linear_theory.dynamics import learning_time, logistic_curve
from linear_theory.symbolic import derive, lambdified

N = 500


@pytest.fixture(scope="module")
def fns():
    return lambdified()


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240601)


def test_every_identity_of_the_derivation_holds():
    """The eigenvalue is ``c / v``; the crossing is a quadratic in ``q`` with one positive root that solves
    it; ``a = w^2`` follows the logistic ODE, dsolve's solution is the logistic, it solves the ODE, starts
    at ``a0`` and tends to ``c / v^2``; that point minimizes ``-2 c a + v^2 a^2`` with value ``-lambda^2``."""
    checks = derive().checks
    assert checks and all(checks.values()), {k: v for k, v in checks.items() if not v}


def test_eigenvalue_matches_closed_form(fns, rng):
    """sympy ``lambda(s, p, eta, sigma)`` = :func:`block_eigenvalues`."""
    s, p, eta, sigma = rng.uniform(0.1, 5, N), rng.uniform(0, 0.99, N), rng.uniform(0, 2, N), rng.uniform(0.01, 2, N)
    np.testing.assert_allclose(fns["eigenvalue"](s, p, eta, sigma), block_eigenvalues(s, p, eta, sigma), rtol=1e-12)


def test_critical_dropout_matches_closed_form(fns, rng):
    """sympy ``p* = 1 - q+`` = :func:`critical_dropout_from_eigenvalue` where a crossing exists."""
    s, eta, sigma = rng.uniform(0.1, 5, N), rng.uniform(0, 2, N), rng.uniform(0.01, 2, N)
    target = block_eigenvalues(s, 0.0, eta, sigma) * rng.uniform(0.01, 0.99, N)
    np.testing.assert_allclose(fns["critical_dropout"](s, eta, sigma, target),
                               critical_dropout_from_eigenvalue(s, eta, sigma, target), rtol=1e-9, atol=1e-12)
    # and the crossing is a crossing
    p_star = fns["critical_dropout"](s, eta, sigma, target)
    np.testing.assert_allclose(block_eigenvalues(s, p_star, eta, sigma), target, rtol=1e-9)


def test_logistic_matches_dynamics(fns, rng):
    """sympy's ``dsolve`` solution = :func:`logistic_curve` (the stable form used numerically)."""
    t, a0 = rng.uniform(0, 3, N), 10 ** rng.uniform(-5, 0.5, N)
    c, v = rng.uniform(0.01, 10, N), rng.uniform(0.1, 10, N)
    np.testing.assert_allclose(fns["logistic"](t, a0, c, v), logistic_curve(t, a0, c, v), rtol=1e-10)


def test_mode_ode_matches_the_logistic_derivative(fns, rng):
    """``da/dt`` of :func:`logistic_curve` (central differences) = the derived right-hand side."""
    t, a0 = rng.uniform(0.1, 2, N), 10 ** rng.uniform(-4, 0, N)
    c, v = rng.uniform(0.1, 3, N), rng.uniform(0.5, 3, N)
    h = 1e-6
    deriv = (logistic_curve(t + h, a0, c, v) - logistic_curve(t - h, a0, c, v)) / (2 * h)
    rhs = fns["mode_ode_rhs"](logistic_curve(t, a0, c, v), c, v)
    np.testing.assert_allclose(deriv, rhs, rtol=1e-5, atol=1e-9)


def test_learning_time_matches_dynamics(fns, rng):
    """sympy's time to reach ``f a*`` = :func:`learning_time` (for ``a0 < f a*``)."""
    c, v, f = rng.uniform(0.01, 10, N), rng.uniform(0.1, 10, N), rng.uniform(0.05, 0.95, N)
    a0 = f * c / v**2 * 10 ** rng.uniform(-6, -0.01, N)
    np.testing.assert_allclose(fns["learning_time"](a0, c, v, f), learning_time(a0, c, v, f), rtol=1e-9)


def test_stationary_point_and_loss_match_the_spectral_optimum(fns, rng):
    """Per mode ``a* = c / v^2`` and loss ``-lambda^2``: summed over a block's dims this is the optimum loss."""
    for _ in range(20):
        s, p, eta, sigma = rng.uniform(0.2, 4), rng.uniform(0, 0.9), rng.uniform(0, 1.5), rng.uniform(0.05, 1)
        r = int(rng.integers(1, 4))
        model = LinearModel((FeatureBlock(r, s, p, eta),), r, sigma)
        v, c = model.block_moments()
        assert float(fns["loss_at_fixed_point"](c[0], v[0])) * r == pytest.approx(spectral_optimum(model).loss, rel=1e-10)
        assert float(fns["fixed_point"](c[0], v[0])) == pytest.approx(float(logistic_curve(np.inf, 1e-3, c[0], v[0])),
                                                                      rel=1e-12)
