"""paper_figures.stats: the paired t interval and Holm's correction against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from paper_figures.stats import holm, interval_text, paired_t

_diffs = st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=12).filter(lambda d: np.std(d) > 1e-6)


@given(_diffs)
def test_paired_t_matches_scipy(diffs: list[float]) -> None:
    """The interval is scipy's t interval of the mean and the p-value is ttest_1samp's (two-sided)."""
    t = paired_t(diffs)
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=np.mean(diffs), scale=stats.sem(diffs))
    assert t.low == pytest.approx(low, abs=1e-9) and t.high == pytest.approx(high, abs=1e-9)
    assert t.p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue, rel=1e-6, abs=1e-12)
    assert t.low <= t.mean <= t.high and t.n == len(diffs)
    # the interval excludes 0 exactly when the test rejects at 5 %
    if abs(t.p_value - 0.05) > 1e-9:
        assert (t.low > 0 or t.high < 0) == (t.p_value < 0.05)


def test_paired_t_edge_cases() -> None:
    one = paired_t([0.3])
    assert one.mean == 0.3 and one.n == 1 and math.isnan(one.low) and math.isnan(one.p_value)
    assert paired_t([0.5, 0.5, 0.5]).p_value == 0.0 and paired_t([0.0, 0.0]).p_value == 1.0
    for bad in ([], [0.1, float("nan")], [[0.1]]):
        with pytest.raises(ValueError, match="paired differences"):
            paired_t(bad)  # type: ignore[arg-type]


def test_holm_by_hand() -> None:
    """m = 4: sorted p (0.01, 0.02, 0.03, 0.5) -> (0.04, 0.06, 0.06, 0.5), back in the input order; NaN kept."""
    adjusted = holm([0.03, 0.5, 0.01, float("nan"), 0.02])
    assert adjusted[:3] == pytest.approx([0.06, 0.5, 0.04]) and math.isnan(adjusted[3])
    assert adjusted[4] == pytest.approx(0.06)
    assert holm([]) == []


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holm_is_at_least_bonferroni_on_the_smallest_and_monotone(p: list[float]) -> None:
    """Holm: adjusted >= raw, <= 1, min adjusted = m * min p (capped), and order-preserving."""
    adjusted = np.array(holm(p))
    raw = np.array(p)
    assert np.all(adjusted >= raw - 1e-15) and np.all(adjusted <= 1)
    assert adjusted.min() == pytest.approx(min(1.0, len(p) * raw.min()))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-15)


def test_interval_text_formats_one_seed_and_signed_differences() -> None:
    """Three decimals, the interval in brackets; one seed has no interval; differences carry their sign."""
    assert interval_text(0.81234, 0.8, 0.825, 3) == "0.812 [0.800, 0.825]"
    assert interval_text(0.5, float("nan"), float("nan"), 1) == "0.500 (1 seed)"
    assert interval_text(0.044, 0.038, 0.051, 5, signed=True) == "+0.044 [+0.038, +0.051]"
    assert interval_text(-0.004, -0.05, 0.04, 2, signed=True) == "-0.004 [-0.050, +0.040]"
