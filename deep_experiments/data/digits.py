"""Handwritten digits for the C+Digits overlay and the randbit base image.

``"sklearn"`` (offline default, a stand-in for MNIST): the 1,797 real 8x8 digits of
``sklearn.datasets.load_digits`` (values 0-16); the first 1,500 are the train split and the remaining
297 the test split, so test overlays use digits never seen in training. ``"mnist"``: real MNIST
(60k / 10k) via torchvision, see :mod:`.real`. Either is resized bilinearly to the requested size.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from .real import mnist_arrays

DIGIT_SOURCES: tuple[str, ...] = ("sklearn", "mnist")
SKLEARN_TRAIN = 1500


@functools.cache
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (N, h, w) to (N, size, size); antialiased when shrinking (MNIST to 10x10)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = size < max(images.shape[-2:])
    out = F.interpolate(images[:, None], size=(size, size), mode="bilinear", align_corners=False,
                        antialias=shrink)
    return out[:, 0].clamp_(0.0, 1.0)


def digit_images(source: str, split: str, size: int, *, data_dir: str | None = None,
                 download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits of ``split`` as float32 (N, size, size) in [0, 1] (white ink on black) and int64 labels."""
    if source == "sklearn":
        images, labels = _sklearn_digits()
        part = slice(0, SKLEARN_TRAIN) if split == "train" else slice(SKLEARN_TRAIN, None)
        images_t, labels_t = torch.from_numpy(images[part].copy()), torch.from_numpy(labels[part].copy())
    elif source == "mnist":
        raw, labels = mnist_arrays(data_dir, split, download)
        images_t, labels_t = torch.from_numpy(raw).float().div_(255.0), torch.from_numpy(labels)
    else:
        raise ValueError(f"digit_source must be one of {DIGIT_SOURCES}, got {source!r}")
    return _resize(images_t, size).contiguous(), labels_t
