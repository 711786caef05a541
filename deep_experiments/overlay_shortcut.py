"""How well the overlay alone pairs the two views of an image under a policy of expert views.

Feature suppression needs a shortcut: a feature that both views of an image share and that tells
that image apart from the rest of the batch. On the C+* datasets the overlay is drawn in a random RGB
colour, so as long as the views keep that colour, the overlay's colour alone solves the contrastive
task. This module measures, for an augmentation policy and without any encoder, how much of that
shortcut survives the views: two views of every image of a batch are made (the policy's own random
draws), the overlay's mean colour is read in each view (its pixels located by cropping the
overlay's mask with each view's own crop box), and each first view is matched to the second view
with the nearest overlay colour among the batch. The top-1 **retrieval accuracy** is the fraction
matched to their own partner (chance ``1 / batch``): 1 means the overlay's colour identifies the image
across views; near chance means the colour operations (jitter, grayscale) have erased the shortcut.
A view whose crop misses the overlay counts as not retrieved (the overlay is not in it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment, crop_flip
from deep_experiments.data import TwoTaskDataset

__all__ = ["OVERLAY_PIXEL", "ShortcutResult", "overlay_colour_retrieval"]

OVERLAY_PIXEL = 0.1
"""A pixel belongs to the overlay when the overlay moves it by more than this (any channel, in [0, 1])."""


@dataclass(frozen=True)
class ShortcutResult:
    """``retrieval``: top-1 retrieval accuracy of partner views by overlay colour (chance ``1 / batch``);
    ``colour_distance_pair`` / ``colour_distance_other``: mean RGB distance between the overlay colours
    of the two views of one image, and of two different images, over views that show the overlay (NaN
    when none does); ``visible``: fraction of views that show some overlay pixel."""

    policy: str
    batch: int
    retrieval: float
    colour_distance_pair: float
    colour_distance_other: float
    visible: float


def overlay_colour_retrieval(dataset: TwoTaskDataset, policy: str, batch: int = 256,
                             generator: torch.Generator | None = None) -> ShortcutResult:
    """The retrieval measurement (module docstring) on the first ``batch`` items of ``dataset``.

    Raises:
        ValueError: fewer than 2 items, or a dataset whose images have no overlay pixel at all.
    """
    n = min(batch, len(dataset))
    if n < 2:
        raise ValueError(f"overlay_colour_retrieval needs at least 2 items, got {n}")
    items = dataset.with_base()
    image = torch.stack([items[i][0] for i in range(n)])
    base = torch.stack([items[i][3] for i in range(n)])
    mask = ((image - base).abs().amax(dim=1, keepdim=True) > OVERLAY_PIXEL).float()
    if not mask.any():
        raise ValueError("the dataset's images carry no overlay pixel (overlay strength 0?)")
    spec = dataset.spec
    aug = ExpertAugment(spec.channels, spec.image_size, policy, spec.shared_channels, normalize=False)
    g = torch.Generator().manual_seed(0) if generator is None else generator
    colours, seen = [], []
    for _ in range(2):
        views, params = aug.with_params(image, g)
        inside = crop_flip(mask, params.boxes, params.flip, aug.size) > 0.5
        count = inside.sum(dim=(2, 3))
        colours.append((views * inside).sum(dim=(2, 3)) / count.clamp(min=1))
        seen.append(count[:, 0] > 0)
    distance = torch.cdist(colours[0], colours[1])
    visible = seen[0] & seen[1]
    hits = (distance.argmin(dim=1) == torch.arange(n)) & visible
    both = visible[:, None] & visible[None, :] & ~torch.eye(n, dtype=torch.bool)  # other images, both showing it
    pair = float(distance.diagonal()[visible].mean()) if visible.any() else float("nan")
    other = float(distance[both].mean()) if both.any() else float("nan")
    return ShortcutResult(policy, n, float(hits.float().mean()), pair, other, float(torch.cat(seen).float().mean()))
