"""Expert views: SimCLR augmentations of the overlaid image (the overlay is shared by both views)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment

from .base import FixedViews, ViewContext, ViewKind

__all__ = ["ExpertConfig", "ExpertViews", "expert_augment", "EXPERT"]


@dataclass(frozen=True)
class ExpertConfig:
    """Expert views have no settings of their own (the dataset's spec picks the policy)."""


def expert_augment(ctx: ViewContext) -> ExpertAugment:
    """The dataset's expert augmentation (policy, size and shared channels from its spec)."""
    spec = ctx.spec
    return ExpertAugment(spec.channels, spec.image_size, spec.expert_augmentation,  # type: ignore[arg-type]
                         spec.shared_channels)


class ExpertViews(FixedViews):
    """SimCLR views of the overlaid image."""

    def __init__(self, augment: ExpertAugment) -> None:
        self.augment = augment

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)``; ``base`` is ignored."""
        return self.augment(image, generator)


def _build(config: ExpertConfig, ctx: ViewContext) -> ExpertViews:
    return ExpertViews(expert_augment(ctx))


EXPERT = ViewKind("expert", ExpertConfig, _build, "expert views (SimCLR augmentations)")
