"""Summary statistics shared by the figures' tables."""

from __future__ import annotations

import numpy as np

__all__ = ["summarize"]


def summarize(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
