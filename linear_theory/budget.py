"""Best dropout under a finite training budget ``T`` (theorem 5, second half, of docs/linear-theory.md).

At the spectral optimum every ``p`` above the critical dropout ``p*`` gives the same probe ``R^2``
(the allocation only changes at ``p*``). Under gradient flow from a small init of size ``a0`` per
direction, time breaks the tie in two ways, both from the logistic closed forms of
:mod:`linear_theory.dynamics`:

1. **The rescue takes time.** The strong block ``s`` (the one with dropout) is usually learned
   first, at ``tau_s = log(a_s*/a0 - 1) / (8 c_s)``, and fills its slots. A weak block ``w`` that
   needs those slots grows inside them only at rate ``g = 8 v_w (lambda_w - lambda_s(p))`` (the
   linearized flow around the strong block's fixed point, where ``W Sigma W^T = lambda_s`` on the
   held rows). Starting from ``a_w(tau_s) ~ a0 exp(8 c_w tau_s)`` it reaches ``a_w*/2`` at
   ``t_rescue = tau_s + log(a_w* / (2 a_w(tau_s))) / g`` (never before its own ``tau_w``). As
   ``p -> p*+`` the gap vanishes and ``t_rescue -> inf``: the smallest dropout that completes
   the rescue by ``T`` is ``p_lo(T) > p*``, and ``p_lo(T) -> p*`` as ``T -> inf``.
2. **Dropout slows the strong block** by ``(1 - p)^2`` (``c_s = s^2 (1-p)^2``): where the strong
   block keeps slots after the rescue (``k > r_w``) it is learned by ``T`` only for
   ``p <= p_hi(T)``, the root of ``tau_s(p) = T``.

So the best dropout under budget ``T`` is the interval ``[p_lo(T), p_hi(T)]`` (empty when ``T`` is
too short) and the recommended value is its left end, the smallest ``p`` above ``p*`` that both
rescues the weak block and still learns the strong one by ``T`` (the most margin for the strong
block). docs/linear-theory.md states only the second effect; the first one is what makes "just above
``p*``" a bad choice at finite ``T``. :func:`simulated_budget` measures both edges on a grid of
batched gradient-flow runs; the tests check that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from linear_theory.closed_form import block_moments
from linear_theory.dynamics import gradient_flow_batch, learning_time, random_init
from linear_theory.model import LinearModel
from linear_theory.spectral import critical_dropout, spectral_optimum, spectral_optimum_r2

__all__ = ["rescue_time", "BudgetDropout", "budget_dropout", "SimulatedBudget", "simulated_budget"]

_P_MAX = 1.0 - 1e-9


def _check_pair(model: LinearModel, strong: int, weak: int) -> None:
    if len(model.blocks) != 2:
        raise ValueError(f"the finite-budget analysis is for two blocks, got {len(model.blocks)}")
    if {strong, weak} != {0, 1}:
        raise ValueError(f"strong and weak must be 0 and 1 in some order, got {strong}, {weak}")


def _moments(model: LinearModel, strong: int, ps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block moments ``(v, c)`` with dropout ``ps`` on block ``strong``. Shapes ``ps.shape + (2,)``."""
    v0, c0 = model.block_moments()
    b = model.blocks[strong]
    q = 1.0 - ps
    v = np.broadcast_to(v0, (*ps.shape, 2)).copy()
    c = np.broadcast_to(c0, (*ps.shape, 2)).copy()
    v[..., strong], c[..., strong] = block_moments(b.strength, 1.0 - q, b.aug_noise, model.noise)
    return v, c


def rescue_time(model: LinearModel, strong: int, weak: int, dropout: ArrayLike, a0: float) -> np.ndarray:
    """Predicted time at which the weak block holds its optimal slots, for each ``dropout`` on ``strong``.

    See the module docstring (effect 1). ``inf`` where the weak block never takes the slots it
    lacks (``lambda_w <= lambda_s(p)``); the weak block's own logistic time where no slot has to
    be taken from the strong block.

    Args:
        dropout: dropout values on block ``strong``, any shape ``S``.
        a0: initial captured strength per direction (``k * scale^2`` for a ``scale * N(0,1)`` init).

    Returns:
        Shape ``S``.
    """
    _check_pair(model, strong, weak)
    ps = np.asarray(dropout, dtype=float)
    r_s, r_w, k = model.blocks[strong].dim, model.blocks[weak].dim, model.rep_dim
    free = k - min(r_s, k)  # rows left after the strong block fills its own
    v, c = _moments(model, strong, ps)
    lam = np.divide(c, v, out=np.zeros_like(c), where=v > 0)
    tau = learning_time(a0, c, v, 0.5)
    tau_s, tau_w = tau[..., strong], tau[..., weak]
    g = 8.0 * v[..., weak] * (lam[..., weak] - lam[..., strong])  # growth inside the strong block's rows
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        log_a_w = np.log(a0) + 8.0 * c[..., weak] * tau_s  # log a_w(tau_s)
        log_gap = np.log(c[..., weak] / v[..., weak] ** 2 / 2.0) - log_a_w
        displaced = tau_s + np.maximum(0.0, log_gap) / np.where(g > 0, g, 1.0)
    taken = np.where(g > 0, np.maximum(tau_w, displaced), np.inf)
    return np.where((free >= r_w) | (tau_w <= tau_s), tau_w, taken)


def _strong_learn_time(model: LinearModel, strong: int, ps: np.ndarray, a0: float) -> np.ndarray:
    v, c = _moments(model, strong, ps)
    return learning_time(a0, c[..., strong], v[..., strong], 0.5)


def _first_crossing(hit: Callable[[np.ndarray], np.ndarray], fn: Callable[[float], float], lo: float, hi: float,
                    n: int = 4001) -> float:
    """Smallest ``p`` in ``[lo, hi]`` where ``hit(p)`` holds: a vectorized grid scan, then ``brentq`` on ``fn``."""
    grid = np.linspace(lo, hi, n)
    hits = hit(grid)
    if not hits.any():
        return np.nan
    i = int(np.argmax(hits))
    if i == 0:
        return float(lo)
    return float(brentq(fn, grid[i - 1], grid[i], xtol=1e-12))


@dataclass(frozen=True)
class BudgetDropout:
    """Closed-form best dropout on the strong block under training time ``T``.

    Attributes:
        budget: the training time ``T``.
        p_star: critical dropout (the optimum's allocation changes there).
        p_lo: smallest ``p > p*`` whose rescue completes by ``T`` (NaN: none below 1).
        p_hi: largest ``p`` at which the strong block is still learned by ``T`` (1 when the strong
            block holds no slot after the rescue, ``k <= r_w``).
        best: the recommended dropout, ``p_lo`` when ``p_lo <= p_hi``, else NaN.
        rescue_pays: whether the rescue raises the weighted probe ``R^2`` at the optimum at all
            (if not, ``best`` is 0: no dropout).
    """

    budget: float
    p_star: float
    p_lo: float
    p_hi: float
    best: float
    rescue_pays: bool


def budget_dropout(model: LinearModel, strong: int, weak: int, budget: float, a0: float,
                   weights: ArrayLike | None = None) -> BudgetDropout:
    """Closed-form best dropout on ``strong`` under training time ``budget`` (module docstring).

    Args:
        model: a two-block model (the strong block's own dropout is ignored).
        budget: training time ``T > 0`` (gradient-flow time; GD with ``lr`` runs ``T / lr`` steps).
        a0: initial captured strength per direction (``k * scale^2`` for ``scale * N(0, 1)``).
        weights: task weights for "rescue pays" (default: uniform).
    """
    _check_pair(model, strong, weak)
    if not (np.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be finite and > 0, got {budget!r}")
    if not (np.isfinite(a0) and a0 > 0):
        raise ValueError(f"a0 must be finite and > 0, got {a0!r}")
    base = model.with_block(strong, dropout=0.0)
    p_star = critical_dropout(base, strong, weak)
    w = np.full(2, 0.5) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (2,) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be 2 finite numbers, got {weights!r}")
    if not np.isfinite(p_star):
        return BudgetDropout(float(budget), p_star, np.nan, np.nan, 0.0, False)
    below = float(w @ spectral_optimum_r2(base.with_block(strong, dropout=p_star / 2)))
    above = float(w @ spectral_optimum_r2(base.with_block(strong, dropout=(1 + p_star) / 2)))
    pays = above > below + 1e-12

    def late(p: ArrayLike) -> np.ndarray:
        return rescue_time(base, strong, weak, p, a0) - budget

    def slow(p: ArrayLike) -> np.ndarray:
        return _strong_learn_time(base, strong, np.asarray(p, dtype=float), a0) - budget

    p_lo = _first_crossing(lambda p: late(p) <= 0, lambda p: float(late(p)), p_star + 1e-9 * (1 - p_star), _P_MAX)
    keeps = spectral_optimum(base.with_block(strong, dropout=(1 + p_star) / 2)).captured_dims[strong] > 0
    p_hi = 1.0
    if keeps:
        # the strong block's learning time first grows with p (c_s ~ (1-p)^2), then drops to 0 once
        # a0 exceeds half its shrinking fixed point: the edge is the first crossing, not any root
        p_hi = _first_crossing(lambda p: slow(p) > 0, lambda p: float(slow(p)), 0.0, _P_MAX)
        p_hi = 1.0 if np.isnan(p_hi) else p_hi
    best = (p_lo if p_lo <= p_hi else np.nan) if pays else 0.0
    return BudgetDropout(float(budget), float(p_star), float(p_lo), float(p_hi), float(best), bool(pays))


@dataclass(frozen=True)
class SimulatedBudget:
    """Grid search over batched gradient-flow runs (see :func:`simulated_budget`).

    Attributes:
        dropouts: the grid, shape ``(P,)``.
        probe_r2: per-block probe ``R^2`` at ``T``, mean over seeds, shape ``(P, 2)``.
        strong_learned: fraction of seeds in which the strong block reached half its optimal
            captured strength by ``T``, shape ``(P,)``.
        rescued: fraction of seeds in which the weak task's ``R^2`` passed the midpoint between
            its optimal values below and above ``p*``, shape ``(P,)``.
        p_lo: smallest grid ``p > p*`` rescued in most seeds (NaN: none).
        p_hi: smallest grid ``p`` at which the strong block is *not* learned in most seeds,
            where it should hold slots (1 if none; compare with the closed form's ``p_hi``).
    """

    dropouts: np.ndarray
    probe_r2: np.ndarray
    strong_learned: np.ndarray
    rescued: np.ndarray
    p_lo: float
    p_hi: float


def simulated_budget(model: LinearModel, strong: int, weak: int, budget: float, dropouts: ArrayLike, *,
                     init_scale: float = 0.01, seeds: Sequence[int] = (0,), rtol: float = 1e-6,
                     atol: float = 1e-9) -> SimulatedBudget:
    """Measure the finite-budget edges ``p_lo``, ``p_hi`` by gradient flow on a dropout grid.

    One batched flow per seed (:func:`gradient_flow_batch`) from ``init_scale * N(0, 1)`` (one
    ``numpy`` generator per seed, shared by the whole grid), read at time ``budget``.
    """
    _check_pair(model, strong, weak)
    ps = np.asarray(dropouts, dtype=float).reshape(-1)
    base = model.with_block(strong, dropout=0.0)
    p_star = critical_dropout(base, strong, weak)
    models = [base.with_block(strong, dropout=float(p)) for p in ps]
    opts = [spectral_optimum(m) for m in models]
    v_c = [m.block_moments() for m in models]
    # optimal captured strength of the strong block: (captured dims / r) * a*
    cs_opt = np.array([o.captured_dims[strong] / m.blocks[strong].dim * c[strong] / v[strong] ** 2
                       for o, m, (v, c) in zip(opts, models, v_c)])
    if np.isfinite(p_star):
        r2_lo = spectral_optimum_r2(base.with_block(strong, dropout=p_star / 2))[weak]
        r2_hi = spectral_optimum_r2(base.with_block(strong, dropout=(1 + p_star) / 2))[weak]
    else:
        r2_lo = r2_hi = np.nan
    r2s, learned, rescued = [], [], []
    for seed in seeds:
        W0 = random_init(base, init_scale, np.random.default_rng(seed))
        traj = gradient_flow_batch(models, [0.0, budget], W0, rtol=rtol, atol=atol)
        r2 = traj.probe_r2[:, -1, :]
        r2s.append(r2)
        learned.append(traj.captured_strength[:, -1, strong] >= 0.5 * cs_opt)
        rescued.append((ps > p_star) & (r2[:, weak] >= 0.5 * (r2_lo + r2_hi)))
    learned_f, rescued_f = np.mean(learned, axis=0), np.mean(rescued, axis=0)
    ok = rescued_f > 0.5
    p_lo = float(ps[np.argmax(ok)]) if ok.any() else np.nan
    lost = (learned_f < 0.5) & (cs_opt > 0)
    p_hi = float(ps[np.argmax(lost)]) if lost.any() else 1.0
    return SimulatedBudget(ps, np.mean(r2s, axis=0), learned_f, rescued_f, p_lo, p_hi)
