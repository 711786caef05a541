"""A batched adaptive Dormand-Prince 5(4) integrator for ``dy/dt = f(y)``, vectorized over axis 0.

Why not ``scipy.integrate.solve_ivp`` on the stacked state: it measures the error as one RMS over
the whole state, so one model's error is averaged with the others'. Here a step's error is the
largest per-item RMS error, so every item of the batch meets ``rtol``/``atol``; one step size is
shared by the batch. :func:`linear_theory.dynamics.gradient_flow_batch` uses it for the flow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["integrate_dp45"]

_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
# 5th-order minus embedded 4th-order weights (the last entry multiplies f(y_new), FSAL)
_DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def integrate_dp45(rhs: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, t_eval: np.ndarray, *,
                   first_step: float, rtol: float, atol: float, max_steps: int,
                   name: str = "integrate_dp45") -> np.ndarray:
    """Integrate the autonomous ``dy/dt = rhs(y)`` from ``y(0) = y0``; items along axis 0 are independent.

    Steps are clipped to land on every time in ``t_eval`` (finite, non-decreasing, ``>= 0``); only
    a full (unclipped) step may grow the step size. Entries below ``1e-100`` (float64) or
    ``1e-12`` (float32) are flushed to 0 after each step: denormal floats make CPU arithmetic
    ~100x slower, and such an entry is 0 to the precision anyway.

    Args:
        rhs: the right-hand side, same shape and dtype in and out.
        y0: initial state, shape ``(B, ...)``; its dtype is the integration dtype.
        first_step: initial step size (> 0).
        name: prefix of the error messages (the caller's name).

    Returns:
        The state at every time of ``t_eval``, shape ``(T, *y0.shape)``.

    Raises:
        RuntimeError: beyond ``max_steps`` accepted-plus-rejected steps, or on a non-finite state.
    """
    y = y0
    out = np.empty((t_eval.size, *y0.shape), dtype=y0.dtype)
    h = first_step
    tiny = 1e-100 if y0.dtype == np.float64 else 1e-12
    axes = tuple(range(1, y0.ndim))
    t, steps, n_out = 0.0, 0, 0
    f = rhs(y)
    while n_out < t_eval.size:
        if t >= t_eval[n_out] - 1e-12 * max(1.0, t_eval[n_out]):
            out[n_out] = y
            n_out += 1
            continue
        if steps >= max_steps:
            raise RuntimeError(f"{name}: more than max_steps={max_steps} steps before t={t_eval[-1]}")
        steps += 1
        step = min(h, float(t_eval[n_out]) - t)
        ks = [f]
        for a_row in _DP_A[1:]:
            ks.append(rhs(y + step * sum(a * kk for a, kk in zip(a_row, ks) if a != 0.0)))
        y_new = y + step * sum(b * kk for b, kk in zip(_DP_B, ks) if b != 0.0)
        f_new = rhs(y_new)
        err = step * sum(e * kk for e, kk in zip(_DP_E, [*ks, f_new]) if e != 0.0)
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        err_norm = float(np.sqrt(np.max(np.mean((err / scale) ** 2, axis=axes))))
        if not np.isfinite(err_norm):
            raise RuntimeError(f"{name}: the state became non-finite (initial state too large?)")
        if err_norm <= 1.0:
            t += step
            y_new[np.abs(y_new) < tiny] = 0.0
            f_new[np.abs(f_new) < tiny] = 0.0
            y, f = y_new, f_new
            if step == h:  # only a full step may grow the step size
                h *= min(5.0, 0.9 * err_norm ** -0.2) if err_norm > 0 else 5.0
        else:
            h = step * max(0.2, 0.9 * err_norm ** -0.2)
    return out
