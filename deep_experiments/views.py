"""The three ways of making views: expert augmentations, feature dropout, a viewmaker.

All take a batch of overlaid images plus (for dropout) the same images without the overlay, and
return encoder-ready (normalized) views. Randomness comes only from the generator passed in.
"""

from __future__ import annotations

from typing import Protocol

import torch

from deep_experiments.augment import ExpertAugment, Normalize
from deep_experiments.viewmaker import Viewmaker

__all__ = ["Views", "ExpertViews", "DropoutViews", "ViewmakerViews", "overlay_keep_mask"]


class Views(Protocol):
    """Anything that turns a batch into one random, normalized view per image."""

    needs_base: bool

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``image`` and ``base`` ``(B, C, H, W)`` -> ``(B, C, size, size)``."""
        ...


class ExpertViews:
    """SimCLR views of the overlaid image (the overlay is shared by both views)."""

    needs_base = False

    def __init__(self, augment: ExpertAugment) -> None:
        self.augment = augment

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)``; ``base`` is ignored."""
        return self.augment(image, generator)


def overlay_keep_mask(n: int, p: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """True where a view keeps the overlay: each of ``n`` views drops it with probability ``p``.

    Shape: ``(n,)`` bool.
    """
    return torch.rand(n, generator=generator, device=device) >= p


class DropoutViews:
    """Feature-dropout views: each view independently starts from ``base`` with probability ``p``.

    The source is chosen before augmentation, so a dropped view is an expert view of the image
    without its overlay (the oracle version of what a viewmaker can learn to do).
    """

    needs_base = True

    def __init__(self, augment: ExpertAugment, p: float) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.augment = augment
        self.p = p

    def source(self, image: torch.Tensor, base: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The pre-augmentation source of each view. Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        if base is None or base.shape != image.shape:
            raise ValueError("feature-dropout views need `base` images of the same shape as `image`")
        keep = overlay_keep_mask(image.shape[0], self.p, generator, image.device)
        return torch.where(keep.view(-1, 1, 1, 1), image, base)

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)``."""
        if base is None:
            raise ValueError("feature-dropout views need `base` images")
        return self.augment(self.source(image, base, generator), generator)


class ViewmakerViews:
    """Viewmaker views ``normalize(x + delta)``; gradients flow into the viewmaker."""

    needs_base = False

    def __init__(self, viewmaker: Viewmaker, normalize: Normalize) -> None:
        self.viewmaker = viewmaker
        self.normalize = normalize

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``; ``base`` is ignored."""
        return self.normalize(self.viewmaker(image, generator))
