"""sympy derivations of the closed forms of docs/linear-theory.md, with lambdified versions for tests.

Derived here rather than typed in:

- the per-block eigenvalue ``lambda = c / v`` of ``Sigma^{-1/2} C Sigma^{-1/2}`` on a block, from
  the block's 1-D moments ``v = s^2 q (1 + eta^2) + sigma^2`` and ``c = s^2 q^2`` (``q = 1 - p``);
- the critical-dropout quadratic ``s^2 q^2 - lambda_2 (s^2 (1 + eta^2) q + sigma^2) = 0`` and its
  root in ``(0, 1]``, ``p* = 1 - q+``;
- the per-mode dynamics: for one row reading one direction, ``w`` obeys
  ``dw/dt = -d/dw (-2 c w^2 + v^2 w^4)``, so ``a = w^2`` obeys ``da/dt = 8 c a - 8 v^2 a^2``;
  sympy's ``dsolve`` gives its solution with ``a(0) = a0``, which equals the logistic
  ``a* / (1 + (a*/a0 - 1) exp(-8 c t))``;
- stationarity of the per-mode loss ``-2 c a + v^2 a^2``: ``a* = c / v^2``, loss ``-lambda^2``;
- the time to reach a fraction ``f`` of ``a*``.

:func:`derive` does the algebra once (cached); :func:`lambdified` returns numpy callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

__all__ = ["Derivation", "derive", "lambdified", "SYMBOLS"]

s, p, eta, sigma, lam2, t, a0, c, v, f = sp.symbols("s p eta sigma lambda_2 t a_0 c v f", positive=True)
q = sp.Symbol("q", positive=True)
a = sp.Symbol("a", positive=True)
#: The symbols the expressions are written in.
SYMBOLS = {"s": s, "p": p, "eta": eta, "sigma": sigma, "lambda_2": lam2, "t": t, "a0": a0, "c": c, "v": v,
           "f": f, "q": q, "a": a}


@dataclass(frozen=True)
class Derivation:
    """The derived expressions (sympy) and the identities checked on the way.

    Attributes:
        v_block, c_block: the block's view variance and cross-view moment in ``(s, p, eta, sigma)``.
        eigenvalue: ``lambda(s, p, eta, sigma)``, the generalized eigenvalue of ``(c, v)``.
        critical_quadratic: the polynomial in ``q`` whose root is the crossing ``lambda(q) = lambda_2``.
        critical_keep: its root ``q+`` (the one that is positive).
        critical_dropout: ``p* = 1 - q+``.
        mode_ode_rhs: ``da/dt`` derived from the per-row gradient flow, in ``(a, c, v)``.
        logistic: ``a(t)`` from ``dsolve`` with ``a(0) = a0``, in ``(t, a0, c, v)``.
        fixed_point: ``a* = c / v^2`` from the stationarity of the per-mode loss.
        loss_at_fixed_point: ``-c^2 / v^2``.
        learning_time: time to reach ``f a*`` from ``a0``.
        checks: named identities that simplified to 0 (or True) during the derivation.
    """

    v_block: sp.Expr
    c_block: sp.Expr
    eigenvalue: sp.Expr
    critical_quadratic: sp.Expr
    critical_keep: sp.Expr
    critical_dropout: sp.Expr
    mode_ode_rhs: sp.Expr
    logistic: sp.Expr
    fixed_point: sp.Expr
    loss_at_fixed_point: sp.Expr
    learning_time: sp.Expr
    checks: dict[str, bool]


def _is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


@lru_cache(maxsize=1)
def derive() -> Derivation:
    """Run the derivations (a few seconds of sympy, cached) and check the identities."""
    checks: dict[str, bool] = {}
    qq = 1 - p
    v_block = s**2 * qq * (1 + eta**2) + sigma**2
    c_block = s**2 * qq**2

    # eigenvalue: det(c - lambda v) = 0 on a 1-D direction of the block
    lam = sp.Symbol("lambda")
    (eigenvalue,) = sp.solve(sp.Eq(c_block - lam * v_block, 0), lam)
    checks["eigenvalue_is_c_over_v"] = _is_zero(eigenvalue - c_block / v_block)

    # critical dropout: lambda(q) = lambda_2, cleared of the denominator
    lam_q = eigenvalue.subs(p, 1 - q)
    quadratic = sp.expand(sp.numer(sp.together(lam_q - lam2)))
    checks["quadratic_in_q"] = sp.degree(quadratic, q) == 2
    roots = sp.solve(quadratic, q)
    # exactly one root is positive (product of the roots = -lambda_2 sigma^2 / s^2 < 0)
    positive = [r for r in roots if sp.simplify(r.subs({s: 2, eta: sp.Rational(1, 2), sigma: sp.Rational(1, 10),
                                                        lam2: sp.Rational(1, 3)})) > 0]
    checks["one_positive_root"] = len(positive) == 1
    q_plus = sp.simplify(positive[0])
    checks["root_solves_crossing"] = _is_zero(lam_q.subs(q, q_plus) - lam2)
    critical_dropout = 1 - q_plus

    # per-mode dynamics: one row w reading one direction; loss -2 c w^2 + v^2 w^4
    w = sp.Symbol("w", positive=True)
    mode_loss_w = -2 * c * w**2 + v**2 * w**4
    dw_dt = -sp.diff(mode_loss_w, w)
    mode_ode_rhs = sp.simplify((2 * w * dw_dt).subs(w, sp.sqrt(a)))
    checks["mode_ode_is_logistic"] = _is_zero(mode_ode_rhs - (8 * c * a - 8 * v**2 * a**2))

    fa = sp.Function("a")
    sol = sp.dsolve(sp.Eq(fa(t).diff(t), mode_ode_rhs.subs(a, fa(t))), fa(t), ics={fa(0): a0})
    logistic = sp.simplify(sol.rhs)
    a_star_sym = c / v**2
    textbook = a_star_sym / (1 + (a_star_sym / a0 - 1) * sp.exp(-8 * c * t))
    checks["dsolve_equals_logistic"] = _is_zero(logistic - textbook)
    checks["logistic_solves_ode"] = _is_zero(sp.diff(textbook, t) - mode_ode_rhs.subs(a, textbook))
    checks["logistic_initial_value"] = _is_zero(textbook.subs(t, 0) - a0)
    checks["logistic_limit_is_fixed_point"] = _is_zero(sp.limit(textbook, t, sp.oo) - a_star_sym)

    # stationarity of the per-mode loss in a = w^2
    mode_loss = -2 * c * a + v**2 * a**2
    (fixed_point,) = sp.solve(sp.diff(mode_loss, a), a)
    checks["fixed_point_is_minimum"] = bool(sp.diff(mode_loss, a, 2).subs(a, fixed_point) > 0)
    loss_star = sp.simplify(mode_loss.subs(a, fixed_point))
    checks["loss_is_minus_lambda_squared"] = _is_zero(loss_star + (c / v) ** 2)

    # time to reach f * a*: solve for E = exp(-8 c t) (linear), then t = -log(E) / (8 c)
    e_sym = sp.Symbol("E", positive=True)
    (e_root,) = sp.solve(sp.Eq(textbook.subs(sp.exp(-8 * c * t), e_sym), f * a_star_sym), e_sym)
    learning_time = -sp.log(e_root) / (8 * c)
    checks["learning_time_hits_fraction"] = _is_zero(textbook.subs(t, learning_time) - f * a_star_sym)

    return Derivation(v_block, c_block, sp.simplify(eigenvalue), quadratic, q_plus, critical_dropout,
                      mode_ode_rhs, textbook, fixed_point, loss_star, sp.simplify(learning_time), checks)


@lru_cache(maxsize=1)
def lambdified() -> dict[str, Callable[..., object]]:
    """numpy callables of the derived expressions (all broadcast over array arguments).

    Keys and arguments: ``eigenvalue(s, p, eta, sigma)``, ``critical_dropout(s, eta, sigma, lambda_2)``,
    ``logistic(t, a0, c, v)``, ``fixed_point(c, v)``, ``loss_at_fixed_point(c, v)``,
    ``learning_time(a0, c, v, f)``, ``mode_ode_rhs(a, c, v)``. ``critical_dropout`` is the root's
    formula everywhere; it is a dropout in ``[0, 1)`` only where a crossing exists
    (``lambda(p=0) > lambda_2``; :func:`linear_theory.closed_form.critical_dropout_from_eigenvalue`
    returns NaN elsewhere). ``learning_time`` assumes ``0 < a0 < f a*``.
    """
    d = derive()
    mk = sp.lambdify
    return {
        "eigenvalue": mk((s, p, eta, sigma), d.eigenvalue, "numpy"),
        "critical_dropout": mk((s, eta, sigma, lam2), d.critical_dropout, "numpy"),
        "logistic": mk((t, a0, c, v), d.logistic, "numpy"),
        "fixed_point": mk((c, v), d.fixed_point, "numpy"),
        "loss_at_fixed_point": mk((c, v), d.loss_at_fixed_point, "numpy"),
        "learning_time": mk((a0, c, v, f), d.learning_time, "numpy"),
        "mode_ode_rhs": mk((a, c, v), d.mode_ode_rhs, "numpy"),
    }
