"""``featuredrop.losses.nt_xent`` against slow, literal references of each variant's formula.

Symmetric: SimCLR (Chen et al. 2020) eq. (1), averaged over all 2n anchors. Viewmaker: the
one-sided form of alextamkin/viewmaker ``src/objectives/simclr.py``. Cross-view: InfoNCE as an
n-way classification of the partner view.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from featuredrop.losses import (
    DEFAULT_WEIGHT,
    VARIANTS,
    cross_view_infonce,
    generalized_contrastive,
    nt_xent,
    prior_samples,
    random_projections,
    sliced_wasserstein,
)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference_symmetric(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Loop-by-loop SimCLR eq. (1): l(i, j) = -log exp(s_ij/t) / sum_{k != i} exp(s_ik/t), mean over 2n."""
    z = list(z1) + list(z2)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = i + n if i < n else i - n
        numerator = math.exp(_cos(z[i], z[j]) / tau)
        denominator = sum(math.exp(_cos(z[i], z[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


def reference_viewmaker(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Loop-by-loop one-sided loss: view-1 anchors, denominator over all 2n (self included), minus log 2n."""
    z = list(z1) + list(z2)
    n = len(z1)
    total = 0.0
    for i in range(n):
        positive = _cos(z1[i], z2[i]) / tau
        partition = math.log(sum(math.exp(_cos(z1[i], z[k]) / tau) for k in range(2 * n))) - math.log(2 * n)
        total += -(positive - partition)
    return total / n


def reference_cross_view(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Loop-by-loop InfoNCE: -log exp(s(z1_i, z2_i)/t) / sum_j exp(s(z1_i, z2_j)/t), mean over i."""
    n = len(z1)
    total = 0.0
    for i in range(n):
        numerator = math.exp(_cos(z1[i], z2[i]) / tau)
        denominator = sum(math.exp(_cos(z1[i], z2[j]) / tau) for j in range(n))
        total += -math.log(numerator / denominator)
    return total / n


def reference_cross_view_both(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """The colab's loss: the loop-by-loop InfoNCE of view 1 against view 2 plus that of view 2 against view 1."""
    return reference_cross_view(z1, z2, tau) + reference_cross_view(z2, z1, tau)


REFERENCES = {"symmetric": reference_symmetric, "viewmaker": reference_viewmaker, "cross_view": reference_cross_view,
              "cross_view_both": reference_cross_view_both}


def _loss(z1: np.ndarray, z2: np.ndarray, tau: float, variant: str) -> float:
    return float(nt_xent(torch.from_numpy(z1), torch.from_numpy(z2), tau, variant))  # type: ignore[arg-type]


GRID = [
    (variant, n, k, tau)
    for variant in VARIANTS
    for n in (1, 2, 3, 7)
    for k in (1, 2, 5)
    for tau in (0.07, 0.5, 2.0)
    if n > 1 or variant == "viewmaker"  # the others need a negative
]


@pytest.mark.parametrize(("variant", "n", "k", "tau"), GRID)
def test_matches_literal_reference(variant: str, n: int, k: int, tau: float) -> None:
    rng = np.random.default_rng(1000 * n + 10 * k + int(100 * tau))
    z1, z2 = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    assert _loss(z1, z2, tau, variant) == pytest.approx(REFERENCES[variant](z1, z2, tau), rel=1e-10, abs=1e-10)


@given(
    arrays(np.float64, (4, 3), elements=st.floats(-5, 5)).filter(lambda a: np.all(np.linalg.norm(a, axis=1) > 0.1)),
    arrays(np.float64, (4, 3), elements=st.floats(-5, 5)).filter(lambda a: np.all(np.linalg.norm(a, axis=1) > 0.1)),
    st.sampled_from(VARIANTS),
    st.floats(0.05, 3.0),
)
def test_matches_reference_on_generated_embeddings(z1: np.ndarray, z2: np.ndarray, variant: str, tau: float) -> None:
    assert _loss(z1, z2, tau, variant) == pytest.approx(REFERENCES[variant](z1, z2, tau), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("n", [2, 3, 10])
def test_identical_embeddings_closed_forms(n: int) -> None:
    """All 2n embeddings equal: every logit is 1/t, so the loss is log of the number of candidates."""
    z = np.ones((n, 4))
    assert _loss(z, z, 0.3, "symmetric") == pytest.approx(math.log(2 * n - 1), rel=1e-12)
    assert _loss(z, z, 0.3, "cross_view") == pytest.approx(math.log(n), rel=1e-12)
    assert _loss(z, z, 0.3, "cross_view_both") == pytest.approx(2 * math.log(n), rel=1e-12)
    assert _loss(z, z, 0.3, "viewmaker") == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_orthogonal_pairs_closed_form(n: int, tau: float) -> None:
    """Pair i = the unit vector e_i in both views: positive logit 1/t, 2n - 2 negatives with logit 0."""
    z = np.eye(n)
    expected = -1 / tau + math.log(math.exp(1 / tau) + 2 * n - 2)
    assert _loss(z, z, tau, "symmetric") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_invariant_to_embedding_scale_and_pair_order(variant: str) -> None:
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    perm = rng.permutation(5)
    base = _loss(z1, z2, 0.5, variant)
    assert _loss(3.0 * z1, 0.2 * z2, 0.5, variant) == pytest.approx(base, rel=1e-12)
    assert _loss(z1[perm], z2[perm], 0.5, variant) == pytest.approx(base, rel=1e-12)


def test_symmetric_variant_is_symmetric_in_views() -> None:
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    assert _loss(z1, z2, 0.2, "symmetric") == pytest.approx(_loss(z2, z1, 0.2, "symmetric"), rel=1e-12)
    assert _loss(z1, z2, 0.2, "viewmaker") != pytest.approx(_loss(z2, z1, 0.2, "viewmaker"), rel=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_flow_and_descent_lowers_the_loss(variant: str) -> None:
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(8, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(8, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = nt_xent(z1, z2, 0.5, variant)  # type: ignore[arg-type]
    loss.backward()
    for grad in (z1.grad, z2.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    with torch.no_grad():
        later = nt_xent(z1 - 0.1 * z1.grad, z2 - 0.1 * z2.grad, 0.5, variant)  # type: ignore[arg-type]
    assert later < loss


def test_float32_matches_float64() -> None:
    rng = np.random.default_rng(2)
    z1, z2 = rng.normal(size=(16, 8)), rng.normal(size=(16, 8))
    low = float(nt_xent(torch.from_numpy(z1).float(), torch.from_numpy(z2).float(), 0.07))
    assert low == pytest.approx(_loss(z1, z2, 0.07, "symmetric"), rel=1e-5)


@pytest.mark.parametrize(
    ("z1", "z2", "tau", "variant", "match"),
    [
        (torch.ones(3, 2), torch.ones(3, 3), 0.5, "symmetric", "shape"),
        (torch.ones(3), torch.ones(3), 0.5, "symmetric", "shape"),
        (torch.ones(3, 2, 1), torch.ones(3, 2, 1), 0.5, "symmetric", "shape"),
        (torch.ones(3, 2), torch.ones(3, 2), 0.0, "symmetric", "temperature"),
        (torch.ones(3, 2), torch.ones(3, 2), -1.0, "symmetric", "temperature"),
        (torch.ones(3, 2), torch.ones(3, 2), float("nan"), "symmetric", "temperature"),
        (torch.ones(3, 2), torch.ones(3, 2), float("inf"), "symmetric", "temperature"),
        (torch.ones(3, 2), torch.ones(3, 2), 0.5, "simclr", "variant"),
        (torch.ones(1, 2), torch.ones(1, 2), 0.5, "symmetric", "at least 2"),
        (torch.ones(1, 2), torch.ones(1, 2), 0.5, "cross_view", "at least 2"),
    ],
)
def test_bad_inputs_raise(z1: torch.Tensor, z2: torch.Tensor, tau: float, variant: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nt_xent(z1, z2, tau, variant)  # type: ignore[arg-type]


# -- the batched cross-view InfoNCE (fused backward) -----------------------------------------------
def test_batched_cross_view_matches_per_batch_loss_and_autograd() -> None:
    """Along leading axes, cross_view_infonce is nt_xent("cross_view") of each batch; its hand-written
    gradient equals autograd's of the reference expression (gradcheck in float64)."""
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(2, 3, 6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(2, 3, 6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    batched = cross_view_infonce(z1, z2, 0.3)
    per = torch.stack([torch.stack([nt_xent(z1[i, j], z2[i, j], 0.3, "cross_view") for j in range(3)]) for i in range(2)])
    torch.testing.assert_close(batched, per)
    assert torch.autograd.gradcheck(lambda a, b: cross_view_infonce(a, b, 0.3), (z1[0], z2[0]))


# -- the generalized contrastive loss (Chen, Luo & Li 2021) ----------------------------------------
def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a)


def reference_generalized(z1: np.ndarray, z2: np.ndarray, family: str, tau: float, lam: float,
                          prior: np.ndarray | None = None, rot: np.ndarray | None = None) -> float:
    """Loop-by-loop colab formula: mean over n*d entries of (h1 - h2)^2 / 2 + lambda * L_dist, with
    L_dist = mean_i log(sum_j exp(h_i.h_j / t)) - log d over the 2n stacked rows (j = i included), or
    the mean over projections p and ranks r of (r-th smallest of (P R)_{.p} - r-th smallest of (H R)_{.p})^2."""
    n, d = z1.shape
    h = [_unit(v) for v in z1] + [_unit(v) for v in z2]
    align = sum((h[i][c] - h[n + i][c]) ** 2 for i in range(n) for c in range(d)) / (n * d) / 2
    if family == "decoupled":
        dist = sum(math.log(sum(math.exp(float(h[i] @ h[j]) / tau) for j in range(2 * n))) - math.log(d)
                   for i in range(2 * n)) / (2 * n)
    else:
        total, count = 0.0, 0
        for p in range(rot.shape[1]):
            ours = sorted(float(h[i] @ rot[:, p]) for i in range(2 * n))
            ref = sorted(float(prior[i] @ rot[:, p]) for i in range(2 * n))
            for a, b in zip(ours, ref):
                total += (a - b) ** 2
                count += 1
        dist = total / count
    return align + lam * dist


@pytest.mark.parametrize("family", ["decoupled", "swd"])
@pytest.mark.parametrize(("n", "d", "projections"), [(1, 2, None), (3, 3, None), (5, 4, 2), (4, 3, 7)])
def test_generalized_matches_literal_reference(family: str, n: int, d: int, projections: int | None) -> None:
    rng = np.random.default_rng(10 * n + d)
    z1, z2 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    got = generalized_contrastive(torch.from_numpy(z1), torch.from_numpy(z2), family, temperature=0.7,
                                  generator=torch.Generator().manual_seed(3), projections=projections)
    g = torch.Generator().manual_seed(3)  # the same draws, in the documented order: projections, then prior
    rot = random_projections(d, projections or d, g, dtype=torch.float64).numpy()
    prior = prior_samples((2 * n, d), g, dtype=torch.float64).numpy()
    want = reference_generalized(z1, z2, family, 0.7, DEFAULT_WEIGHT[family], prior, rot)
    assert float(got) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_generalized_degenerate_cases() -> None:
    """Identical views, all rows equal: L_align = 0 and L_dist = log(2n e^{1/t}) - log d = 1/t + log(2n/d).
    A batch that is its own prior (same rows, any projections): SWD = 0, so the loss is L_align alone."""
    n, d, tau = 4, 3, 0.5
    z = torch.ones(n, d, dtype=torch.float64)
    assert float(generalized_contrastive(z, z, "decoupled", temperature=tau, weight=1.0)) == pytest.approx(
        1 / tau + math.log(2 * n / d), rel=1e-12)
    h = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rot = random_projections(3, 5, torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(sliced_wasserstein(h, h.flip(0), rot)) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(("dim", "projections"), [(4, 4), (5, 2), (2, 5)])
def test_random_projections_are_orthonormal_and_reproducible(dim: int, projections: int) -> None:
    """Orthonormal columns when projections <= dim, orthonormal rows otherwise; same generator seed, same matrix."""
    r = random_projections(dim, projections, torch.Generator().manual_seed(7), dtype=torch.float64)
    gram = r.T @ r if projections <= dim else r @ r.T
    torch.testing.assert_close(gram, torch.eye(min(dim, projections), dtype=torch.float64))
    torch.testing.assert_close(r, random_projections(dim, projections, torch.Generator().manual_seed(7),
                                                     dtype=torch.float64))


def test_generalized_bad_inputs_raise() -> None:
    z = torch.randn(3, 2)
    with pytest.raises(ValueError, match="unknown generalized"):
        generalized_contrastive(z, z, "nt_xent")
    with pytest.raises(TypeError, match="Generator"):
        generalized_contrastive(z, z, "swd")
    with pytest.raises(ValueError, match="prior"):
        prior_samples((2, 2), torch.Generator(), prior="cauchy")
