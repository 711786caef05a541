"""What a two-task dataset looks like to the models: channels, size, class counts, view settings.

Each recipe (:mod:`.recipes`) makes its own spec.
"""

from __future__ import annotations

from dataclasses import dataclass

LADDER_POLICIES: tuple[str, ...] = ("crop_jitter_half", "crop_jitter", "crop_jitter_grey", "crop_simclr")
"""The augmentation ladder from ``crop_only`` towards ``simclr``, one operation group added per step
(:data:`deep_experiments.augment.LADDER`: colour jitter at half then full strength, grayscale, blur and flip)."""

AUGMENTATIONS: tuple[str, ...] = ("simclr", "crop_only", "audio", *LADDER_POLICIES)
"""Expert augmentation policies (:class:`deep_experiments.augment.ExpertAugment`)."""


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of a :class:`TwoTaskDataset` (task A = base class, task B = overlay class).

    Attributes:
        name: the dataset's recipe name (see :mod:`.recipes`).
        channels: channels of an item image (3 for C+*, ``1 + bits`` for randbit).
        image_size: height == width in pixels (32 for C+*, 28 for randbit).
        num_classes_a: classes of the base task.
        num_classes_b: classes of the overlay task (randbit: ``2**bits`` ids).
        shared_channels: trailing channels that views append after augmentation and never augment
            (randbit: the ``bits`` constant planes, identical in both views).
        expert_augmentation: ``"simclr"`` (docs/deep-arm.md), ``"crop_only"`` (randbit: random crop
            of area 0.5-1 resized back, as the Chen et al. colab) or ``"audio"`` (log-mel
            spectrograms, :mod:`deep_experiments.augment_audio`), or a step of the ladder between
            ``crop_only`` and ``simclr`` (:data:`LADDER_POLICIES`).
        viewmaker_budget: mean |delta| per pixel of a viewmaker view (0.1 letters, 0.125 audio, else 0.05).
        normalization: ``"standard"`` or ``"none"`` (:class:`deep_experiments.normalize.Normalize`; the run's
            ``data.normalization``).
    """

    name: str
    channels: int
    image_size: int
    num_classes_a: int
    num_classes_b: int
    shared_channels: int = 0
    expert_augmentation: str = "simclr"
    viewmaker_budget: float = 0.05
    normalization: str = "standard"

    def __post_init__(self) -> None:
        for field in ("channels", "image_size", "num_classes_a", "num_classes_b"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)!r}")
        if not 0 <= self.shared_channels < self.channels:
            raise ValueError(f"shared_channels must be in [0, channels), got {self.shared_channels!r}")
        if self.expert_augmentation not in AUGMENTATIONS:
            raise ValueError(f"expert_augmentation must be one of {AUGMENTATIONS}, got {self.expert_augmentation!r}")
        if not self.viewmaker_budget > 0:
            raise ValueError(f"viewmaker_budget must be > 0, got {self.viewmaker_budget!r}")

