"""``build_dataset``: argument checks and the assembly of base images, overlay and spec."""

from __future__ import annotations

import math
import numbers

import torch

from .dataset import ArrayImages, BaseImages, TwoTaskDataset
from .digits import DIGIT_SOURCES, digit_images
from .overlays import DIGIT_SIZE, DigitOverlay, LetterOverlay, Overlay, RandBitOverlay, ShapeOverlay
from .photos import DEFAULT_SIZES, PhotoCrops
from .real import cifar10_arrays
from .spec import DATASETS, MAX_RANDBIT_BITS, dataset_spec

SPLITS: tuple[str, ...] = ("train", "test")
BASE_SOURCES: tuple[str, ...] = ("photos", "cifar10")
RANDBIT_SIZE = 28


def _choice(argument: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{argument} must be one of {allowed}, got {value!r}")


def _integer(argument: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or (
            high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{argument} must be an integer {bound}, got {value!r}")
    return int(value)


def _cap(count: int, size: int | None) -> int:
    return count if size is None else min(count, size)


def _overlay_bases(name: str, split: str, base_source: str, digit_source: str, data_dir: str | None,
                   download: bool, size: int | None, seed: int) -> tuple[BaseImages, Overlay]:
    """Base images and overlay of the C+* datasets."""
    if base_source == "photos":
        bases: BaseImages = PhotoCrops(split, _cap(DEFAULT_SIZES[split], size), seed)
    else:
        images, labels = cifar10_arrays(data_dir, split, download)
        n = _cap(len(images), size)
        bases = ArrayImages(torch.from_numpy(images[:n]).permute(0, 3, 1, 2).contiguous(),
                            torch.from_numpy(labels[:n]))
    if name == "c+shapes":
        return bases, ShapeOverlay()
    if name == "c+letters":
        return bases, LetterOverlay()
    digits, digit_labels = digit_images(digit_source, split, DIGIT_SIZE, data_dir=data_dir, download=download)
    return bases, DigitOverlay(digits, digit_labels)


def build_dataset(name: str, split: str, *, base_source: str = "photos", digit_source: str = "sklearn",
                  data_dir: str | None = None, download: bool = False, overlay_strength: float = 1.0,
                  randbit_bits: int = 5, size: int | None = None, seed: int = 0) -> TwoTaskDataset:
    """Build one split of a two-task dataset (task A = base class, task B = overlay class).

    Args:
        name: ``"c+shapes"``, ``"c+digits"``, ``"c+letters"`` or ``"randbit"`` (see experiments.md).
        split: ``"train"`` or ``"test"``.
        base_source: ``"photos"`` (offline stand-in for CIFAR-10: crops of 10 photos, 10,000 train /
            2,000 test) or ``"cifar10"`` (torchvision files in ``data_dir``). Ignored by randbit,
            whose base image is a digit.
        digit_source: ``"sklearn"`` (offline stand-in for MNIST: 1,500 train / 297 test digits) or
            ``"mnist"`` (torchvision files in ``data_dir``); the C+Digits overlays and randbit bases.
        data_dir: root of the torchvision files; needed by the real sources only.
        download: let torchvision download missing real data (needs internet).
        overlay_strength: multiplies the overlay's opacity, clipped at fully opaque: 0 = no overlay
            (label_b still defined), 1 = the paper's overlay. Randbit: planes ``0.5 + s (bit - 0.5)``.
        randbit_bits: number of random bits b (2**b task-B classes) for randbit; 0 = the digits alone
            (the colab's b = 0 row: one task-B class).
        size: keep only the first ``size`` items (small runs, tests).
        seed: seeds base crops, randbit ids and (with epoch and index) every overlay draw.

    Raises:
        ValueError: an argument out of range, naming the argument and value.
        FileNotFoundError: real data missing from ``data_dir`` (the message says how to get it).
    """
    _choice("name", name, DATASETS)
    _choice("split", split, SPLITS)
    _choice("base_source", base_source, BASE_SOURCES)
    _choice("digit_source", digit_source, DIGIT_SOURCES)
    if isinstance(overlay_strength, bool) or not isinstance(overlay_strength, numbers.Real) or not (
            math.isfinite(overlay_strength) and overlay_strength >= 0):
        raise ValueError(f"overlay_strength must be a finite number >= 0, got {overlay_strength!r}")
    bits = _integer("randbit_bits", randbit_bits, 0, MAX_RANDBIT_BITS)
    if size is not None:
        size = _integer("size", size, 1)
    seed = _integer("seed", seed, 0, 2**64 - 1)
    spec = dataset_spec(name, bits)
    if name == "randbit":
        digits, labels = digit_images(digit_source, split, RANDBIT_SIZE, data_dir=data_dir, download=download)
        n = _cap(len(digits), size)
        bases: BaseImages = ArrayImages(digits[:n, None].clone(), labels[:n].clone())
        overlay: Overlay = RandBitOverlay(bits, split, seed)
    else:
        bases, overlay = _overlay_bases(name, split, base_source, digit_source, data_dir, download, size, seed)
    return TwoTaskDataset(spec, bases, overlay, split=split, seed=seed, overlay_strength=float(overlay_strength))
