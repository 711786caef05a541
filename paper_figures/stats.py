"""Summary statistics shared by the figures' tables."""

from __future__ import annotations

import numpy as np

__all__ = ["summarize", "first_crossing"]


def summarize(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def first_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """The first ``x`` at which ``y`` (sampled at increasing ``x``) reaches ``level``, linearly interpolated.

    ``x[0]`` if ``y[0] >= level`` already; NaN if ``y`` never reaches it.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    above = np.flatnonzero(y >= level)
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
