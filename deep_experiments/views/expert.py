"""Expert views: SimCLR augmentations of the overlaid image (the overlay is shared by both views)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment

from .base import FixedViews, ViewContext, ViewKind

__all__ = ["ExpertConfig", "ExpertViews", "expert_augment", "both_views", "EXPERT"]


@dataclass(frozen=True)
class ExpertConfig:
    """Expert views have no settings of their own (the dataset's spec picks the policy)."""


def expert_augment(ctx: ViewContext) -> ExpertAugment:
    """The dataset's expert augmentation (policy, size and shared channels from its spec; the run's normalization)."""
    spec = ctx.spec
    return ExpertAugment(spec.channels, spec.image_size, spec.expert_augmentation,  # type: ignore[arg-type]
                         spec.shared_channels, normalizer=ctx.normalize)


class ExpertViews(FixedViews):
    """SimCLR views of the overlaid image."""

    def __init__(self, augment: ExpertAugment) -> None:
        self.augment = augment

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator,
                 out: torch.Tensor | None = None) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)`` (into ``out`` when given); ``base`` is ignored."""
        return self.augment(image, generator) if out is None else self.augment(image, generator, out)

    def both(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Two views of every image as one batch, view 1's rows first: two calls' draws and views, written in
        place (no concatenation). Shape: ``(B, C, H, W)`` -> ``(2B, C, size, size)``."""
        return both_views(self, self.augment, image, base, generator)


def both_views(views: ExpertViews, augment: ExpertAugment, image: torch.Tensor, base: torch.Tensor | None,
          generator: torch.Generator) -> torch.Tensor:
    """``torch.cat([views(image, base, g), views(image, base, g)])``, each call writing its half."""
    out = augment.views_like(image, 2)
    n = image.shape[0]
    views(image, base, generator, out=out[:n])
    views(image, base, generator, out=out[n:])
    return out


def _build(config: ExpertConfig, ctx: ViewContext) -> ExpertViews:
    return ExpertViews(expert_augment(ctx))


EXPERT = ViewKind("expert", ExpertConfig, _build, "expert views (SimCLR augmentations)")
