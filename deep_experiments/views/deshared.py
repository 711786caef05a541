"""De-shared overlay views: both views carry an overlay, but each view draws its own.

The control that separates the two things a shared overlay does to the base task. Under expert views
the overlay is *present* in both views (it hides pixels, it is a nuisance) and *shared* by them (it
is the same letter in the same colour, so it alone tells the two views of an image apart from the
rest of the batch: the shortcut of feature suppression). Here view 1 is an expert view of the image
under its overlay and view 2 an expert view of the same base image under an overlay drawn
independently (same family and strength, its own draw of shape, letter and colour): the overlay is
always present and shared only by chance (the same class in about 1 pair of 3 on C+Shapes, 1 of 10
on C+Digits, 1 of 26 on C+Letters; the random colour of shapes and letters never), so it can hardly
pair the views. If the base task is lost under shared overlays but not under de-shared ones, the
loss follows the sharing (the paper's mechanism).

Only for datasets whose overlay is drawn afresh on every load (C+Shapes, C+Digits, C+Letters);
RandBit's bits are fixed per image and the audio dataset mixes noise otherwise, so they are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment

from .base import FixedViews, ViewContext, ViewKind
from .expert import expert_augment

__all__ = ["DesharedConfig", "DesharedViews", "DESHARED", "DESHARED_DATASETS"]

DESHARED_DATASETS: tuple[str, ...] = ("c+shapes", "c+digits", "c+letters")
"""The datasets whose overlay can be drawn a second time for the same base image."""


@dataclass(frozen=True)
class DesharedConfig:
    """De-shared overlay views have no settings of their own (the dataset's spec picks the policy)."""


class DesharedViews(FixedViews):
    """Expert views of the image (view 1) and of the same base image under a second overlay (view 2).

    The training loop feeds these views the dataset's second-overlay items
    (:meth:`deep_experiments.data.TwoTaskDataset.with_second_overlay`): their fourth field, passed as
    ``base``, is the image under its second overlay. A single view (the paper probe) is an expert view
    of the image.
    """

    needs_second_overlay = True

    def __init__(self, augment: ExpertAugment) -> None:
        self.augment = augment

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """One expert view of ``image``. Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)``."""
        return self.augment(image, generator)

    def pair(self, image: torch.Tensor, other: torch.Tensor | None,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The two views of each image: of ``image`` and of ``other`` (its base under another overlay)."""
        if other is None or other.shape != image.shape:
            raise ValueError("de-shared overlay views need each image under a second overlay, of the same shape")
        return self.augment(image, generator), self.augment(other, generator)


def _build(config: DesharedConfig, ctx: ViewContext) -> DesharedViews:
    if ctx.spec.name not in DESHARED_DATASETS:
        raise ValueError(f"--method deshared needs a dataset whose overlay is redrawn per view "
                         f"({', '.join(DESHARED_DATASETS)}), got {ctx.spec.name!r}")
    return DesharedViews(expert_augment(ctx))


DESHARED = ViewKind("deshared", DesharedConfig, _build,
                    "de-shared overlays (expert views, each view under its own overlay)")
