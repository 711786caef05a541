"""Spectral contrastive loss of a linear encoder, its closed-form optimum and what follows.

Population loss (HaoChen et al. 2021) for ``f(x) = W x``:
``L(W) = -2 tr(W C W^T) + ||W Sigma W^T||_F^2`` with gradient ``-4 W C + 4 W Sigma W^T W Sigma``.
Its minimizers satisfy ``W^T W = Sigma^{-1/2} [A]_k Sigma^{-1/2}`` with
``A = Sigma^{-1/2} C Sigma^{-1/2}`` and ``[A]_k`` its top-``k`` positive eigen-part; the minimum is
``-sum_{j<=k} lambda_j^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from linear_theory.closed_form import Prediction, block_eigenvalues, critical_dropout_from_eigenvalue, predict
from linear_theory.model import LinearModel

__all__ = [
    "spectral_loss",
    "spectral_grad",
    "SpectralOptimum",
    "spectral_optimum",
    "encoder_probe_r2",
    "captured_strength",
    "critical_dropout",
    "BestDropout",
    "best_dropout",
    "model_eigenvalues",
    "model_allocation",
    "model_prediction",
]


def _check_w(model: LinearModel, W: np.ndarray) -> np.ndarray:
    W = np.asarray(W, dtype=float)
    if W.ndim < 2 or W.shape[-1] != model.d:
        raise ValueError(f"W must have shape (..., k, {model.d}), got {W.shape}")
    return W


def loss_from_moments(W: np.ndarray, cross: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Population spectral loss ``-2 tr(W C W^T) + ||W Sigma W^T||_F^2`` of any symmetric moments (batched)."""
    wsw = W @ view @ np.swapaxes(W, -1, -2)
    wcw = W @ cross @ np.swapaxes(W, -1, -2)
    return -2.0 * np.trace(wcw, axis1=-2, axis2=-1) + np.sum(wsw**2, axis=(-2, -1))


def grad_from_moments(W: np.ndarray, cross: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Gradient ``-4 W C + 4 W Sigma W^T W Sigma`` of :func:`loss_from_moments` (symmetric ``C``; batched)."""
    return -4.0 * W @ cross + 4.0 * W @ view @ np.swapaxes(W, -1, -2) @ W @ view


def linear_probe_r2(W: np.ndarray, cov: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Linear-probe ``R^2`` of ``y = u^T z`` from ``h = W x``, averaged over ``u`` uniform on the unit sphere.

    ``signal`` (``d x r``) is ``Cov(x, z)`` (the task's directions times its strength), ``cov`` is
    ``Cov(x)``: ``E_u R^2 = tr(signal^T W^T (W cov W^T)^+ W signal) / r``. The pseudo-inverse ignores
    directions ``W`` does not reach. Batched over leading axes of ``W``.
    """
    m_pinv = np.linalg.pinv(W @ cov @ np.swapaxes(W, -1, -2), rcond=1e-10, hermitian=True)
    ws = W @ signal
    return np.einsum("...ki,...kl,...li->...", ws, m_pinv, ws) / signal.shape[-1]


def spectral_loss(model: LinearModel, W: ArrayLike) -> np.ndarray:
    """Population spectral loss ``-2 tr(W C W^T) + ||W Sigma W^T||_F^2`` (batched over leading axes)."""
    W = _check_w(model, np.asarray(W))
    sigma, c = model.moments()
    return loss_from_moments(W, c, sigma)


def spectral_grad(model: LinearModel, W: ArrayLike) -> np.ndarray:
    """Gradient ``-4 W C + 4 W Sigma W^T W Sigma`` of :func:`spectral_loss` (batched)."""
    W = _check_w(model, np.asarray(W))
    sigma, c = model.moments()
    return grad_from_moments(W, c, sigma)


def model_eigenvalues(model: LinearModel) -> np.ndarray:
    """Per-block eigenvalues ``lambda_i`` of the model. Shape: ``(K,)``."""
    b = model.blocks
    return block_eigenvalues([x.strength for x in b], [x.dropout for x in b], [x.aug_noise for x in b], model.noise)


def model_prediction(model: LinearModel) -> Prediction:
    """Per-block eigenvalue, captured dims, probe ``R^2`` and accuracy at the spectral optimum (no ``W`` built)."""
    b = model.blocks
    return predict([x.strength for x in b], [x.dropout for x in b], [x.aug_noise for x in b], model.noise,
                   [x.dim for x in b], model.rep_dim)


def model_allocation(model: LinearModel) -> np.ndarray:
    """Expected captured dims per block at the spectral optimum. Shape: ``(K,)``."""
    return model_prediction(model).captured_dims


@dataclass(frozen=True)
class SpectralOptimum:
    """The spectral-loss optimum of a :class:`LinearModel`.

    Attributes:
        W: one minimizer, shape ``(k, d)`` (rows beyond the positive eigenvalues are zero; inside a
            tie the eigen-solver picks the subspace, the per-block numbers below are expectations).
        loss: the minimum ``-sum_{j<=k} lambda_j^2``.
        eigenvalues: per-block ``lambda_i``.
        captured_dims: per-block expected captured dims ``c_i`` (floats; integers without ties).
        probe_r2: per-block expected probe ``R^2`` on clean inputs.
        probe_accuracy: per-block Bayes accuracy of the sign task at that ``R^2``.
    """

    W: np.ndarray
    loss: float
    eigenvalues: np.ndarray
    captured_dims: np.ndarray
    probe_r2: np.ndarray
    probe_accuracy: np.ndarray


def spectral_optimum(model: LinearModel) -> SpectralOptimum:
    """Closed-form minimizer of the spectral loss and the per-block quantities it implies."""
    sigma, c = model.moments()
    s_inv_half = np.diag(1.0 / np.sqrt(np.diag(sigma)))
    if not np.all(np.isfinite(s_inv_half)):
        raise ValueError("Sigma is singular (noise = 0 with a block dropped always or input_dim > blocks)")
    a = s_inv_half @ c @ s_inv_half
    evals, evecs = np.linalg.eigh(a)
    order = np.argsort(evals)[::-1][: model.rep_dim]
    top = np.clip(evals[order], 0.0, None)
    W = np.zeros((model.rep_dim, model.d))
    W[: len(order)] = (np.sqrt(top)[:, None] * evecs[:, order].T) @ s_inv_half
    return SpectralOptimum(W, float(-np.sum(top**2)), *model_prediction(model))


def encoder_probe_r2(model: LinearModel, W: ArrayLike) -> np.ndarray:
    """Clean-input linear-probe ``R^2`` of each block's task for an arbitrary encoder ``W``.

    For ``y = u^T z_i`` with ``u`` uniform on the unit sphere of block ``i``:
    ``E_u R^2 = (s_i^2 / r_i) tr(U_i^T W^T (W Sigma_clean W^T)^+ W U_i)``. Batched over leading axes
    of ``W``; the pseudo-inverse ignores directions ``W`` does not reach.

    Returns:
        Shape ``(..., K)``.
    """
    W = _check_w(model, np.asarray(W))
    cov = model.clean_covariance()
    out = []
    for i, b in enumerate(model.blocks):
        out.append(linear_probe_r2(W, cov, b.strength * model.basis(i)))
    return np.stack(out, axis=-1)


def captured_strength(model: LinearModel, W: ArrayLike) -> np.ndarray:
    """Per-block captured strength: ``||W U_i||_F^2 / r_i`` (mean of ``||W u||^2`` over the block's axes).

    Returns:
        Shape ``(..., K)``.
    """
    W = _check_w(model, np.asarray(W))
    return np.stack([np.sum(W[..., :, sl] ** 2, axis=(-2, -1)) / b.dim
                     for sl, b in zip(model.block_slices(), model.blocks)], axis=-1)


def critical_dropout(model: LinearModel, strong: int, weak: int) -> float:
    """Dropout ``p*`` on block ``strong`` at which its eigenvalue falls to block ``weak``'s.

    Block ``strong``'s own dropout in ``model`` is ignored (``p*`` is measured from 0); block
    ``weak`` keeps its parameters. Returns NaN when no crossing exists (block ``strong`` without
    dropout does not exceed block ``weak``: nothing is suppressed).
    """
    K = len(model.blocks)
    for name, idx in (("strong", strong), ("weak", weak)):
        if not (0 <= idx < K):
            raise ValueError(f"{name} must index a block in [0, {K}), got {idx}")
    if strong == weak:
        raise ValueError("strong and weak must be different blocks")
    target = model_eigenvalues(model)[weak]
    b = model.blocks[strong]
    return float(critical_dropout_from_eigenvalue(b.strength, b.aug_noise, model.noise, target))


@dataclass(frozen=True)
class BestDropout:
    """The dropout values of one block that maximize a weighted mean of the probe ``R^2``.

    Attributes:
        block: the block whose dropout is varied.
        intervals: the best set as disjoint pieces ``(lo, hi, lo_closed, hi_closed)`` in ``[0, 1]``.
        value: the objective on the best set.
        breakpoints: the dropout values where the allocation changes (crossings, and 1).
    """

    block: int
    intervals: tuple[tuple[float, float, bool, bool], ...]
    value: float
    breakpoints: tuple[float, ...]

    def contains(self, p: float) -> bool:
        """Whether ``p`` lies in the best set."""
        for lo, hi, lc, hc in self.intervals:
            if (lo < p < hi) or (lc and p == lo) or (hc and p == hi):
                return True
        return False


def _objective(model: LinearModel, block: int, p: float, weights: np.ndarray) -> float:
    return float(weights @ spectral_optimum_r2(model.with_block(block, dropout=p)))


def spectral_optimum_r2(model: LinearModel) -> np.ndarray:
    """Per-block probe ``R^2`` at the spectral optimum (no ``W`` built). Shape ``(K,)``."""
    return model_prediction(model).probe_r2


def best_dropout(model: LinearModel, block: int, weights: ArrayLike | None = None) -> BestDropout:
    """Set of dropout values on ``block`` that maximize ``sum_i w_i R^2_i`` at the spectral optimum.

    ``lambda_block(p)`` decreases in ``p``, so the allocation is constant between the crossings
    with the other blocks' eigenvalues; the objective is piecewise constant and is evaluated once
    on each piece and at each breakpoint (exact, no grid). Default weights: uniform mean over tasks.
    """
    K = len(model.blocks)
    if not (0 <= block < K):
        raise ValueError(f"block must index a block in [0, {K}), got {block}")
    w = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (K,) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be {K} finite numbers, got {weights!r}")
    lam = model_eigenvalues(model)
    b = model.blocks[block]
    crossings = critical_dropout_from_eigenvalue(b.strength, b.aug_noise, model.noise,
                                                 np.delete(lam, block))
    points = sorted({0.0, 1.0, *[float(x) for x in crossings if np.isfinite(x) and 0.0 < x < 1.0]})
    pieces: list[tuple[float, float, bool, bool, float]] = []
    for i, p in enumerate(points):
        pieces.append((p, p, True, True, _objective(model, block, p, w)))
        if i + 1 < len(points):
            mid = 0.5 * (p + points[i + 1])
            pieces.append((p, points[i + 1], False, False, _objective(model, block, mid, w)))
    best = max(v for *_, v in pieces)
    tol = 1e-12 * max(1.0, abs(best))
    chosen = [pc for pc in pieces if pc[4] >= best - tol]
    merged: list[list] = []
    for lo, hi, lc, hc, _ in chosen:
        if merged and merged[-1][1] == lo and (merged[-1][3] or lc):
            merged[-1][1], merged[-1][3] = hi, hc
        else:
            merged.append([lo, hi, lc, hc])
    intervals = tuple((float(lo), float(hi), bool(lc), bool(hc)) for lo, hi, lc, hc in merged)
    return BestDropout(block, intervals, float(best), tuple(points[1:]))


