"""Summary statistics shared by the figures' tables: means, paired t intervals, Holm's correction.

The deep results compare runs paired by seed (same seed = same data order, overlay draws and
initialization). A paired difference over ``n`` seeds is reported as its mean with the 95 %
confidence interval of Student's t with ``n - 1`` degrees of freedom, and a two-sided p-value for
"the mean difference is 0". Within one table the p-values are corrected by Holm's step-down method
(family-wise error 5 %), and only a difference that survives the correction is marked significant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["summarize", "first_crossing", "PairedDifference", "paired_t", "holm"]


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


@dataclass(frozen=True)
class PairedDifference:
    """A mean of paired differences with its t interval.

    Attributes:
        mean: mean of the differences; std: their sample standard deviation (ddof 1; 0 for n = 1).
        n: number of pairs; low, high: the ``level`` confidence interval (NaN for n < 2).
        p_value: two-sided t-test of mean 0 (NaN for n < 2; 0 when every difference is the same nonzero value).
    """

    mean: float
    std: float
    n: int
    low: float
    high: float
    p_value: float


def paired_t(diffs: Sequence[float], level: float = 0.95) -> PairedDifference:
    """Mean, interval and p-value of paired differences (Student's t, ``n - 1`` degrees of freedom)."""
    arr = np.asarray(diffs, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"paired differences must be a non-empty list of finite numbers, got {list(diffs)!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = int(arr.size)
    mean, std = summarize(arr.tolist())
    if n < 2:
        return PairedDifference(mean, 0.0, n, math.nan, math.nan, math.nan)
    sem = std / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sem
    if sem == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / sem, n - 1))
    return PairedDifference(mean, std, n, mean - half, mean + half, p)


def interval_text(mean: float, low: float, high: float, n: int, signed: bool = False) -> str:
    """A mean over seeds as ``mean [low, high]`` (its 95 % interval), or ``mean (1 seed)`` when there is no
    interval; ``signed`` prints a sign on every number (differences). Every table's interval format."""
    f = "+.3f" if signed else ".3f"
    return f"{mean:{f}} (1 seed)" if n == 1 else f"{mean:{f}} [{low:{f}}, {high:{f}}]"


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN and is not counted.

    A difference is significant at family-wise level ``alpha`` when its adjusted p-value is
    ``<= alpha``. ``alpha`` only checks the argument here; the comparison is the caller's.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(p_values, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(p.shape, np.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[i])))
        adjusted[i] = running
    return adjusted.tolist()
