"""Where a viewmaker spends its budget: on the overlay's pixels or on the base image's.

The feature-dropout reading of the viewmaker (Tamkin et al. 2023) is that it learns to perturb the
easy feature -- here the overlay -- strongly enough to sometimes destroy it in a view. A direct
measurement on C+* images, whose overlay pixels are known (the item image differs from its
overlay-free ``base`` exactly there): the mean ``|delta|`` on overlay pixels against the mean
``|delta|`` elsewhere. A viewmaker blind to the overlay gives a ratio near 1; one that attacks it,
a ratio well above 1. ``delta`` is averaged over channels, so the ratio compares pixels, not colours.

Audio's overlay, the background noise, adds power to every bin, so there the "overlay pixels" are
the bins the noise dominates (the noisy clip at least 3 dB above the clean one: noise power >= speech
power), the rest the bins where the speech, the digit, dominates.

RandBit's overlay is not a set of pixels but whole channels (constant bit planes beside the digit),
so there the measurement is per channel (:func:`plane_focus`): the mean ``|delta|`` on the base
image's channels against the planes', and how often a view pushes a plane pixel across 0.5 (the
midpoint between a 0 bit and a 1 bit), the clearest way a bounded perturbation can drop a bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

__all__ = ["FOCUS_FILE", "PLANES_FILE", "NoOverlaySplit", "OverlayFocus", "PlaneFocus", "overlay_mask", "overlay_focus",
           "plane_focus"]

FOCUS_FILE = "viewmaker_focus.json"
"""Where ``scripts/viewmaker_focus.py`` writes a run's measurement and figure ``viewmaker_focus`` reads it."""

PLANES_FILE = "viewmaker_planes.json"
"""Where ``scripts/viewmaker_focus.py`` writes a RandBit run's per-channel measurement (:func:`plane_focus`)."""


class NoOverlaySplit(ValueError):
    """The images have no overlay pixel, or nothing but overlay pixels: :func:`overlay_focus` has no ratio."""


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
                  bases: torch.Tensor, generator: torch.Generator, views: int = 4, tol: float = 1e-6) -> OverlayFocus:
    """Mean ``|delta|`` on and off the overlay over ``views`` perturbations of every image.

    The overlay's pixels are those where ``images`` differ from ``bases`` by more than ``tol`` in some
    channel (:func:`overlay_mask`); for audio, where the noise touches every bin, ``tol`` =
    :data:`deep_experiments.data.audio.NOISE_DOMINATES` makes them the bins the noise dominates.

    Args:
        delta: the perturbation ``(x, generator) -> delta`` (``Viewmaker.delta``), called without grad.
        images, bases: the overlaid images and the same images without the overlay, in [0, 1].
            Shape: ``(B, C, H, W)``.
        generator: the viewmaker's noise source; views: perturbations per image.

    Raises:
        ValueError: on mismatched shapes or ``views < 1``; :class:`NoOverlaySplit` (a ValueError) for a
            batch with no overlay pixel or no pixel free of it (the ratio would be undefined).
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    mask = overlay_mask(images, bases, tol)
    n_on = int(mask.sum())
    if n_on == 0 or n_on == mask.numel():
        raise NoOverlaySplit(f"need overlay pixels and overlay-free pixels, got {n_on} of {mask.numel()} on the overlay")
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


@dataclass(frozen=True)
class PlaneFocus:
    """Mean ``|delta|`` on the base image's channels and on the overlay's planes (RandBit's bits).

    ``overlay_share``: share of the total ``|delta|`` on the planes (``overlay_fraction``, their share of
    the channels, for a blind viewmaker); ``flipped``: share of plane pixels (over views) that the view
    moves across 0.5; ``planes_flipped``: share of (image, view, plane) triples with more than half of
    the plane's pixels moved across 0.5 (a bit a view has dropped, read by majority).
    """

    on_base: float
    on_planes: float
    ratio: float
    overlay_fraction: float
    overlay_share: float
    flipped: float
    planes_flipped: float
    images: int
    views: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain mapping (for JSON / CSV rows)."""
        return asdict(self)


def plane_focus(delta: Callable[[torch.Tensor, torch.Generator], torch.Tensor], images: torch.Tensor,
                base_channels: int, generator: torch.Generator, views: int = 4) -> PlaneFocus:
    """Where ``delta`` falls when the overlay is the channels after the first ``base_channels``.

    Args:
        delta: the perturbation ``(x, generator) -> delta`` (``Viewmaker.delta``), called without grad.
        images: overlaid images, every plane pixel exactly 0 or 1 (full strength). Shape: ``(B, C, H, W)``.
        base_channels: how many leading channels are the base image (RandBit: 1).
        generator: the viewmaker's noise source; views: perturbations per image.

    Returns:
        :class:`PlaneFocus`; ``ratio`` is ``on_planes / on_base`` (1 for a blind viewmaker).

    Raises:
        ValueError: ``views < 1``, images not 4-d, no plane or no base channel, or a plane pixel that
            is not 0 or 1 (overlay-free planes sit at 0.5, where "across 0.5" means nothing).
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    if images.ndim != 4 or not 0 < base_channels < images.shape[1]:
        raise ValueError(f"need (B, C, H, W) images with 0 < base_channels < C, got {tuple(images.shape)} "
                         f"and base_channels={base_channels}")
    planes = images[:, base_channels:]
    if not ((planes == 0) | (planes == 1)).all():
        raise ValueError("plane pixels must be 0 or 1 (images at full overlay strength)")
    on_base = on_planes = flipped = planes_flipped = 0.0
    with torch.no_grad():
        for _ in range(views):
            d = delta(images, generator)
            on_base += float(d[:, :base_channels].abs().mean())
            on_planes += float(d[:, base_channels:].abs().mean())
            crossed = ((planes - 0.5) * (planes + d[:, base_channels:] - 0.5) < 0).float()  # strictly across
            flipped += float(crossed.mean())
            planes_flipped += float((crossed.mean(dim=(2, 3)) > 0.5).float().mean())
    on_base, on_planes = on_base / views, on_planes / views
    n_planes = images.shape[1] - base_channels
    total = on_base * base_channels + on_planes * n_planes
    return PlaneFocus(on_base=on_base, on_planes=on_planes, ratio=on_planes / on_base if on_base > 0 else float("inf"),
                      overlay_fraction=n_planes / images.shape[1],
                      overlay_share=on_planes * n_planes / total if total > 0 else float("nan"),
                      flipped=flipped / views, planes_flipped=planes_flipped / views,
                      images=int(images.shape[0]), views=views)
