"""Closed forms of the spectral contrastive optimum, vectorized over sweeps (float64).

Every function broadcasts over leading axes, so a sweep of many (ratio, p) points is one call.
The last axis indexes the ``K`` feature blocks. Notation of docs/linear-theory.md:

- per-block eigenvalue ``lambda_i = s_i^2 (1 - p_i)^2 / (s_i^2 (1 - p_i)(1 + eta_i^2) + sigma^2)``
  of ``A = Sigma^{-1/2} C Sigma^{-1/2}``;
- capacity allocation: the ``k`` slots go to blocks in decreasing ``lambda``; tied blocks share the
  remaining slots in proportion to their dims (the expected share of a randomly oriented subspace
  of the tied eigenspace);
- probe ``R^2_i = (c_i / r_i) s_i^2 / (s_i^2 + sigma^2)`` (expected over the orientation of the
  captured subspace), sign-task Bayes accuracy ``1/2 + arcsin(sqrt(R^2)) / pi``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "block_moments",
    "block_eigenvalues",
    "allocate_capacity",
    "probe_r2_from_capture",
    "sign_accuracy",
    "critical_keep",
    "critical_dropout_from_eigenvalue",
    "Prediction",
    "predict",
    "TIE_RTOL",
]

#: Relative tolerance under which two block eigenvalues count as tied.
TIE_RTOL = 1e-12


def block_moments(
    strength: ArrayLike, dropout: ArrayLike, aug_noise: ArrayLike, noise: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Per-block view variance ``v`` and cross-view covariance ``c`` (broadcasting).

    ``v = s^2 (1 - p)(1 + eta^2) + sigma^2`` (eigenvalue of ``Sigma`` on the block) and
    ``c = s^2 (1 - p)^2`` (eigenvalue of ``C``).
    """
    s2 = np.asarray(strength, dtype=float) ** 2
    q = 1.0 - np.asarray(dropout, dtype=float)
    eta2 = np.asarray(aug_noise, dtype=float) ** 2
    return s2 * q * (1.0 + eta2) + np.asarray(noise, dtype=float) ** 2, s2 * q**2


def block_eigenvalues(strength: ArrayLike, dropout: ArrayLike, aug_noise: ArrayLike, noise: ArrayLike) -> np.ndarray:
    """Per-block eigenvalue ``lambda_i = c_i / v_i`` of ``Sigma^{-1/2} C Sigma^{-1/2}`` (broadcasting).

    A block with ``sigma = 0`` and ``p = 1`` has ``0/0``; it carries no signal, so its eigenvalue
    is defined as 0.
    """
    den, num = block_moments(strength, dropout, aug_noise, noise)
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = np.where(num > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return lam


def allocate_capacity(eigenvalues: ArrayLike, dims: ArrayLike, rep_dim: ArrayLike) -> np.ndarray:
    """Expected number of dimensions of each block captured by the spectral optimum.

    Args:
        eigenvalues: ``lambda_i``, shape ``(..., K)``.
        dims: block dims ``r_i``, broadcastable to ``(..., K)``.
        rep_dim: capacity ``k``, broadcastable to ``(...)``.

    Returns:
        ``c_i`` (float), shape ``(..., K)``: blocks strictly above block ``i`` take their dims
        first; block ``i`` and its ties share what is left in proportion to their dims; blocks
        with ``lambda_i <= 0`` get nothing.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    r = np.broadcast_to(np.asarray(dims, dtype=float), lam.shape)
    k = np.asarray(rep_dim, dtype=float)[..., None]
    li, lj = lam[..., :, None], lam[..., None, :]
    tol = TIE_RTOL * np.maximum(np.abs(li), np.abs(lj))
    tied = np.abs(li - lj) <= tol
    above = (lj > li) & ~tied
    taken_above = np.sum(np.where(above, r[..., None, :], 0.0), axis=-1)
    tied_dims = np.sum(np.where(tied, r[..., None, :], 0.0), axis=-1)
    left = np.clip(k - taken_above, 0.0, tied_dims)
    captured = left * r / tied_dims
    return np.where(lam > 0, captured, 0.0)


def probe_r2_from_capture(captured: ArrayLike, dims: ArrayLike, strength: ArrayLike, noise: ArrayLike) -> np.ndarray:
    """Expected clean-input linear-probe ``R^2`` of each task from the captured dims."""
    s2 = np.asarray(strength, dtype=float) ** 2
    snr = s2 / (s2 + np.asarray(noise, dtype=float) ** 2)
    return np.asarray(captured, dtype=float) / np.asarray(dims, dtype=float) * snr


def sign_accuracy(r2: ArrayLike) -> np.ndarray:
    """Bayes accuracy of predicting ``sign(u^T z)`` from a Gaussian feature with probe ``R^2``.

    For jointly Gaussian ``(y, yhat)`` with correlation ``rho = sqrt(R^2)``,
    ``P(sign y = sign yhat) = 1/2 + arcsin(rho) / pi``.
    """
    return 0.5 + np.arcsin(np.sqrt(np.clip(np.asarray(r2, dtype=float), 0.0, 1.0))) / np.pi


def critical_keep(strength: ArrayLike, aug_noise: ArrayLike, noise: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Keep probability ``q+`` at which the dropped block's eigenvalue falls to ``target``.

    Solves ``s^2 q^2 = target (s^2 (1 + eta^2) q + sigma^2)`` for its positive root:
    ``q+ = [target s^2 (1+eta^2) + sqrt(target^2 s^4 (1+eta^2)^2 + 4 s^2 target sigma^2)] / (2 s^2)``.
    ``lambda(q)`` increases with ``q``, so this root is the unique crossing; it lies in ``(0, 1]``
    exactly when ``lambda(q=1) >= target``.
    """
    s2 = np.asarray(strength, dtype=float) ** 2
    b = np.asarray(target, dtype=float) * s2 * (1.0 + np.asarray(aug_noise, dtype=float) ** 2)
    disc = b**2 + 4.0 * s2 * np.asarray(target, dtype=float) * np.asarray(noise, dtype=float) ** 2
    return (b + np.sqrt(disc)) / (2.0 * s2)


def critical_dropout_from_eigenvalue(
    strength: ArrayLike, aug_noise: ArrayLike, noise: ArrayLike, target: ArrayLike
) -> np.ndarray:
    """Critical dropout ``p* = 1 - q+`` of a block against a competitor of eigenvalue ``target``.

    NaN where no crossing exists, i.e. where the block without dropout does not exceed the
    competitor (``lambda(p=0) <= target``): there is no suppression for dropout to undo.
    """
    lam0 = block_eigenvalues(strength, 0.0, aug_noise, noise)
    q = critical_keep(strength, aug_noise, noise, target)
    return np.where(lam0 > np.asarray(target, dtype=float), 1.0 - q, np.nan)


class Prediction(NamedTuple):
    """What the spectral optimum implies per block; every field has shape ``(..., K)``."""

    eigenvalue: np.ndarray
    captured_dims: np.ndarray
    probe_r2: np.ndarray
    probe_accuracy: np.ndarray


def predict(strength: ArrayLike, dropout: ArrayLike, aug_noise: ArrayLike, noise: ArrayLike, dims: ArrayLike,
            rep_dim: ArrayLike) -> Prediction:
    """The prediction chain eigenvalue -> captured dims -> probe ``R^2`` -> sign-task accuracy.

    The one place this chain is written (the spectral optimum of a model, the two-block sweeps
    and the deep-vs-theory figure all call it). Block parameters broadcast to ``(..., K)``.
    """
    lam = block_eigenvalues(strength, dropout, aug_noise, noise)
    captured = allocate_capacity(lam, dims, rep_dim)
    r2 = probe_r2_from_capture(captured, dims, strength, noise)
    return Prediction(lam, captured, r2, sign_accuracy(r2))
