"""The occlusion-aware linear model (linear_theory.occlusion): its moments, its optimum, its limits.

Each test states what it checks; the moments are checked three ways (sympy, Monte Carlo, the
reduction to the two-block model), the optimum against gradient descent on the spectral loss.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linear_theory.occlusion import (
    OcclusionSetting,
    derive_moments,
    moments,
    optimal_encoder,
    optimal_encoders,
    predict,
    probe_r2,
    sample_pairs,
)
from linear_theory.spectral import grad_from_moments, loss_from_moments
from linear_theory.two_block import TwoBlock
from tests.linear.strategies import aug_noises, dims, noises, strengths

overlaps = st.floats(0.0, 1.0, allow_nan=False)
keep_or_drop = st.floats(0.0, 1.0, allow_nan=False)


opacities = st.floats(0.0, 1.0, allow_nan=False)
OPAQUE = st.just(1.0)


@st.composite
def occlusion_settings(draw, overlap=overlaps, opacity=OPAQUE) -> OcclusionSetting:
    return OcclusionSetting(draw(strengths), draw(strengths), (draw(dims), draw(dims)),
                            (draw(aug_noises), draw(aug_noises)), draw(noises), draw(overlap), draw(opacity))


def _eigenvalues(setting: OcclusionSetting, dropout: float, shared: bool = True) -> np.ndarray:
    cross, view = moments(setting, dropout, shared)
    evals, evecs = np.linalg.eigh(view)
    inv_sqrt = evecs @ np.diag(evals**-0.5) @ evecs.T
    return np.sort(np.linalg.eigvalsh(inv_sqrt @ cross @ inv_sqrt))[::-1]


def _no_tie_at_k(lam: np.ndarray, k: int) -> bool:
    """The k-th and (k+1)-th eigenvalues differ (else the top-k subspace is not unique)."""
    if k >= len(lam):
        return True
    return abs(lam[k - 1] - lam[k]) > 1e-6 * max(1.0, abs(lam[0]))


@settings(max_examples=60, deadline=None)
@given(occlusion_settings(overlap=st.just(0.0), opacity=opacities), keep_or_drop, st.integers(1, 12))
def test_without_overlap_the_model_is_the_two_block_model(setting: OcclusionSetting, dropout: float, k: int) -> None:
    """Theorem (reduction). With overlap 0 the base never lies under the mask, ``G b = b`` at any opacity, and the probes
    of the spectral optimum equal the two-block model's with the overlay as block 1 (dropout p on it)
    and the base as block 2: task A on overlaid and on overlay-free inputs, task B on overlaid inputs."""
    assume(_no_tie_at_k(_eigenvalues(setting, dropout), k))
    # at p within 1e-6 of 1 the overlay's eigenvalue (~q^2) is below the rounding threshold under which the
    # two implementations count an eigenvalue as 0 (each its own convention): not a property of the model
    assume(dropout <= 1 - 1e-6)
    two = TwoBlock(setting.overlay_strength, setting.base_strength, setting.dims[::-1], setting.aug_noise[::-1],
                   setting.noise)
    expected = two.predict(dropout, k).probe_r2  # (overlay, base)
    got = predict(setting, dropout, k)
    np.testing.assert_allclose(got.r2_overlaid, expected[::-1], atol=1e-7)
    np.testing.assert_allclose(got.r2_free[0], expected[1], atol=1e-7)
    assert got.r2_free[1] == 0.0


def test_moments_match_the_sympy_derivation() -> None:
    """The numeric ``C`` and ``Sigma`` equal the sympy sum over the four presence cases of a pair (1-D case)."""
    cross_sym, view_sym, sym = derive_moments()
    rng = np.random.default_rng(0)
    for _ in range(20):
        sa, so, ea, eo, sig, w, p, alpha = rng.uniform(0.1, 2.0, 5).tolist() + rng.uniform(0, 1, 3).tolist()
        for shared in (True, False):
            setting = OcclusionSetting(sa, so, (1, 1), (ea, eo), sig, w, alpha)
            values = {sym["s_a"]: sa, sym["s_o"]: so, sym["eta_a"]: ea, sym["eta_o"]: eo, sym["sigma"]: sig,
                      sym["w"]: w, sym["q"]: 1 - p, sym["kappa"]: 1 if shared else 0, sym["alpha"]: alpha}
            cross, view = moments(setting, p, shared)
            np.testing.assert_allclose(cross, np.array(cross_sym.subs(values).evalf(), dtype=float), atol=1e-12)
            np.testing.assert_allclose(view, np.array(view_sym.subs(values).evalf(), dtype=float), atol=1e-12)


def test_the_sympy_cross_moment_is_the_three_share_formula() -> None:
    """Derived, not typed: ``C = q^2 (GBG + kappa O) + q p (GB + BG) + p^2 B`` (1-D case, symbolically)."""
    cross, _, sym = derive_moments()
    sa, so, w, q, kappa, alpha = (sym[k] for k in ("s_a", "s_o", "w", "q", "kappa", "alpha"))
    u = sp.Matrix([sp.sqrt(1 - w), sp.sqrt(w)])
    b, o, keep = sa**2 * u * u.T, so**2 * sp.Matrix([[0, 0], [0, 1]]), sp.diag(1, 1 - alpha)
    formula = q**2 * (keep * b * keep + kappa * o) + q * (1 - q) * (keep * b + b * keep) + (1 - q) ** 2 * b
    assert sp.simplify(cross - formula) == sp.zeros(2, 2)


@pytest.mark.parametrize(("shared", "opacity"), [(True, 1.0), (False, 1.0), (True, 0.6), (False, 0.3)])
def test_moments_match_monte_carlo(shared: bool, opacity: float) -> None:
    """Sampled pairs of views have the closed-form ``C`` and ``Sigma`` (within 5 standard errors)."""
    setting = OcclusionSetting(1.0, 2.0, (2, 3), (0.5, 0.3), 0.3, 0.4, opacity)
    n = 200_000
    x1, x2 = sample_pairs(setting, 0.3, n, np.random.default_rng(1), shared=shared)
    cross, view = moments(setting, 0.3, shared)
    emp_cross = (x1.T @ x2 + x2.T @ x1) / (2 * n)
    emp_view = (x1.T @ x1 + x2.T @ x2) / (2 * n)
    scale = np.sqrt(np.outer(np.diag(view), np.diag(view)) / n)
    assert np.all(np.abs(emp_cross - cross) < 5 * scale) and np.all(np.abs(emp_view - view) < 5 * scale)


def test_gradient_descent_on_the_spectral_loss_reaches_the_closed_form() -> None:
    """From a small random init, gradient descent on the population spectral loss reaches the closed-form
    optimum: the same loss (-sum of the top-k eigenvalues squared) and the same probes."""
    setting = OcclusionSetting(1.0, 2.0, (3, 2), (0.5, 0.0), 0.3, 0.5)
    for dropout, k in ((0.0, 2), (0.5, 3)):  # capacities that cut between distinct eigenvalues
        assert _no_tie_at_k(_eigenvalues(setting, dropout), k)
        cross, view = moments(setting, dropout)
        rng = np.random.default_rng(2)
        w = 0.01 * rng.standard_normal((k, cross.shape[0]))
        for _ in range(20_000):
            w -= 0.01 * grad_from_moments(w, cross, view)
        lam = _eigenvalues(setting, dropout)
        loss = loss_from_moments(w, cross, view)
        assert loss == pytest.approx(-np.sum(np.clip(lam[:k], 0, None) ** 2), rel=1e-6)
        closed = optimal_encoder(cross, view, k)
        for overlaid in (True, False):
            np.testing.assert_allclose(probe_r2(setting, w, overlaid), probe_r2(setting, closed, overlaid), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(occlusion_settings(), st.integers(1, 12))
def test_an_overlay_never_shared_is_never_read_under_expert_views(setting: OcclusionSetting, k: int) -> None:
    """Theorem. With de-shared overlays (each view its own draw), no dropout and an opaque overlay
    (opacity 1), every view has the overlay, so neither the overlay nor the base's masked part has a
    cross-view moment (``C = P B P``):
    the optimum never reads the mask, and task B's probe R^2 on overlaid inputs is 0."""
    assert predict(setting, 0.0, k, shared=False).r2_overlaid[1] == pytest.approx(0.0, abs=1e-9)


def test_counterexample_a_never_shared_overlay_is_read_through_the_base_under_dropout() -> None:
    """The same claim at p > 0 is false once the base overlaps the mask: views without the overlay show
    the base's masked part, the encoder reads the mask for it, and on overlaid inputs that reading
    carries the overlay. Task B becomes decodable without the overlay ever being shared."""
    setting = OcclusionSetting(1.0, 1.0, (1, 1), (0.0, 0.0), 1.0, 1.0)
    assert predict(setting, 0.5, 1, shared=False).r2_overlaid[1] > 0.4
    flat = OcclusionSetting(1.0, 1.0, (1, 1), (0.0, 0.0), 1.0, 0.0)  # no overlap: nothing to read it through
    assert predict(flat, 0.5, 1, shared=False).r2_overlaid[1] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(occlusion_settings(), st.integers(1, 12))
def test_the_control_does_not_depend_on_the_overlay_it_never_saw(setting: OcclusionSetting, k: int) -> None:
    """Theorem. With p = 1 no view carries the overlay: the encoder, and so its probes on overlay-free
    inputs, do not depend on the overlay's strength."""
    other = OcclusionSetting(setting.base_strength, 2 * setting.overlay_strength, setting.dims, setting.aug_noise,
                             setting.noise, setting.overlap)
    np.testing.assert_allclose(predict(setting, 1.0, k).r2_free, predict(other, 1.0, k).r2_free, atol=1e-9)


def test_the_model_can_express_the_deep_facts() -> None:
    """An exhibit, not a theorem: one setting (overlap 0.5, a strong overlay, capacity 4 of 12 dims) shows
    every C+Letters fact that the orthogonal two-block model cannot: (1) suppression on overlaid inputs
    with no gap on overlay-free ones; (2) dropout p 0.5 above the never-overlaid control on overlaid
    inputs; (3) de-shared overlays at or above dropout. With overlap 0 (the two-block model) (1) fails:
    the expert's loss is the same on both kinds of input."""
    setting = OcclusionSetting(1.0, 5.0, (8, 4), (1.0, 0.0), 0.1, 0.5)
    k = 4
    control, expert = predict(setting, 1.0, k), predict(setting, 0.0, k)
    dropout, deshared = predict(setting, 0.5, k), predict(setting, 0.0, k, shared=False)
    a_over = {name: r.accuracy_overlaid[0] for name, r in
              (("control", control), ("expert", expert), ("dropout", dropout), ("deshared", deshared))}
    assert a_over["control"] - a_over["expert"] > 0.1  # suppression beyond occlusion
    assert abs(control.accuracy_free[0] - expert.accuracy_free[0]) < 0.01  # ... and no overlay-free gap
    assert a_over["dropout"] > a_over["control"] + 0.05  # rescue above the control
    assert a_over["deshared"] >= a_over["dropout"] > a_over["expert"]
    flat = OcclusionSetting(1.0, 5.0, (8, 4), (1.0, 0.0), 0.1, 0.0)
    control0, expert0 = predict(flat, 1.0, k), predict(flat, 0.0, k)
    gap_over = control0.accuracy_overlaid[0] - expert0.accuracy_overlaid[0]
    gap_free = control0.accuracy_free[0] - expert0.accuracy_free[0]
    assert gap_over == pytest.approx(gap_free, abs=1e-9)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        OcclusionSetting(overlap=1.5)
    with pytest.raises(ValueError, match="noise"):
        OcclusionSetting(noise=0.0)
    with pytest.raises(ValueError, match="dropout"):
        moments(OcclusionSetting(), 1.2)
    with pytest.raises(ValueError, match="rep_dim"):
        optimal_encoder(*moments(OcclusionSetting(), 0.0), 0)


@settings(max_examples=40, deadline=None)
@given(occlusion_settings(), keep_or_drop, st.lists(st.tuples(st.floats(0.0, 4.0, allow_nan=False), opacities),
                                                   min_size=1, max_size=4),
       st.floats(0.0, 4.0, allow_nan=False), opacities, st.booleans(), st.integers(1, 12))
def test_overlay_strength_arguments_equal_the_setting_with_that_strength(
        setting: OcclusionSetting, dropout: float, train: list[tuple[float, float]], test: float, test_opacity: float,
        shared: bool, k: int) -> None:
    """The batched ``overlay_strength`` / ``opacity`` of ``moments`` / ``probe_r2`` (a calibration scans them)
    equal building a setting per value; an encoder trained at one strength is probed at another as the
    deep control is."""
    strengths_, alphas = (list(v) for v in zip(*train))
    cross, view = moments(setting, np.full(len(train), dropout), shared, strengths_, alphas)
    for i, (s, a) in enumerate(train):
        one = replace(setting, overlay_strength=s, opacity=a)
        c1, v1 = moments(one, dropout, shared)
        np.testing.assert_allclose(cross[i], c1, atol=1e-12)
        np.testing.assert_allclose(view[i], v1, atol=1e-12)
        got = predict(setting, dropout, k, shared, train_strength=s, test_strength=test, train_opacity=a,
                      test_opacity=test_opacity)
        encoder = optimal_encoder(c1, v1, k)
        want = probe_r2(replace(setting, overlay_strength=test, opacity=test_opacity), encoder, True)
        np.testing.assert_allclose(got.r2_overlaid, np.stack(want, axis=-1), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(occlusion_settings(), keep_or_drop, st.lists(st.integers(1, 12), min_size=1, max_size=5))
def test_encoders_of_several_capacities_equal_one_at_a_time(setting: OcclusionSetting, dropout: float,
                                                           ranks: list[int]) -> None:
    """``optimal_encoders`` (one eigendecomposition, every k) gives each capacity's :func:`optimal_encoder`."""
    cross, view = moments(setting, dropout)
    for k, encoder in zip(ranks, optimal_encoders(cross, view, ranks)):
        np.testing.assert_allclose(encoder, optimal_encoder(cross, view, k), atol=1e-12)


def test_bad_overlay_strengths_are_refused() -> None:
    with pytest.raises(ValueError, match="overlay_strength"):
        moments(OcclusionSetting(), 0.5, True, -1.0)
    with pytest.raises(ValueError, match="rep_dim"):
        optimal_encoders(*moments(OcclusionSetting(), 0.5), [])


@settings(max_examples=40, deadline=None)
@given(occlusion_settings(opacity=opacities), keep_or_drop, st.booleans())
def test_a_transparent_overlay_of_strength_zero_is_no_overlay(setting: OcclusionSetting, dropout: float,
                                                             shared: bool) -> None:
    """At opacity 0 and overlay strength 0 (the deep arm's overlay strength 0) every view is the bare base,
    whatever the dropout: the moments equal those of views that always drop the overlay (p = 1)."""
    bare = replace(setting, overlay_strength=0.0, opacity=0.0)
    for got, want in zip(moments(bare, dropout, shared), moments(bare, 1.0, shared)):
        np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(probe_r2(bare, np.eye(bare.geometry().base.shape[0]), True)[0],
                               probe_r2(bare, np.eye(bare.geometry().base.shape[0]), False)[0], atol=1e-9)


def test_bad_opacity_is_refused() -> None:
    with pytest.raises(ValueError, match="opacity"):
        OcclusionSetting(opacity=1.5)
    with pytest.raises(ValueError, match="opacity"):
        moments(OcclusionSetting(), 0.5, True, None, [0.5, -0.1])


@pytest.mark.parametrize(("overlaid", "opacity"), [(True, 1.0), (True, 0.6), (False, 0.6)])
def test_probe_r2_matches_a_least_squares_probe_on_sampled_inputs(overlaid: bool, opacity: float) -> None:
    """The closed-form probe R^2 (averaged over the task direction) equals that of least squares fitted on
    sampled test inputs ``h = W x`` for each latent coordinate, averaged over coordinates (within 0.01)."""
    setting = OcclusionSetting(1.0, 1.5, (3, 2), (0.5, 0.0), 0.3, 0.4, opacity)
    encoder = optimal_encoder(*moments(setting, 0.3), 3)
    rng = np.random.default_rng(4)
    g = setting.geometry()
    n = 200_000
    z_a, z_o = rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    b = setting.base_strength * z_a @ g.base.T
    blend = np.eye(g.keep.shape[0]) - opacity * (np.eye(g.keep.shape[0]) - g.keep)
    x = (b @ blend + setting.overlay_strength * z_o @ g.overlay.T) if overlaid else b
    h = (x + setting.noise * rng.standard_normal(x.shape)) @ encoder.T

    def r2(targets: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(h, targets, rcond=None)
        return float(np.mean(1 - ((targets - h @ coef) ** 2).mean(0) / targets.var(0)))

    closed_a, closed_o = probe_r2(setting, encoder, overlaid)
    assert r2(z_a) == pytest.approx(float(closed_a), abs=0.01)
    assert (r2(z_o) if overlaid else 0.0) == pytest.approx(float(closed_o), abs=0.01)


def test_a_share_of_sharing_interpolates_the_cross_moment() -> None:
    """``shared`` as a share kappa: ``C`` is linear in it, from the de-shared (0) to the shared (1) moment."""
    setting = OcclusionSetting(1.0, 2.0, (2, 2), (0.5, 0.2), 0.2, 0.3, 0.8)
    shared, alone = moments(setting, 0.4, True)[0], moments(setting, 0.4, False)[0]
    np.testing.assert_allclose(moments(setting, 0.4, 1 / 3)[0], alone + (shared - alone) / 3, atol=1e-12)
    with pytest.raises(ValueError, match="share"):
        moments(setting, 0.4, 1.5)
