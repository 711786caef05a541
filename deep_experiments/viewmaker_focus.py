"""Where a viewmaker spends its budget: on the overlay's pixels or on the base image's.

The feature-dropout reading of the viewmaker (Tamkin et al. 2023) is that it learns to perturb the
easy feature -- here the overlay -- strongly enough to sometimes destroy it in a view. A direct
measurement on C+* images, whose overlay pixels are known (the item image differs from its
overlay-free ``base`` exactly there): the mean ``|delta|`` on overlay pixels against the mean
``|delta|`` elsewhere. A viewmaker blind to the overlay gives a ratio near 1; one that attacks it,
a ratio well above 1. ``delta`` is averaged over channels, so the ratio compares pixels, not colours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

__all__ = ["FOCUS_FILE", "OverlayFocus", "overlay_mask", "overlay_focus"]

FOCUS_FILE = "viewmaker_focus.json"
"""Where ``scripts/viewmaker_focus.py`` writes a run's measurement and figure ``viewmaker_focus`` reads it."""


@dataclass(frozen=True)
class OverlayFocus:
    """Mean ``|delta|`` on and off the overlay's pixels over a set of images, and their ratio.

    ``overlay_fraction``: share of the pixels that are overlay pixels; ``overlay_share``: share of
    the total ``|delta|`` that falls on them (equal to ``overlay_fraction`` for a blind viewmaker).
    """

    on_overlay: float
    off_overlay: float
    ratio: float
    overlay_fraction: float
    overlay_share: float
    images: int
    views: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain mapping (for JSON / CSV rows)."""
        return asdict(self)


def overlay_mask(images: torch.Tensor, bases: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """Pixels where ``images`` and their overlay-free ``bases`` differ in any channel.

    Shape: ``(B, C, H, W)`` twice -> bool ``(B, H, W)``.
    """
    if images.shape != bases.shape or images.ndim != 4:
        raise ValueError(f"images and bases must share one (B, C, H, W) shape, got {tuple(images.shape)} "
                         f"and {tuple(bases.shape)}")
    return (images - bases).abs().amax(dim=1) > tol


def overlay_focus(delta: Callable[[torch.Tensor, torch.Generator], torch.Tensor], images: torch.Tensor,
                  bases: torch.Tensor, generator: torch.Generator, views: int = 4) -> OverlayFocus:
    """Mean ``|delta|`` on and off the overlay over ``views`` perturbations of every image.

    Args:
        delta: the perturbation ``(x, generator) -> delta`` (``Viewmaker.delta``), called without grad.
        images, bases: the overlaid images and the same images without the overlay, in [0, 1].
            Shape: ``(B, C, H, W)``.
        generator: the viewmaker's noise source; views: perturbations per image.

    Raises:
        ValueError: on mismatched shapes, ``views < 1``, or a batch with no overlay pixel or no
            pixel free of it (the ratio would be undefined).
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    mask = overlay_mask(images, bases)
    n_on = int(mask.sum())
    if n_on == 0 or n_on == mask.numel():
        raise ValueError(f"need overlay pixels and overlay-free pixels, got {n_on} of {mask.numel()} on the overlay")
    on = off = 0.0
    with torch.no_grad():
        for _ in range(views):
            mag = delta(images, generator).abs().mean(dim=1)  # (B, H, W), averaged over channels
            on += float(mag[mask].sum())
            off += float(mag[~mask].sum())
    n_off = mask.numel() - n_on
    on_mean, off_mean = on / (views * n_on), off / (views * n_off)
    return OverlayFocus(on_overlay=on_mean, off_overlay=off_mean, ratio=on_mean / off_mean if off_mean > 0 else float("inf"),
                        overlay_fraction=n_on / mask.numel(), overlay_share=on / (on + off) if on + off > 0 else float("nan"),
                        images=int(images.shape[0]), views=views)
