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

``"cross_view"`` (InfoNCE as used by the linear theory, shared/theory.md): cross-entropy of each
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

__all__ = ["nt_xent", "VARIANTS", "Variant"]


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
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    if variant in ("cross_view", "cross_view_both"):
        logits = z1 @ z2.T / temperature
        targets = torch.arange(n, device=z1.device)
        loss = F.cross_entropy(logits, targets)
        return loss if variant == "cross_view" else loss + F.cross_entropy(logits.T, targets)
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
