"""One recipe per dataset: its spec (what the models see) and its parts (base images, overlay).

Adding a dataset is one :class:`DatasetRecipe` here plus one entry in :data:`RECIPES`; the CLI's
``--dataset`` choices, config validation and :func:`deep_experiments.data.build_dataset` read
the registry. The task-B class count is the overlay's (``Overlay.num_classes``), stated once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from deep_experiments.checks import registered

from .audio import AudioTwoTaskDataset, audio_parts
from .dataset import ArrayImages, BaseImages, TwoTaskDataset
from .digits import digit_images
from .overlays import DIGIT_SIZE, DigitOverlay, LetterOverlay, Overlay, RandBitOverlay, ShapeOverlay
from .photos import DEFAULT_SIZES, PhotoCrops
from .real import cifar10_arrays, fashion_mnist_arrays
from .spec import DatasetSpec

if TYPE_CHECKING:
    from .config import DataConfig

BASE_SOURCES: tuple[str, ...] = ("photos", "cifar10", "fashion-mnist")
MAX_RANDBIT_BITS = 62
"""Ids stay below 2**62 so that labels fit PyTorch's int64 collation."""
RANDBIT_SIZE = 28
C_PLUS_SIZE = 32
BASE_CLASSES = 10
"""Task-A classes: CIFAR-10's, the ten stand-in photos', Fashion-MNIST's and the ten digits'."""

__all__ = ["DatasetRecipe", "RECIPES", "DATASETS", "BASE_SOURCES", "MAX_RANDBIT_BITS", "dataset_recipe"]

Parts = tuple[BaseImages, Overlay]


@dataclass(frozen=True)
class DatasetRecipe:
    """How to make one two-task dataset.

    Attributes:
        name: the registry name (``--dataset``).
        spec: the dataset's :class:`DatasetSpec` for a data config (no image is loaded).
        parts: base images and overlay of one split, ``(config, split, size, seed)``.
        dataset: the dataset class that composes them (the audio recipe mixes noise its own way).
    """

    name: str
    spec: Callable[[DataConfig], DatasetSpec]
    parts: Callable[[DataConfig, str, int | None, int], Parts]
    dataset: type[TwoTaskDataset] = TwoTaskDataset


def _cap(count: int, size: int | None) -> int:
    return count if size is None else min(count, size)


def _base_images(config: DataConfig, split: str, size: int | None, seed: int) -> BaseImages:
    """The C+* base images: crops of the stand-in photos, or real CIFAR-10 from ``data_dir``."""
    if config.base_source == "photos":
        return PhotoCrops(split, _cap(DEFAULT_SIZES[split], size), seed)
    if config.base_source == "fashion-mnist":
        return _fashion_bases(config, split, size)
    images, labels = cifar10_arrays(config.data_dir, split, config.download)
    n = _cap(len(images), size)
    return ArrayImages(torch.from_numpy(images[:n]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels[:n]))


def _fashion_bases(config: DataConfig, split: str, size: int | None) -> BaseImages:
    """Fashion-MNIST as a C+* base: 28x28 grey padded with 2 black pixels to 32x32, copied to 3 channels.

    A semantic 10-class base task whose images carry no colour, unlike the photo crops (whose class,
    "which photo", is itself a low-level colour-and-texture feature).
    """
    images, labels = fashion_mnist_arrays(config.data_dir, split, config.download)
    n = _cap(len(images), size)
    pad = (C_PLUS_SIZE - images.shape[1]) // 2
    grey = torch.nn.functional.pad(torch.from_numpy(images[:n]), (pad, pad, pad, pad))
    return ArrayImages(grey[:, None].expand(-1, 3, -1, -1).contiguous(), torch.from_numpy(labels[:n]))


def _c_plus(name: str, overlay_classes: int, make_overlay: Callable[[DataConfig, str], Overlay],
            viewmaker_budget: float = 0.05) -> DatasetRecipe:
    """A C+* recipe: photos (or CIFAR-10) under an overlay of ``overlay_classes`` classes."""

    def spec(config: DataConfig) -> DatasetSpec:
        return DatasetSpec(name, channels=3, image_size=C_PLUS_SIZE, num_classes_a=BASE_CLASSES,
                           num_classes_b=overlay_classes, viewmaker_budget=viewmaker_budget)

    def parts(config: DataConfig, split: str, size: int | None, seed: int) -> Parts:
        return _base_images(config, split, size, seed), make_overlay(config, split)

    return DatasetRecipe(name, spec, parts)


def _digit_overlay(config: DataConfig, split: str) -> Overlay:
    digits, labels = digit_images(config.digit_source, split, DIGIT_SIZE, data_dir=config.data_dir,
                                  download=config.download)
    return DigitOverlay(digits, labels)


def _randbit_bits(config: DataConfig) -> int:
    if not 0 <= config.randbit_bits <= MAX_RANDBIT_BITS:
        raise ValueError(f"randbit_bits must be in [0, {MAX_RANDBIT_BITS}], got {config.randbit_bits!r}")
    return config.randbit_bits


def _randbit_spec(config: DataConfig) -> DatasetSpec:
    bits = _randbit_bits(config)
    return DatasetSpec("randbit", channels=1 + bits, image_size=RANDBIT_SIZE, num_classes_a=BASE_CLASSES,
                       num_classes_b=RandBitOverlay.classes(bits), shared_channels=bits,
                       expert_augmentation="crop_only")


def _randbit_parts(config: DataConfig, split: str, size: int | None, seed: int) -> Parts:
    """RandBit (Chen et al. 2021): a digit with ``randbit_bits`` constant bit planes of the item's id."""
    digits, labels = digit_images(config.digit_source, split, RANDBIT_SIZE, data_dir=config.data_dir,
                                  download=config.download)
    n = _cap(len(digits), size)
    return ArrayImages(digits[:n, None].clone(), labels[:n].clone()), RandBitOverlay(_randbit_bits(config), split, seed)


AUDIO_SIZE = 64
NOISE_CLASSES = 3


def _audio_spec(config: DataConfig) -> DatasetSpec:
    """Spoken digit (task A) under babble / traffic / machinery noise (task B), 1 x 64 x 64 log-mel."""
    return DatasetSpec("audio", channels=1, image_size=AUDIO_SIZE, num_classes_a=BASE_CLASSES,
                       num_classes_b=NOISE_CLASSES, expert_augmentation="audio", viewmaker_budget=0.125)


def _audio_parts(config: DataConfig, split: str, size: int | None, seed: int) -> Parts:
    """Clean clips and noise bank from ``data_dir`` (see :mod:`.audio`; built by scripts/build_audio_offline.py)."""
    return audio_parts(config.data_dir, split, size, seed)  # type: ignore[return-value]


RECIPES: dict[str, DatasetRecipe] = {
    recipe.name: recipe
    for recipe in (
        _c_plus("c+shapes", ShapeOverlay.num_classes, lambda config, split: ShapeOverlay()),
        _c_plus("c+digits", DigitOverlay.num_classes, _digit_overlay),
        _c_plus("c+letters", LetterOverlay.num_classes, lambda config, split: LetterOverlay(), viewmaker_budget=0.1),
        DatasetRecipe("randbit", _randbit_spec, _randbit_parts),
        DatasetRecipe("audio", _audio_spec, _audio_parts, AudioTwoTaskDataset),
    )
}
"""Every dataset by name, in the order the CLI lists them."""

DATASETS: tuple[str, ...] = tuple(RECIPES)
"""Names accepted by :class:`deep_experiments.data.DataConfig` and ``--dataset``."""


def dataset_recipe(name: str) -> DatasetRecipe:
    """The recipe of dataset ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    return registered(RECIPES, name, "dataset")
