"""The data section of a run's config: which two-task dataset, and where its images come from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deep_experiments.checks import one_of
from deep_experiments.normalize import NORMALIZATIONS

from .digits import DIGIT_SOURCES
from .recipes import BASE_SOURCES, DATASETS
from .spec import AUGMENTATIONS

__all__ = ["DataConfig"]


@dataclass(frozen=True)
class DataConfig:
    """Which two-task dataset to build and how to load it (the recipe of ``dataset`` reads it).

    ``train_size`` / ``test_size`` of ``None`` take the dataset's own default size.
    ``dataset`` is one of the registered recipes (:data:`deep_experiments.data.DATASETS`).
    ``base_source``: ``"photos"`` (offline stand-in), ``"cifar10"`` or ``"fashion-mnist"`` (real
    files in ``data_dir``). ``augmentation``: the expert views' policy (``"simclr"``, ``"crop_only"``
    or ``"audio"``); ``None`` takes the dataset's own (``crop_only`` randbit, ``audio`` audio, else
    ``simclr``). The ``audio`` dataset reads ``data_dir/audio-digits.npz`` (``scripts/build_audio_offline.py``).
    ``normalization``: what every encoder input goes through, ``"standard"`` (grayscale to [-1, 1], RGB by
    CIFAR-10's statistics) or ``"none"`` (pixels stay in [0, 1], as the RandBits colab's).
    """

    dataset: str = "c+digits"
    train_size: int | None = None
    test_size: int | None = None
    base_source: str = "photos"
    digit_source: str = "sklearn"
    data_dir: str | None = None
    download: bool = False
    overlay_strength: float = 1.0
    randbit_bits: int = 5
    num_workers: int = 0
    augmentation: str | None = None
    normalization: str = "standard"

    def __post_init__(self) -> None:
        one_of("data.dataset", self.dataset, DATASETS)
        one_of("data.normalization", self.normalization, NORMALIZATIONS)
        one_of("data.base_source", self.base_source, BASE_SOURCES)
        one_of("data.digit_source", self.digit_source, DIGIT_SOURCES)
        if self.augmentation is not None:
            one_of("data.augmentation", self.augmentation, AUGMENTATIONS)
        for name in ("train_size", "test_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"data.{name} must be an integer > 0, got {value!r}")
        if isinstance(self.randbit_bits, bool) or not isinstance(self.randbit_bits, int) or self.randbit_bits < 0:
            raise ValueError(f"data.randbit_bits must be >= 0 (0 = the digits alone), got {self.randbit_bits!r}")
        if isinstance(self.overlay_strength, bool) or not isinstance(self.overlay_strength, (int, float)) or not (
                math.isfinite(self.overlay_strength) and self.overlay_strength >= 0):
            raise ValueError(f"data.overlay_strength must be a finite number >= 0, got {self.overlay_strength!r}")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0, got {self.num_workers}")

    def size(self, split: str) -> int | None:
        """The item cap of ``split`` (``train_size`` or ``test_size``)."""
        one_of("split", split, ("train", "test"))
        return self.train_size if split == "train" else self.test_size
