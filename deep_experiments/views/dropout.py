"""Feature-dropout views: expert views whose overlay is removed from each view with probability ``p``.

The oracle version of what a viewmaker can learn to do: the source of each view is chosen before
augmentation, so a dropped view is an expert view of the image without its overlay.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment

from .base import FixedViews, ViewContext, ViewKind
from .expert import both_views, expert_augment

__all__ = ["DropoutConfig", "DropoutViews", "overlay_keep_mask", "DROPOUT"]


@dataclass(frozen=True)
class DropoutConfig:
    """``p``: the probability that a view loses the overlay (each view independently)."""

    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ValueError(f"views.dropout.p must be in [0, 1], got {self.p}")


def overlay_keep_mask(n: int, p: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """True where a view keeps the overlay: each of ``n`` views drops it with probability ``p``.

    Shape: ``(n,)`` bool.
    """
    return torch.rand(n, generator=generator, device=device) >= p


class DropoutViews(FixedViews):
    """Each view independently starts from ``base`` (the overlay-free image) with probability ``p``."""

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

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator,
                 out: torch.Tensor | None = None) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)`` (into ``out`` when given)."""
        if base is None:
            raise ValueError("feature-dropout views need `base` images")
        source = self.source(image, base, generator)
        return self.augment(source, generator) if out is None else self.augment(source, generator, out)

    def both(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Two views of every image as one batch, view 1's rows first (see :meth:`ExpertViews.both`)."""
        return both_views(self, self.augment, image, base, generator)  # type: ignore[arg-type]


def _build(config: DropoutConfig, ctx: ViewContext) -> DropoutViews:
    return DropoutViews(expert_augment(ctx), config.p)


DROPOUT = ViewKind("dropout", DropoutConfig, _build, "feature dropout (expert views, overlay dropped w.p. p)")
