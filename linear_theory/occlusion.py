"""The occlusion-aware linear model: an overlay that *replaces* part of the base image, not one added beside it.

The two-block model (:mod:`linear_theory.two_block`) puts the overlay on input directions orthogonal
to the base image's, so an overlay present in one view and absent in the other only changes how
much of the overlay the pair shares; a linear probe can always ignore the overlay's coordinates. In
an image the overlay's pixels overwrite the base's in a masked region. This model keeps that:

- coordinates split into the **unmasked** part (``r_a`` directions ``e_j``) and the **mask**
  (``m = max(r_a, r_o)`` directions ``m_j``); ``P`` projects out the mask;
- the base block (task A, strength ``s_a``, ``r_a`` dims) has directions
  ``u_j = sqrt(1 - w) e_j + sqrt(w) m_j``: a fraction ``w`` (the **overlap**) of its energy lies
  under the mask;
- the overlay block (task B, strength ``s_o``, ``r_o`` dims) lives in the mask: ``v_j = m_j``;
- a view **with** the overlay is ``x = G b + o + sigma xi`` with ``G = P + (1 - alpha) (I - P)``: the
  overlay is alpha-blended at **opacity** ``alpha`` (the deep arm's ``base * (1 - a) + colour * a``),
  so the mask shows ``1 - alpha`` of the base (``alpha = 1``, the default: none of it, ``G = P``);
  a view **without** it ``x = b + sigma xi``; ``b = s_a U_a (z_a + eta_a e)``,
  ``o = s_o U_o (z_o + eta_o e')`` with fresh expert noise per view;
- each view keeps the overlay with probability ``q = 1 - p`` (feature dropout ``p``), independently;
  the overlay is **shared** by the two views of a pair (the same ``z_o``: the paper's setting) or
  **de-shared** (each view its own, independent ``z_o``).

Moments (derived in :func:`derive_moments` with sympy from the four presence cases of a pair)::

    C     = q^2 (G B G + kappa O) + q p (G B + B G) + p^2 B
    Sigma = q (G B' G + O') + p B' + sigma^2 I

with ``B = s_a^2 U_a U_a^T``, ``O = s_o^2 U_o U_o^T``, ``B' = (1 + eta_a^2) B``, ``O' = (1 + eta_o^2) O``
and ``kappa = 1`` (shared), 0 (de-shared) or the share of de-shared pairs that draw the same overlay
class by chance. The spectral optimum is the general one of the spectral loss:
``W^T W = Sigma^{-1/2} [A]_k Sigma^{-1/2}`` with ``A = Sigma^{-1/2} C Sigma^{-1/2}``, which needs no
orthogonality between blocks. A linear probe reads the representation ``h = W x`` of **test**
inputs (no expert noise) with or without the overlay; its ``R^2`` for ``y = u^T z``, averaged over
the direction ``u``, is ``s^2 tr(U^T R^T W^T (W S W^T)^+ W R U) / r`` with ``R = G`` (overlaid input,
task A), ``I`` (overlay-free, task A; overlay, task B) and ``S`` the test input's covariance.

With ``w = 0`` the base never touches the mask, ``G b = b``, and every quantity equals the two-block
model's with the overlay as the strong block (dropout ``p`` on it): ``tests/linear/test_occlusion.py``
checks this as a property, with the moments against Monte Carlo, the optimum against gradient
descent on the spectral loss, and the sympy derivation against the numeric formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from linear_theory.closed_form import sign_accuracy
from linear_theory.spectral import linear_probe_r2

__all__ = ["OcclusionSetting", "Geometry", "OcclusionPrediction", "moments", "optimal_encoder", "optimal_encoders",
           "probe_r2",
           "predict", "derive_moments", "sample_pairs"]

#: Eigenvalues of ``A`` at or below this (relative to the largest) count as 0: no capacity is spent there.
POSITIVE_RTOL = 1e-12


@dataclass(frozen=True)
class OcclusionSetting:
    """The occlusion-aware model without its views and capacity (the swept knobs).

    Attributes:
        base_strength, overlay_strength: ``s_a`` (task A, the base image) and ``s_o`` (task B,
            the overlay); ``s_o = 0`` is a run without any overlay.
        dims: ``(r_a, r_o)``, the blocks' dimensions (>= 1 each).
        aug_noise: ``(eta_a, eta_o)``, label-preserving augmentation noise per view (>= 0).
        noise: isotropic input noise ``sigma`` (> 0, so that ``Sigma`` is invertible).
        overlap: ``w`` in [0, 1], the share of the base block's energy under the overlay's mask.
        opacity: ``alpha`` in [0, 1], how much of the base the overlay hides under its mask (1: all).
    """

    base_strength: float = 1.0
    overlay_strength: float = 3.0
    dims: tuple[int, int] = (4, 4)
    aug_noise: tuple[float, float] = (0.5, 0.0)
    noise: float = 0.1
    overlap: float = 0.0
    opacity: float = 1.0

    def __post_init__(self) -> None:
        if not (self.base_strength > 0 and math.isfinite(self.base_strength)):
            raise ValueError(f"OcclusionSetting.base_strength must be a finite number > 0, got {self.base_strength!r}")
        if not (self.overlay_strength >= 0 and math.isfinite(self.overlay_strength)):
            raise ValueError(f"OcclusionSetting.overlay_strength must be a finite number >= 0, got "
                             f"{self.overlay_strength!r}")
        if len(self.dims) != 2 or min(self.dims) < 1:
            raise ValueError(f"OcclusionSetting.dims must be two integers >= 1, got {self.dims}")
        if len(self.aug_noise) != 2 or not all(a >= 0 and math.isfinite(a) for a in self.aug_noise):
            raise ValueError(f"OcclusionSetting.aug_noise must be two finite numbers >= 0, got {self.aug_noise}")
        if not (self.noise > 0 and math.isfinite(self.noise)):
            raise ValueError(f"OcclusionSetting.noise must be a finite number > 0, got {self.noise!r}")
        if not 0 <= self.overlap <= 1:
            raise ValueError(f"OcclusionSetting.overlap must be in [0, 1], got {self.overlap!r}")
        if not 0 <= self.opacity <= 1:
            raise ValueError(f"OcclusionSetting.opacity must be in [0, 1], got {self.opacity!r}")

    def geometry(self) -> Geometry:
        """The bases and the mask projector of this setting."""
        return _geometry(self.dims, self.overlap)


class Geometry(NamedTuple):
    """``base`` (d x r_a), ``overlay`` (d x r_o) orthonormal bases and ``keep`` = ``P`` (d x d), the
    projector onto the unmasked coordinates; ``d = r_a + max(r_a, r_o)``."""

    base: np.ndarray
    overlay: np.ndarray
    keep: np.ndarray


def _geometry(dims: tuple[int, int], overlap: float) -> Geometry:
    r_a, r_o = dims
    mask = max(r_a, r_o)
    d = r_a + mask
    base = np.zeros((d, r_a))
    base[np.arange(r_a), np.arange(r_a)] = math.sqrt(1.0 - overlap)
    base[r_a + np.arange(r_a), np.arange(r_a)] = math.sqrt(overlap)
    overlay = np.zeros((d, r_o))
    overlay[r_a + np.arange(r_o), np.arange(r_o)] = 1.0
    keep = np.diag(np.r_[np.ones(r_a), np.zeros(mask)])
    return Geometry(base, overlay, keep)


def _blocks(setting: OcclusionSetting) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``B``, the overlay's covariance at strength 1 (``O / s_o^2``) and ``P`` of the setting."""
    g = setting.geometry()
    return setting.base_strength**2 * g.base @ g.base.T, g.overlay @ g.overlay.T, g.keep


def _overlay_strengths(setting: OcclusionSetting, overlay_strength: ArrayLike | None) -> np.ndarray:
    """``s_o`` as an array: the setting's, or ``overlay_strength`` (finite, >= 0) where given."""
    if overlay_strength is None:
        return np.asarray(setting.overlay_strength, dtype=float)
    s = np.asarray(overlay_strength, dtype=float)
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"overlay_strength must be finite and >= 0, got {overlay_strength!r}")
    return s


def _opacities(setting: OcclusionSetting, opacity: ArrayLike | None) -> np.ndarray:
    """``alpha`` as an array: the setting's, or ``opacity`` (in [0, 1]) where given."""
    if opacity is None:
        return np.asarray(setting.opacity, dtype=float)
    a = np.asarray(opacity, dtype=float)
    if not np.all(np.isfinite(a)) or np.any((a < 0) | (a > 1)):
        raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
    return a


def _blend(keep: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``G = P + (1 - alpha) (I - P)`` over the shape of ``alpha``."""
    return keep + (1.0 - alpha)[..., None, None] * (np.eye(keep.shape[0]) - keep)


def moments(setting: OcclusionSetting, dropout: ArrayLike, shared: bool | float = True,
            overlay_strength: ArrayLike | None = None, opacity: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(C, Sigma)`` of the views, shape ``(..., d, d)`` over the broadcast shape of ``dropout``,
    ``overlay_strength`` (``s_o`` of the training views) and ``opacity`` (``alpha``; both default to the
    setting's), module docstring. ``shared``: ``True`` (kappa 1), ``False`` (kappa 0), or the share of
    pairs whose two overlays carry the same class (kappa in [0, 1], e.g. 1/3 when two views draw one
    of 3 shapes each)."""
    p = np.asarray(dropout, dtype=float)
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError(f"dropout must be in [0, 1], got {dropout!r}")
    p, s, alpha = np.broadcast_arrays(p, _overlay_strengths(setting, overlay_strength), _opacities(setting, opacity))
    b, unit, keep = _blocks(setting)
    g = _blend(keep, alpha)
    o = (s**2)[..., None, None] * unit
    eta_a, eta_o = setting.aug_noise
    q = (1.0 - p)[..., None, None]
    pp = p[..., None, None]
    gbg = g @ b @ g
    kappa = float(shared)
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"shared must be a bool or a share in [0, 1], got {shared!r}")
    cross = q**2 * (gbg + kappa * o) + q * pp * (g @ b + b @ g) + pp**2 * b
    view = q * ((1 + eta_a**2) * gbg + (1 + eta_o**2) * o) + pp * (1 + eta_a**2) * b \
        + setting.noise**2 * np.eye(b.shape[0])
    return cross, view


def optimal_encoder(cross: np.ndarray, view: np.ndarray, rep_dim: int) -> np.ndarray:
    """A minimizer ``W`` (``(..., k, d)``) of the spectral loss: ``W = diag(sqrt(lambda)) V^T Sigma^{-1/2}`` over
    the top ``k`` positive eigenpairs of ``A`` (rows of non-positive eigenvalues are 0). Any other
    minimizer is ``R W`` with ``R`` orthogonal, which changes no probe."""
    return optimal_encoders(cross, view, [rep_dim])[0]


def optimal_encoders(cross: np.ndarray, view: np.ndarray, ranks: list[int]) -> list[np.ndarray]:
    """:func:`optimal_encoder` at each capacity of ``ranks`` from one eigendecomposition (a calibration
    scans every ``k``)."""
    if not ranks or min(ranks) < 1:
        raise ValueError(f"every rep_dim must be >= 1, got {ranks}")
    evals, evecs = np.linalg.eigh(view)
    inv_sqrt = evecs @ (evecs.swapaxes(-1, -2) / np.sqrt(evals)[..., :, None])
    a = inv_sqrt @ cross @ inv_sqrt
    a = (a + a.swapaxes(-1, -2)) / 2
    lam, vecs = np.linalg.eigh(a)
    scale = np.abs(lam).max(axis=-1, keepdims=True)
    out = []
    for rep_dim in ranks:
        k = min(rep_dim, lam.shape[-1])
        top_lam, top_vecs = lam[..., -k:][..., ::-1], vecs[..., :, -k:][..., ::-1]
        weight = np.sqrt(np.where(top_lam > POSITIVE_RTOL * scale, top_lam, 0.0))
        out.append(weight[..., :, None] * (top_vecs.swapaxes(-1, -2) @ inv_sqrt))
    return out


def probe_r2(setting: OcclusionSetting, encoder: np.ndarray, overlaid: bool,
             overlay_strength: ArrayLike | None = None, opacity: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear-probe ``R^2`` of task A and task B from ``h = W x`` of test inputs with (``overlaid``) or
    without the overlay, averaged over the task direction (module docstring). ``overlay_strength``,
    ``opacity``: ``s_o`` and ``alpha`` of the test overlay (default the setting's), broadcast with
    ``encoder.shape[:-2]``, the shape of the result."""
    b, unit, keep = _blocks(setting)
    g = setting.geometry()
    d = b.shape[0]
    shape = encoder.shape[:-2]
    s = np.broadcast_to(_overlay_strengths(setting, overlay_strength), shape)
    if overlaid:
        reach_a = _blend(keep, np.broadcast_to(_opacities(setting, opacity), shape))
        cov = reach_a @ b @ reach_a + (s**2)[..., None, None] * unit + setting.noise**2 * np.eye(d)
    else:
        reach_a, cov = np.eye(d), b + setting.noise**2 * np.eye(d)
    r2_a = linear_probe_r2(encoder, cov, setting.base_strength * reach_a @ g.base)
    if overlaid:
        r2_o = linear_probe_r2(encoder, cov, s[..., None, None] * g.overlay)
        r2_o = np.where(s > 0, r2_o, 0.0)  # no overlay in the input: nothing to read
    else:
        r2_o = np.zeros(shape)
    return np.clip(r2_a, 0.0, 1.0), np.clip(r2_o, 0.0, 1.0)


class OcclusionPrediction(NamedTuple):
    """The probes of the spectral optimum; each field ``(..., 2)`` over (task A, task B).

    ``overlaid``: test inputs carrying the overlay (the full-overlay probe of the deep arm);
    ``free``: the same inputs without it (task B is then 0: there is no overlay to read).
    """

    r2_overlaid: np.ndarray
    r2_free: np.ndarray
    accuracy_overlaid: np.ndarray
    accuracy_free: np.ndarray


def predict(setting: OcclusionSetting, dropout: ArrayLike, rep_dim: int, shared: bool | float = True,
            train_strength: ArrayLike | None = None, test_strength: ArrayLike | None = None,
            train_opacity: ArrayLike | None = None, test_opacity: ArrayLike | None = None) -> OcclusionPrediction:
    """Train at the spectral optimum with dropout ``p`` on the overlay (shared or de-shared), then probe.

    ``train_*`` / ``test_*``: ``s_o`` and ``alpha`` of the training views and of the overlaid test
    inputs (default the setting's; arrays broadcast with ``dropout``), so that an encoder trained
    without the overlay can be probed on overlaid inputs, as the deep arm's no-overlay control is.
    """
    encoder = optimal_encoder(*moments(setting, dropout, shared, train_strength, train_opacity), rep_dim)
    over = np.stack(probe_r2(setting, encoder, True, test_strength, test_opacity), axis=-1)
    free = np.stack(probe_r2(setting, encoder, False), axis=-1)
    return OcclusionPrediction(over, free, sign_accuracy(over), sign_accuracy(free))


def sample_pairs(setting: OcclusionSetting, dropout: float, n: int, rng: np.random.Generator,
                 shared: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positive pairs ``(x1, x2)``, each ``(n, d)``, drawn as the module docstring says (for Monte Carlo checks)."""
    g = setting.geometry()
    (r_a, r_o), (eta_a, eta_o) = setting.dims, setting.aug_noise
    d = g.base.shape[0]
    z_a = rng.standard_normal((n, r_a))
    z_o = rng.standard_normal((n, r_o))
    views = []
    for _ in range(2):
        own = z_o if shared else rng.standard_normal((n, r_o))
        b = setting.base_strength * (z_a + eta_a * rng.standard_normal((n, r_a))) @ g.base.T
        o = setting.overlay_strength * (own + eta_o * rng.standard_normal((n, r_o))) @ g.overlay.T
        present = rng.random(n)[:, None] >= dropout
        blended = b @ _blend(g.keep, np.asarray(setting.opacity, dtype=float))
        x = np.where(present, blended + o, b) + setting.noise * rng.standard_normal((n, d))
        views.append(x)
    return views[0], views[1]


@lru_cache(maxsize=1)
def derive_moments() -> tuple[sp.Matrix, sp.Matrix, dict[str, sp.Symbol]]:
    """``(C, Sigma)`` of the 1-D case (``r_a = r_o = 1``: coordinates (unmasked, mask)) derived with sympy.

    Each view carries the overlay with probability ``q``; the four presence cases of a pair are summed
    with their probabilities, and within a case the expectation is taken over the latents
    (``z_a``, ``z_o`` shared by the pair; ``z_o'`` the second view's own overlay when de-shared, weight
    ``kappa`` on sharing), the expert noises and the input noise, using their second moments.
    """
    sa, so, ea, eo, sig, w, qq, kappa, alpha = sp.symbols("s_a s_o eta_a eta_o sigma w q kappa alpha", nonnegative=True)
    u = sp.Matrix([sp.sqrt(1 - w), sp.sqrt(w)])
    v = sp.Matrix([0, 1])
    keep = sp.diag(1, 1 - alpha)  # G: the mask shows 1 - alpha of the base

    def view_terms(with_overlay: bool) -> tuple[sp.Matrix, sp.Matrix]:
        """(coefficient vector on the shared base latent, on the overlay latent) of one view."""
        return (keep * u if with_overlay else u) * sa, (v * so if with_overlay else sp.zeros(2, 1))

    cross = sp.zeros(2, 2)
    view = sp.zeros(2, 2)
    for first in (True, False):
        for second in (True, False):
            prob = (qq if first else 1 - qq) * (qq if second else 1 - qq)
            (a1, o1), (a2, o2) = view_terms(first), view_terms(second)
            # E[x1 x2^T]: the base latent is shared; the overlay latent is shared with weight kappa
            cross += prob * (a1 * a2.T + kappa * o1 * o2.T)
    for present in (True, False):
        prob = qq if present else 1 - qq
        a1, o1 = view_terms(present)
        view += prob * ((1 + ea**2) * a1 * a1.T + (1 + eo**2) * o1 * o1.T)
    view += sig**2 * sp.eye(2)
    symbols = {"s_a": sa, "s_o": so, "eta_a": ea, "eta_o": eo, "sigma": sig, "w": w, "q": qq, "kappa": kappa,
               "alpha": alpha}
    return sp.simplify(cross), sp.simplify(view), symbols
