"""The one NT-Xent / InfoNCE loss of the package, used by the linear and the deep arm.

Four variants, all on L2-normalized embeddings with cosine similarity divided by a
temperature ``tau``. For a batch of ``n`` positive pairs ``(z1[i], z2[i])``:

``"symmetric"`` (default; SimCLR, Chen et al. 2020, eq. 1): the ``2n`` embeddings are pooled;
    every embedding is an anchor, its positive is its partner view and its negatives are the
    other ``2n - 2`` embeddings (self-similarity excluded). The loss is the mean over the ``2n``
    anchors of ``-log softmax`` of the positive.

``"viewmaker"`` (the original Viewmaker code, alextamkin/viewmaker ``src/objectives/simclr.py``):
    only view-1 embeddings are anchors; the denominator runs over all ``2n`` embeddings
    *including the anchor itself*, and ``log(2n)`` is subtracted. Kept for reproducing the
    original runs.

``"cross_view"`` (InfoNCE as used by the linear theory, docs/linear-theory.md): cross-entropy of each
    view-1 embedding against the ``n`` view-2 embeddings (an ``n``-way classification whose
    correct class is the partner view).

``"cross_view_both"`` (the RandBits-MNIST colab of Chen et al. 2021, google-research/simclr
    ``colabs/intriguing_properties``): ``"cross_view"`` in both directions, **summed** (view 1
    against the view-2 embeddings plus view 2 against the view-1 embeddings).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

Variant = Literal["symmetric", "viewmaker", "cross_view", "cross_view_both"]
VARIANTS: tuple[str, ...] = ("symmetric", "viewmaker", "cross_view", "cross_view_both")

__all__ = ["nt_xent", "cross_view_infonce", "VARIANTS", "Variant", "LOSSES", "GENERALIZED", "DEFAULT_WEIGHT",
           "alignment", "logsumexp_uniformity", "random_projections", "prior_samples", "sliced_wasserstein",
           "generalized_contrastive"]

LOSSES: tuple[str, ...] = ("nt_xent", "decoupled", "swd")
"""The loss families: NT-Xent/InfoNCE and the two generalized losses (``--loss``)."""
GENERALIZED: tuple[str, ...] = ("decoupled", "swd")
DEFAULT_WEIGHT: dict[str, float] = {"decoupled": 0.1, "swd": 5.0}
"""The weight ``lambda`` of the matching term (docs/related-work.md, the DD2412 re-implementation's
recipe: decoupled NT-Xent ``lambda = 0.1`` at ``tau = 1``; SWD losses ``lambda = 5``)."""


class _CrossViewInfoNCE(torch.autograd.Function):
    """``mean_i [logsumexp_j(a_i . b_j / tau) - a_i . b_i / tau]`` over leading batch axes, fused backward.

    The gradient is written out (``G = softmax - I``; ``dL/da = G b / (n tau)``,
    ``dL/db = G^T a / (n tau)``) so that only one ``n x n`` matrix per setting is kept: the
    linear simulator trains thousands of settings at once and is bound by this memory.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:  # type: ignore[override]
        logits = torch.matmul(a, b.transpose(-1, -2)).mul_(1.0 / tau)
        positive = torch.diagonal(logits, dim1=-2, dim2=-1).clone()
        top = logits.amax(-1, keepdim=True)
        total = logits.sub_(top).exp_().sum(-1, keepdim=True)
        loss = (total.log().add_(top).squeeze(-1) - positive).mean(-1)
        ctx.save_for_backward(a, b, logits.div_(total))  # the softmax
        ctx.tau = tau
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:  # type: ignore[override]
        a, b, g = ctx.saved_tensors
        g = g.clone()
        torch.diagonal(g, dim1=-2, dim2=-1).sub_(1.0)
        scale = (grad / (a.shape[-2] * ctx.tau))[..., None, None]
        return torch.matmul(g, b) * scale, torch.matmul(g.transpose(-1, -2), a) * scale, None


def cross_view_infonce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The ``"cross_view"`` InfoNCE of every batch along leading axes (no input checks; see :func:`nt_xent`).

    ``z1``, ``z2``: ``(..., n, k)``. Returns shape ``(...)``: the mean over ``i`` of
    ``-log softmax_j(cos(z1_i, z2_j) / tau)[i]``.
    """
    return _CrossViewInfoNCE.apply(F.normalize(z1, dim=-1), F.normalize(z2, dim=-1), temperature)


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float,
    variant: Variant = "symmetric",
) -> torch.Tensor:
    """NT-Xent / InfoNCE loss of a batch of positive pairs (see the module docstring).

    Args:
        z1: embeddings of view 1. Shape: ``(n, k)``.
        z2: embeddings of view 2, ``z2[i]`` is the positive of ``z1[i]``. Shape: ``(n, k)``.
        temperature: softmax temperature ``tau > 0``.
        variant: ``"symmetric"``, ``"viewmaker"``, ``"cross_view"`` or ``"cross_view_both"``.

    Returns:
        The scalar mean loss (a 0-d tensor, differentiable in ``z1`` and ``z2``).

    Raises:
        ValueError: on mismatched or non-2-D shapes, fewer than 2 pairs (``"symmetric"`` and
            the cross-view variants need a negative), a non-positive or non-finite temperature, or an
            unknown variant.
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must both have shape (n, k); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if not (math.isfinite(temperature) and temperature > 1e-8):
        raise ValueError(f"temperature must be a finite number > 1e-8, got {temperature!r}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown NT-Xent variant {variant!r}; choose one of {list(VARIANTS)}")
    n = z1.shape[0]
    if n < 2 and variant != "viewmaker":
        raise ValueError(f"the {variant!r} NT-Xent needs at least 2 pairs, got {n}")
    if variant in ("cross_view", "cross_view_both"):
        loss = cross_view_infonce(z1, z2, temperature)
        return loss if variant == "cross_view" else loss + cross_view_infonce(z2, z1, temperature)
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    z = torch.cat([z1, z2], dim=0)
    if variant == "viewmaker":
        positive = (z1 * z2).sum(dim=1) / temperature
        log_norm = torch.logsumexp(z1 @ z.T / temperature, dim=1) - math.log(2 * n)
        return -(positive - log_norm).mean()
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


# -- the generalized contrastive loss (Chen, Luo & Li 2021) ------------------------------------------
def alignment(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """``L_align = mean((h1 - h2)^2) / 2``, the mean over all ``n x d`` entries (the colab's ``reduce_mean``).

    ``h1``, ``h2``: ``(..., n, d)``; returns shape ``(...)``.
    """
    return (h1 - h2).square().mean((-2, -1)) / 2


def logsumexp_uniformity(h: torch.Tensor, temperature: float) -> torch.Tensor:
    """``mean_i [logsumexp_j (h_i . h_j / tau) - log d]`` over all rows of ``h``, ``j = i`` included (colab).

    For unit rows ``exp(h_i . h_j / tau) = e^{1/tau} exp(-||h_i - h_j||^2 / (2 tau))``: the log of a
    Gaussian-potential energy (Wang & Isola's uniformity) up to a constant. ``h``: ``(..., m, d)``
    (the stacked views); returns shape ``(...)``.
    """
    logits = torch.matmul(h, h.transpose(-1, -2)) / temperature
    return (torch.logsumexp(logits, -1) - math.log(h.shape[-1])).mean(-1)


def random_projections(dim: int, projections: int, generator: torch.Generator, *,
                       dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """A random ``dim x projections`` matrix with orthonormal columns (rows if ``projections > dim``).

    The Keras ``Orthogonal`` initializer of the colab: QR of a Gaussian matrix, signs fixed by
    ``diag(R)`` (Haar-distributed). ``projections = dim`` gives the colab's random rotation.
    """
    tall = max(dim, projections), min(dim, projections)
    q, r = torch.linalg.qr(torch.randn(tall, generator=generator, dtype=torch.float64, device=generator.device).cpu())
    q = q * torch.sign(torch.diagonal(r))
    return (q if dim >= projections else q.T).to(dtype=dtype, device=device)


def prior_samples(shape: tuple[int, ...], generator: torch.Generator, *, prior: str = "normal",
                  normalize: bool = True, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Samples of the SWD prior: ``N(0, 1)`` (``"normal"``) or ``U(-1, 1)`` (``"uniform"``) entries.

    ``normalize``: L2-normalize each row (the colab does so when the embeddings are normalized;
    ``"normal"`` then gives the uniform distribution on the sphere).
    """
    if prior == "normal":
        x = torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)
    elif prior == "uniform":
        x = 2 * torch.rand(shape, generator=generator, dtype=dtype, device=generator.device) - 1
    else:
        raise ValueError(f"unknown SWD prior {prior!r}; choose 'normal' or 'uniform'")
    return (F.normalize(x, dim=-1) if normalize else x).to(device)


def sliced_wasserstein(h: torch.Tensor, prior: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """Sliced-Wasserstein distance ``mean((sort(prior R) - sort(h R))^2)`` (colab ``get_swd_loss``).

    Each projected coordinate (a column of ``h R``) is sorted over the batch and matched with the
    sorted projected prior samples; the mean runs over batch and projections. ``h``, ``prior``:
    ``(..., m, d)`` (broadcastable); ``projections`` ``R``: ``(d, P)``; returns shape ``(...)``.
    """
    ours = torch.sort(h @ projections, dim=-2).values
    ref = torch.sort(prior @ projections, dim=-2).values
    return (ref - ours).square().mean((-2, -1))


def generalized_contrastive(z1: torch.Tensor, z2: torch.Tensor, family: str, *, temperature: float = 1.0,
                            weight: float | None = None, normalize: bool = True,
                            generator: torch.Generator | None = None, projections: int | None = None,
                            prior: str = "normal") -> torch.Tensor:
    """``L_align + lambda L_dist`` of Chen, Luo & Li 2021 (colab ``generalized_contrastive_loss``).

    With ``h = normalize(z)`` (``normalize=True``, the colab's ``hidden_norm``) and ``H = [h1; h2]``:
    ``"decoupled"``: ``L_dist = logsumexp_uniformity(H, tau)``; ``"swd"``: ``L_dist =
    sliced_wasserstein(H, P, R)`` with ``P`` = :func:`prior_samples` (shape of ``H``) and ``R`` =
    :func:`random_projections` (``projections`` columns, default ``d``), both drawn from
    ``generator`` (one draw per call, shared along leading axes). ``weight``: ``lambda``
    (default :data:`DEFAULT_WEIGHT`). ``z1``, ``z2``: ``(..., n, d)``; returns shape ``(...)``.
    Recipes (colab docstring): decoupled NT-Xent = ``"decoupled"``, ``normalize=True``,
    ``tau = 1``; SWD to the uniform hypersphere = ``"swd"``, ``prior="normal"``, ``normalize=True``.
    """
    if family not in GENERALIZED:
        raise ValueError(f"unknown generalized loss {family!r}; choose one of {list(GENERALIZED)}")
    if z1.ndim < 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must share a shape (..., n, d); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    weight = DEFAULT_WEIGHT[family] if weight is None else weight
    h1, h2 = (F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)) if normalize else (z1, z2)
    h = torch.cat([h1, h2], dim=-2)
    if family == "decoupled":
        if not (math.isfinite(temperature) and temperature > 1e-8):
            raise ValueError(f"temperature must be a finite number > 1e-8, got {temperature!r}")
        return alignment(h1, h2) + weight * logsumexp_uniformity(h, temperature)
    if not isinstance(generator, torch.Generator):
        raise TypeError("the SWD loss draws its projections and prior samples from an explicit torch.Generator")
    d = h.shape[-1]
    kw = {"dtype": h.dtype, "device": h.device}
    rot = random_projections(d, d if projections is None else projections, generator, **kw)
    ref = prior_samples(tuple(h.shape[-2:]), generator, prior=prior, normalize=normalize, **kw)
    return alignment(h1, h2) + weight * sliced_wasserstein(h, ref, rot)
