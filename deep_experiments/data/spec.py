"""What a two-task dataset looks like to the models: channels, size, class counts, view settings."""

from __future__ import annotations

from dataclasses import dataclass

DATASETS: tuple[str, ...] = ("c+shapes", "c+digits", "c+letters", "randbit")
"""Names accepted by :func:`deep_experiments.data.build_dataset`."""

_AUGMENTATIONS = ("simclr", "crop_only")
MAX_RANDBIT_BITS = 62
"""Ids stay below 2**62 so that labels fit PyTorch's int64 collation."""


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of a :class:`TwoTaskDataset` (task A = base class, task B = overlay class).

    Attributes:
        name: one of :data:`DATASETS`.
        channels: channels of an item image (3 for C+*, ``1 + bits`` for randbit).
        image_size: height == width in pixels (32 for C+*, 28 for randbit).
        num_classes_a: classes of the base task.
        num_classes_b: classes of the overlay task (randbit: ``2**bits`` ids).
        shared_channels: trailing channels that views append after augmentation and never augment
            (randbit: the ``bits`` constant planes, identical in both views).
        expert_augmentation: ``"simclr"`` (experiments.md) or ``"crop_only"`` (randbit: random crop
            of area 0.5-1 resized back, as the Chen et al. colab).
        viewmaker_budget: mean |delta| per pixel of a viewmaker view (0.1 for letters, else 0.05).
    """

    name: str
    channels: int
    image_size: int
    num_classes_a: int
    num_classes_b: int
    shared_channels: int = 0
    expert_augmentation: str = "simclr"
    viewmaker_budget: float = 0.05

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise ValueError(f"name must be one of {DATASETS}, got {self.name!r}")
        for field in ("channels", "image_size", "num_classes_a", "num_classes_b"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)!r}")
        if not 0 <= self.shared_channels < self.channels:
            raise ValueError(f"shared_channels must be in [0, channels), got {self.shared_channels!r}")
        if self.expert_augmentation not in _AUGMENTATIONS:
            raise ValueError(f"expert_augmentation must be one of {_AUGMENTATIONS}, got {self.expert_augmentation!r}")
        if not self.viewmaker_budget > 0:
            raise ValueError(f"viewmaker_budget must be > 0, got {self.viewmaker_budget!r}")


def dataset_spec(name: str, randbit_bits: int = 5) -> DatasetSpec:
    """The spec of dataset ``name``; ``randbit_bits`` only matters for ``"randbit"``."""
    if name == "c+shapes":
        return DatasetSpec(name, channels=3, image_size=32, num_classes_a=10, num_classes_b=3)
    if name == "c+digits":
        return DatasetSpec(name, channels=3, image_size=32, num_classes_a=10, num_classes_b=10)
    if name == "c+letters":
        return DatasetSpec(name, channels=3, image_size=32, num_classes_a=10, num_classes_b=26, viewmaker_budget=0.1)
    if name == "randbit":
        if not 0 <= randbit_bits <= MAX_RANDBIT_BITS:
            raise ValueError(f"randbit_bits must be in [0, {MAX_RANDBIT_BITS}], got {randbit_bits!r}")
        return DatasetSpec(name, channels=1 + randbit_bits, image_size=28, num_classes_a=10,
                           num_classes_b=2**randbit_bits, shared_channels=randbit_bits,
                           expert_augmentation="crop_only")
    raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
