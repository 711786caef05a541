"""Validation, moments and sampling of the linear model."""

import math

import numpy as np
import pytest

from linear_theory import FeatureBlock, LinearModel


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dim": 0, "strength": 1.0}, "dim"),
        ({"dim": 2.5, "strength": 1.0}, "dim"),
        ({"dim": 2, "strength": 0.0}, "strength"),
        ({"dim": 2, "strength": -1.0}, "strength"),
        ({"dim": 2, "strength": math.nan}, "strength"),
        ({"dim": 2, "strength": 1.0, "dropout": -0.1}, "dropout"),
        ({"dim": 2, "strength": 1.0, "dropout": 1.5}, "dropout"),
        ({"dim": 2, "strength": 1.0, "dropout": math.nan}, "dropout"),
        ({"dim": 2, "strength": 1.0, "aug_noise": -1.0}, "aug_noise"),
        ({"dim": 2, "strength": math.inf}, "strength"),
    ],
)
def test_feature_block_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        FeatureBlock(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rep_dim": 0, "noise": 0.1}, "rep_dim"),
        ({"rep_dim": 2, "noise": -0.1}, "noise"),
        ({"rep_dim": 2, "noise": math.nan}, "noise"),
        ({"rep_dim": 2, "noise": 0.1, "input_dim": 3}, "input_dim"),
    ],
)
def test_linear_model_rejects_bad_values_naming_the_field(kwargs, field):
    blocks = (FeatureBlock(2, 1.0), FeatureBlock(2, 0.5))
    with pytest.raises(ValueError, match=field):
        LinearModel(blocks, **kwargs)


def test_linear_model_needs_blocks():
    with pytest.raises(ValueError, match="blocks"):
        LinearModel((), 1, 0.1)
    with pytest.raises(ValueError, match="blocks"):
        LinearModel(("not a block",), 1, 0.1)


def test_moments_match_monte_carlo():
    """Sigma and C of docs/linear-theory.md agree with sample moments of the views.

    With n = 400,000 samples the standard error of a covariance entry of size v is about
    ``v * sqrt(2 / n)``; we allow 6 standard errors.
    """
    model = LinearModel(
        (FeatureBlock(3, 2.0, dropout=0.3, aug_noise=0.5), FeatureBlock(2, 0.7, dropout=0.1, aug_noise=1.0)),
        rep_dim=3, noise=0.3, input_dim=7,
    )
    views = model.sample_views(400_000, np.random.default_rng(1))
    sigma, c = model.moments()
    n = views.view1.shape[0]
    emp_sigma = views.view1.T @ views.view1 / n
    emp_c = views.view1.T @ views.view2 / n
    scale = np.sqrt(np.outer(np.diag(sigma), np.diag(sigma)))
    assert np.all(np.abs(emp_sigma - sigma) < 6 * scale * np.sqrt(2 / n))
    assert np.all(np.abs(emp_c - c) < 6 * scale * np.sqrt(2 / n))
    emp_clean = views.clean.T @ views.clean / n
    assert np.all(np.abs(emp_clean - model.clean_covariance()) < 6 * scale * np.sqrt(2 / n) + 1e-2)
    keep_rate = views.masks.mean(axis=(0, 1))
    np.testing.assert_allclose(keep_rate, [0.7, 0.9], atol=3e-3)


def test_sampling_is_reproducible_and_needs_a_generator():
    model = LinearModel((FeatureBlock(2, 1.0, dropout=0.5),), 1, 0.1)
    a = model.sample_views(50, np.random.default_rng(7))
    b = model.sample_views(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a.view1, b.view1)
    c = model.sample_views(50, np.random.default_rng(8))
    assert not np.allclose(a.view1, c.view1)
    with pytest.raises(TypeError):
        model.sample_views(5, 0)


def test_dropped_block_is_zero_in_that_view():
    """A dropped block carries no signal at all: only the isotropic noise remains."""
    model = LinearModel((FeatureBlock(2, 5.0, dropout=0.5), FeatureBlock(1, 1.0)), 2, 0.0)
    v = model.sample_views(200, np.random.default_rng(0))
    dropped = ~v.masks[0, :, 0]
    assert dropped.any() and (~dropped).any()
    assert np.all(v.view1[dropped, :2] == 0)
    assert np.all(v.view1[~dropped, :2] != 0)


def test_with_block_replaces_one_field():
    model = LinearModel((FeatureBlock(2, 1.0), FeatureBlock(1, 2.0)), 2, 0.1)
    changed = model.with_block(1, dropout=0.4)
    assert changed.blocks[1].dropout == 0.4 and changed.blocks[0] == model.blocks[0]
    with pytest.raises(ValueError):
        model.with_block(0, color=1.0)
