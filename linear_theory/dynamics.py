"""Gradient flow of the spectral loss: the logistic closed form, ``solve_ivp``, and a batched integrator.

Gradient flow ``dW/dt = -grad L = 4 W C - 4 W Sigma W^T W Sigma`` (theorem 6 of docs/linear-theory.md).
With the block bases axis-aligned, ``Sigma`` and ``C`` are diagonal with entries ``v_i`` and
``c_i`` on block ``i``'s coordinates. If the rows of ``W`` are mutually orthogonal and each row
reads a single direction ``u`` (an *orthogonal init*), the rows never mix and the captured
strength ``a = ||W u||^2`` of a direction of block ``i`` obeys the logistic equation
``da/dt = 8 c_i a - 8 v_i^2 a^2`` (the per-mode loss is ``-2 c a + v^2 a^2``), whose solution is

``a(t) = a* / (1 + (a*/a0 - 1) exp(-8 c t))``, ``a* = c / v^2``.

It is written here as ``a0 / (exp(-8 c t) + a0 v^2 (1 - exp(-8 c t)) / c)``, which also covers
``c = 0`` (a dropped-always block or a noise direction decays as ``a0 / (1 + 8 v^2 a0 t)``).
With competition (fewer rows than directions that would grow, or a generic random init) the rows
mix and the flow is integrated numerically: :func:`gradient_flow` (one model, ``solve_ivp``) and
:func:`gradient_flow_batch` (many models of one shape: the batched Dormand-Prince 5(4) of
:mod:`linear_theory.integrate` on the encoder, with every group of coordinates wider than ``k``
rotated onto ``k`` columns, exactly).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.integrate import solve_ivp

from linear_theory.integrate import integrate_dp45
from linear_theory.model import LinearModel, check_same_shape
from linear_theory.spectral import captured_strength, encoder_probe_r2, spectral_grad, spectral_loss
from linear_theory.trajectory import Trajectory

__all__ = [
    "logistic_curve",
    "logistic_solution",
    "learning_time",
    "time_to_learn",
    "orthogonal_init",
    "random_init",
    "logistic_trajectory",
    "gradient_flow",
    "gradient_flow_batch",
    "trajectory_from_encoders",
]


# -- the logistic closed form ---------------------------------------------------------------
def logistic_curve(t: ArrayLike, a0: ArrayLike, c: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Solution of ``da/dt = 8 c a - 8 v^2 a^2`` with ``a(0) = a0`` (broadcasting; ``t = inf`` allowed).

    Args:
        t: times ``>= 0``; a0: initial captured strength ``>= 0``; c: cross-view moment ``>= 0``;
            v: view variance ``>= 0``. All broadcast together.

    Returns:
        ``a(t)``, the broadcast shape. Equals ``a* = c / v^2`` at ``t = inf`` when ``a0 > 0``.
    """
    t, a0, c, v = (np.asarray(x, dtype=float) for x in (t, a0, c, v))
    with np.errstate(invalid="ignore", divide="ignore"):
        ct = np.where(c > 0, c * t, 0.0)  # c = 0, t = inf: no growth term (0 * inf is NaN)
        decay = np.exp(-8.0 * ct)  # exp(-inf) = 0 at t = inf
        # (1 - exp(-8 c t)) / c, continuous at c = 0 where it is 8 t
        growth = np.where(c > 0, -np.expm1(-8.0 * ct) / np.where(c > 0, c, 1.0), 8.0 * t)
        den = decay + a0 * v**2 * growth
        out = np.where(a0 > 0, a0 / np.where(den > 0, den, 1.0), 0.0)
    return out


def _a0_per_block(model: LinearModel, a0: ArrayLike) -> np.ndarray:
    a0 = np.broadcast_to(np.asarray(a0, dtype=float), (len(model.blocks),)).copy()
    if not np.all(np.isfinite(a0)) or np.any(a0 < 0):
        raise ValueError(f"a0 must be finite and >= 0 (scalar or one per block), got {a0!r}")
    return a0


def _times(t: ArrayLike, *, allow_inf: bool) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if np.any(np.isnan(t)) or np.any(t < 0) or (not allow_inf and np.any(np.isinf(t))):
        raise ValueError(f"times must be >= 0{'' if allow_inf else ' and finite'}, got {t!r}")
    return t


def logistic_solution(model: LinearModel, t: ArrayLike, a0: ArrayLike) -> np.ndarray:
    """Captured strength ``a_i(t)`` of every block under gradient flow from an orthogonal init.

    Valid without competition: ``W(0) = orthogonal_init(model, a0)`` (every direction of block
    ``i`` starts at ``a0_i``; needs ``k >=`` the number of directions with ``a0_i > 0``).

    Args:
        t: times ``>= 0`` (``inf`` gives the fixed point), any shape ``S``.
        a0: initial captured strength, scalar or shape ``(K,)``.

    Returns:
        Shape ``S + (K,)``; ``a_i(inf) = c_i / v_i^2`` where ``a0_i > 0``.
    """
    t = _times(t, allow_inf=True)
    v, c = model.block_moments()
    return logistic_curve(t[..., None], _a0_per_block(model, a0), c, v)


def learning_time(a0: ArrayLike, c: ArrayLike, v: ArrayLike, fraction: ArrayLike = 0.5) -> np.ndarray:
    """Time at which the logistic ``a(t)`` reaches ``fraction * a*`` (broadcasting).

    ``t_f = [log(a*/a0 - 1) - log(1/f - 1)] / (8 c)``; for ``f = 1/2`` this is
    ``log(a*/a0 - 1) / (8 c) ~ log(a*/a0) / (8 c)`` (theorem 6: weak features are learned later).
    0 where ``a0 >= f a*`` already (also when ``c = 0``: ``a* = 0``); ``inf`` where ``a0 = 0 < c``
    (a mode that starts at exactly 0 never leaves it).
    """
    a0, c, v, f = (np.asarray(x, dtype=float) for x in (a0, c, v, fraction))
    if np.any((f <= 0) | (f >= 1)):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        a_star = np.where(v > 0, c / np.where(v > 0, v, 1.0) ** 2, np.inf)
        ratio = np.where(a0 > 0, a_star / np.where(a0 > 0, a0, 1.0), np.inf)
        arg = np.where((c > 0) & (a0 > 0), (ratio - 1.0) / (1.0 / f - 1.0), np.inf)
        t = np.log(np.maximum(arg, 1.0)) / (8.0 * np.where(c > 0, c, 1.0))
    return np.where((c > 0) & (a0 > 0), t, np.where(a0 >= f * a_star, 0.0, np.inf))


def time_to_learn(model: LinearModel, a0: ArrayLike, fraction: float = 0.5) -> np.ndarray:
    """Per-block time to reach ``fraction`` of the fixed point from ``a0`` (no competition). Shape ``(K,)``."""
    v, c = model.block_moments()
    return learning_time(_a0_per_block(model, a0), c, v, fraction)


# -- initial conditions -----------------------------------------------------------------------
def orthogonal_init(model: LinearModel, a0: ArrayLike, rng: np.random.Generator | None = None) -> np.ndarray:
    """Encoder whose rows read one block direction each, with ``||W u||^2 = a0_i`` on block ``i``.

    Rows go to the directions of the blocks with ``a0_i > 0`` in order; the other rows are zero.
    With ``rng`` the rows are rotated by a random ``k x k`` orthogonal matrix (the flow is
    equivariant under it, so the logistic solution still holds).

    Returns:
        ``W0``, shape ``(k, d)``.

    Raises:
        ValueError: if ``k`` is smaller than the number of directions to initialize.
    """
    a0 = _a0_per_block(model, a0)
    n_dirs = sum(b.dim for b, a in zip(model.blocks, a0) if a > 0)
    if n_dirs > model.rep_dim:
        raise ValueError(f"orthogonal_init needs rep_dim >= {n_dirs} directions with a0 > 0, got {model.rep_dim}")
    W = np.zeros((model.rep_dim, model.d))
    row = 0
    for sl, a in zip(model.block_slices(), a0):
        if a > 0:
            for col in range(sl.start, sl.stop):
                W[row, col] = np.sqrt(a)
                row += 1
    if rng is not None:
        q, r = np.linalg.qr(rng.standard_normal((model.rep_dim, model.rep_dim)))
        W = (q * np.sign(np.diag(r))) @ W
    return W


def random_init(model: LinearModel, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Generic small init ``W0 = scale * N(0, 1)``, shape ``(k, d)``; each direction starts at ``a0 ~ k scale^2``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    return scale * rng.standard_normal((model.rep_dim, model.d))


# -- trajectories -------------------------------------------------------------------------------
def trajectory_from_encoders(model: LinearModel, times: ArrayLike, W: np.ndarray, method: str,
                             label: str = "", keep_encoders: bool = True) -> Trajectory:
    """Population loss, captured strength and probe ``R^2`` of encoders ``W``, shape ``(B..., T, k, d)``."""
    W = np.asarray(W, dtype=float)
    return Trajectory(np.asarray(times, dtype=float), captured_strength(model, W), encoder_probe_r2(model, W),
                      spectral_loss(model, W), method, label, W if keep_encoders else None)


def logistic_trajectory(model: LinearModel, t: ArrayLike, a0: ArrayLike, label: str = "") -> Trajectory:
    """The closed-form (logistic) learning curve as a :class:`Trajectory` (method ``"logistic"``).

    The encoder at time ``t`` is ``orthogonal_init(model, a(t))`` restricted to the blocks with
    ``a0_i > 0``, so the loss and the probe ``R^2`` are those of the exact flow. Shapes: ``t``
    ``(T,)`` finite, ``a0`` scalar or ``(K,)``.
    """
    t = _times(t, allow_inf=False).reshape(-1)
    a0 = _a0_per_block(model, a0)
    a = logistic_solution(model, t, a0)
    W = np.stack([orthogonal_init(model, np.where(a0 > 0, np.maximum(at, 1e-300), 0.0)) for at in a])
    return trajectory_from_encoders(model, t, W, "logistic", label)


def gradient_flow(model: LinearModel, t_eval: ArrayLike, W0: ArrayLike, *, rtol: float = 1e-10,
                  atol: float = 1e-13, method: str = "RK45", label: str = "",
                  keep_encoders: bool = True) -> Trajectory:
    """Integrate ``dW/dt = -grad L(W)`` with :func:`scipy.integrate.solve_ivp` from ``W0``.

    Args:
        t_eval: finite non-decreasing times ``>= 0``, shape ``(T,)``.
        W0: initial encoder, shape ``(k, d)`` (e.g. :func:`random_init` or :func:`orthogonal_init`).

    Returns:
        A :class:`Trajectory` (method ``"gradient_flow"``) with the encoders.
    """
    t_eval = _times(t_eval, allow_inf=False).reshape(-1)
    W0 = np.asarray(W0, dtype=float)
    if W0.shape != (model.rep_dim, model.d):
        raise ValueError(f"W0 must have shape {(model.rep_dim, model.d)}, got {W0.shape}")
    shape = W0.shape

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        return -spectral_grad(model, y.reshape(shape)).ravel()

    if np.any(np.diff(t_eval) < 0):
        raise ValueError("t_eval must be non-decreasing")
    if t_eval[-1] == 0:
        Ws = np.broadcast_to(W0, (t_eval.size, *shape)).copy()
    else:
        uniq, inverse = np.unique(t_eval, return_inverse=True)  # solve_ivp wants strictly increasing times
        sol = solve_ivp(rhs, (0.0, float(uniq[-1])), W0.ravel(), method=method, t_eval=uniq,
                        rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        Ws = sol.y.T[inverse].reshape(t_eval.size, *shape)
    return trajectory_from_encoders(model, t_eval, Ws, "gradient_flow", label, keep_encoders)


# -- batched gradient flow ---------------------------------------------------------------------------
# For axis-aligned blocks, Sigma and C are constant (v_g, c_g) on each group g of coordinates (every
# block, and the noise coordinates), so with W_g the columns of group g:
#   dW_g/dt = 4 c_g W_g - 4 v_g M W_g,   M = W Sigma W^T = sum_g v_g W_g W_g^T,
# i.e. W_g(t) = Phi_g(t) W_g(0). A group wider than k can therefore be rotated onto k columns: with
# W_g(0) = L_g Q_g^T (thin LQ, L_g k x k), W_g(t) = [Phi_g(t) L_g] Q_g^T, and every reported number
# (loss, captured strength, probe R^2) depends on W_g only through W_g W_g^T. The batch integrates
# these compressed encoders, exactly; the noise coordinates shrink from d - sum r to k columns.
# (Integrating the Gram matrices W_g W_g^T instead would be smaller still but is unstable: round-off
# excites ranks above r_g that the encoder cannot have, and they grow whenever a block would win.)
def _groups(models: Sequence[LinearModel]) -> tuple[list[slice], np.ndarray, np.ndarray, np.ndarray]:
    """Coordinate groups (the blocks, then the noise coordinates if any) and their per-model moments.

    Returns:
        ``slices`` (``G``), and ``v``, ``c``, ``clean`` (clean-input variance) of shape ``(B, G)``.
    """
    check_same_shape(models)
    ref = models[0]
    slices = list(ref.block_slices())
    total = slices[-1].stop
    has_noise = ref.d > total
    if has_noise:
        slices.append(slice(total, ref.d))
    v, c, clean = [], [], []
    for m in models:
        vm, cm = m.block_moments()
        s2 = np.array([b.strength**2 for b in m.blocks])
        noise = [m.noise**2] if has_noise else []
        v.append([*vm, *noise])
        c.append([*cm, *([0.0] if has_noise else [])])
        clean.append([*(s2 + m.noise**2), *noise])
    return slices, np.array(v), np.array(c), np.array(clean)


def _gram(W: np.ndarray, slices: Sequence[slice]) -> np.ndarray:
    """Per-group Gram matrices ``W_g W_g^T``. ``W``: ``(..., k, d)`` -> ``(..., G, k, k)``."""
    return np.stack([W[..., :, sl] @ np.swapaxes(W[..., :, sl], -1, -2) for sl in slices], axis=-3)


def _compress(W0: np.ndarray, slices: Sequence[slice]) -> tuple[np.ndarray, list[slice]]:
    """Rotate each group wider than ``k`` onto ``k`` columns (see the comment above).

    ``W0``: ``(..., k, d)`` -> ``(..., k, D)`` with ``D = sum_g min(width_g, k)``, and the groups' slices in it.
    """
    k = W0.shape[-2]
    parts, new_slices, start = [], [], 0
    for sl in slices:
        Wg = W0[..., :, sl]
        if Wg.shape[-1] > k:
            _, R = np.linalg.qr(np.swapaxes(Wg, -1, -2))  # W_g^T = Q R  =>  W_g = R^T Q^T
            Wg = np.swapaxes(R, -1, -2)
        parts.append(Wg)
        new_slices.append(slice(start, start + Wg.shape[-1]))
        start += Wg.shape[-1]
    return np.concatenate(parts, axis=-1), new_slices


def _flow_rhs(W: np.ndarray, sig: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """``4 W C - 4 W Sigma W^T W Sigma`` for diagonal moments, batched. ``W``: ``(B, k, D)``; ``sig``, ``cc``: ``(B, 1, D)``."""
    ws = W * sig
    out = (ws @ np.swapaxes(W, -1, -2)) @ ws
    out -= W * cc
    out *= -4.0
    return out


def _gram_diagnostics(P: np.ndarray, v: np.ndarray, c: np.ndarray, clean: np.ndarray, strength: np.ndarray,
                      dims: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Captured strength, probe ``R^2`` and loss from Gram matrices (the formulas of spectral.py).

    ``P``: ``(B, T, G, k, k)``; ``v``, ``c``, ``clean``: ``(B, G)``; ``strength``: ``(B, K)``; ``dims``: ``(K,)``.
    ``tr(W U_i U_i^T W^T) = tr P_i``, ``E_u R^2_i = (s_i^2 / r_i) tr(m^+ P_i)`` with
    ``m = W Sigma_clean W^T = sum_g clean_g P_g``, and ``L = -2 sum_g c_g tr P_g + ||sum_g v_g P_g||_F^2``.
    """
    K = len(dims)
    ex = (slice(None), None, slice(None), None, None)  # (B, G) -> (B, 1, G, 1, 1)
    tr = np.trace(P, axis1=-2, axis2=-1)  # (B, T, G)
    captured = tr[..., :K] / dims
    m = np.sum(clean[ex] * P, axis=-3)
    m_pinv = np.linalg.pinv(m, rcond=1e-10, hermitian=True)
    probe = strength[:, None, :] ** 2 / dims * np.einsum("btkl,btglk->btg", m_pinv, P[:, :, :K])
    M = np.sum(v[ex] * P, axis=-3)
    loss = -2.0 * np.sum(c[:, None, :] * tr, axis=-1) + np.sum(M**2, axis=(-2, -1))
    return captured, probe, loss


def gradient_flow_batch(models: Sequence[LinearModel], t_eval: ArrayLike, W0: ArrayLike, *,
                        rtol: float | None = None, atol: float | None = None, dtype: DTypeLike = np.float64,
                        max_steps: int = 1_000_000, label: str = "") -> Trajectory:
    """Gradient flow of ``B`` models of one shape at once (vectorized adaptive Dormand-Prince 5(4)).

    Integrates the encoder with every group of coordinates wider than ``k`` rotated onto ``k``
    columns (exact for axis-aligned blocks, see the comment above; the cost does not grow with ``d``). One step size is shared by the batch; a step's error is the
    largest per-model RMS error, so every model meets ``rtol``/``atol`` (``solve_ivp`` on the stacked
    state would average the error over the batch instead). Steps are clipped to land on every time
    in ``t_eval``. Use :func:`gradient_flow` when the encoders ``W(t)`` themselves are needed.

    Args:
        models: ``B`` models with the same block dims, ``rep_dim`` and ``input_dim``.
        t_eval: finite non-decreasing times ``>= 0``, shape ``(T,)``.
        W0: initial encoders, shape ``(B, k, d)`` or ``(k, d)`` (shared).
        rtol: relative tolerance on the (compressed) encoder entries (default ``1e-8`` in float64,
            ``1e-5`` in float32).
        atol: absolute tolerance on the same (default ``1e-11`` in float64, ``1e-8`` in float32).
        dtype: ``float64`` or ``float32`` for the integration (diagnostics are float64).
        max_steps: accepted-plus-rejected step limit (``RuntimeError`` beyond).

    Returns:
        A batched :class:`Trajectory` (method ``"gradient_flow"``, no encoders): ``captured_strength``
        and ``probe_r2`` of shape ``(B, T, K)``, ``loss`` ``(B, T)``.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    f64 = dtype == np.float64
    rtol = (1e-8 if f64 else 1e-5) if rtol is None else float(rtol)
    atol = (1e-11 if f64 else 1e-8) if atol is None else float(atol)
    t_eval = _times(t_eval, allow_inf=False).reshape(-1)
    if np.any(np.diff(t_eval) < 0):
        raise ValueError("t_eval must be non-decreasing")
    models = list(models)
    slices, v, c, clean = _groups(models)
    B, k, d = len(models), models[0].rep_dim, models[0].d
    W0 = np.asarray(W0, dtype=float)
    if W0.shape not in ((k, d), (B, k, d)):
        raise ValueError(f"W0 must have shape {(k, d)} or {(B, k, d)}, got {W0.shape}")
    Wc, cslices = _compress(W0, slices)
    Wc = np.ascontiguousarray(np.broadcast_to(Wc, (B, k, Wc.shape[-1])), dtype=dtype)
    widths = [sl.stop - sl.start for sl in cslices]
    sig = np.repeat(v, widths, axis=1)[:, None, :].astype(dtype)
    cc = np.repeat(c, widths, axis=1)[:, None, :].astype(dtype)
    rate = 8.0 * float(np.max(cc)) + 8.0 * float(np.max(sig)) ** 2 * float(np.max(np.sum(Wc**2, axis=-2))) + 1e-3
    Ws = integrate_dp45(lambda W: _flow_rhs(W, sig, cc), Wc, t_eval, first_step=0.1 / rate, rtol=rtol, atol=atol,
                        max_steps=max_steps, name="gradient_flow_batch")  # (T, B, k, D)
    P = _gram(np.swapaxes(Ws, 0, 1).astype(np.float64), cslices)  # (B, T, G, k, k)
    strength = np.array([[b.strength for b in m.blocks] for m in models])
    dims = np.array([b.dim for b in models[0].blocks], dtype=float)
    cs, r2, loss = _gram_diagnostics(P, v, c, clean, strength, dims)
    return Trajectory(t_eval, cs, r2, loss, "gradient_flow", label)
