"""The two-block setting: its built models, its vectorized closed form and its critical dropout agree."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from featuredrop.config import from_dict
from linear_theory import TwoBlock, critical_dropout, spectral_optimum
from linear_theory.sweep import SweepConfig, closed_form_sweep

SETTING = TwoBlock()


@given(st.floats(0.0, 0.95), st.integers(1, 8), st.floats(0.2, 5.0), st.floats(0.2, 5.0))
def test_closed_form_equals_the_optimum_of_the_built_model(p, k, s1, s2):
    setting = TwoBlock(strong_strength=s1, weak_strength=s2, input_dim=12)
    model = setting.model(p, k)
    assert (model.rep_dim, model.d, model.blocks[0].dropout, model.blocks[1].dropout) == (k, 12, p, 0.0)
    opt, pred = spectral_optimum(model), setting.predict(p, k)
    for mine, theirs in (("eigenvalue", "eigenvalues"), ("captured_dims", "captured_dims"), ("probe_r2", "probe_r2"),
                         ("probe_accuracy", "probe_accuracy")):
        np.testing.assert_allclose(getattr(pred, mine), getattr(opt, theirs), rtol=1e-12, atol=1e-15)


def test_grid_equals_the_per_point_values():
    ratios, ps = np.array([0.1, 1 / 3, 0.9]), np.linspace(0.0, 0.9, 7)
    grid = SETTING.ratio_grid(ratios, ps, 4)
    assert grid["probe_r2"].shape == (3, 7, 2) and grid["p_star"].shape == (3, 7)
    for i, r in enumerate(ratios):
        point = TwoBlock(weak_strength=3.0 * r)
        p_star = critical_dropout(point.model(0.0, 4), strong=0, weak=1)
        for j, p in enumerate(ps):
            np.testing.assert_array_equal(grid["probe_r2"][i, j], point.predict(p, 4).probe_r2)
            assert grid["p_star"][i, j] == pytest.approx(p_star, rel=1e-12)
    # the suppression/rescue switch at p*: task 2 gets nothing below, everything (up to its SNR) above
    at_third = grid["probe_r2"][1]
    assert np.all(at_third[ps < grid["p_star"][1, 0], 1] == 0.0)
    assert np.all(at_third[ps > grid["p_star"][1, 0], 1] > 0.99)


def test_sweep_is_the_setting_grid():
    config = SweepConfig(ratio=(0.1, 1.0, 4), dropout=(0.0, 0.5, 3), rep_dim=6)
    res = closed_form_sweep(config)
    expected = config.setting.ratio_grid(np.linspace(0.1, 1.0, 4), np.linspace(0.0, 0.5, 3), 6)
    for key in expected:
        np.testing.assert_array_equal(res[key], expected[key])


def test_strengths_broadcast_and_zero_strength_is_chance():
    acc = SETTING.predict(0.0, 4, strong=SETTING.strong_strength * np.array([0.0, 1.0])).probe_accuracy
    assert acc.shape == (2, 2)
    assert acc[0, 0] == 0.5 and acc[1, 0] > 0.9 and acc[1, 1] == 0.5  # the strong block suppresses the weak one


@pytest.mark.parametrize("change", [{"strong_strength": 0.0}, {"weak_strength": float("nan")}, {"dims": (0, 4)},
                                    {"aug_noise": (0.0, -1.0)}, {"noise": -0.1}, {"input_dim": 7}])
def test_rejects_bad_values(change):
    with pytest.raises(ValueError, match="TwoBlock"):
        TwoBlock(**change)


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown TwoBlock option"):
        from_dict(TwoBlock, {"strength": 3.0})
