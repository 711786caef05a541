"""Offline stand-in for CIFAR-10 base images: 32x32 crops of ten real photographs.

The photographs ship inside scikit-image (astronaut, chelsea, coffee, hubble_deep_field,
immunohistochemistry, retina, rocket, colorwheel; public domain / CC0) and scikit-learn (china,
flower; CC BY 2.0). Class = source photo, so task A is "which photo is this patch from", a real
natural-image task with 10 classes like CIFAR-10's.

- Each photo is first rescaled (Lanczos) so its shorter side is 256 px: a 32-px crop then covers a
  similar fraction of every photo instead of a texture patch of the 1411-px retina.
- Train crops lie entirely in the left 75% of a photo's width, test crops in the right 25%: the splits
  share no pixel, so the test accuracy measures generalisation to unseen parts of each photo.
- Item ``i`` is photo ``i % 10`` (balanced classes) at a position drawn from ``(seed, split, i)``:
  the crop is a fixed property of the item, only the overlay changes with the epoch.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .seeding import BASE_STREAM, SPLIT_CODES, item_generator

PHOTO_NAMES: tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry",
    "retina", "rocket", "colorwheel", "china", "flower",
)
SHORT_SIDE = 256
TRAIN_FRACTION = 0.75
CROP = 32
DEFAULT_SIZES = {"train": 10_000, "test": 2_000}


def _rescale(photo: np.ndarray) -> np.ndarray:
    """Resize an RGB uint8 array so that its shorter side is :data:`SHORT_SIDE` pixels."""
    from PIL import Image

    h, w = photo.shape[:2]
    scale = SHORT_SIDE / min(h, w)
    size = (round(w * scale), round(h * scale))
    return np.array(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


@functools.cache
def load_photos() -> tuple[torch.Tensor, ...]:
    """The ten photos as float32 (3, H, W) tensors in [0, 1], in :data:`PHOTO_NAMES` order.

    Loaded once per process (about 1-2 s) and cached.
    """
    import skimage.data
    from sklearn.datasets import load_sample_images

    arrays = {name: getattr(skimage.data, name)() for name in PHOTO_NAMES[:8]}
    sample = load_sample_images()
    for path, image in zip(sample.filenames, sample.images):
        arrays[Path(path).stem] = image
    photos = []
    for name in PHOTO_NAMES:
        rgb = _rescale(np.ascontiguousarray(arrays[name][..., :3]))
        photos.append(torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0).contiguous())
    return tuple(photos)


def split_columns(width: int, split: str) -> tuple[int, int]:
    """Column range ``[start, stop)`` of a photo of this width that crops of ``split`` come from."""
    boundary = int(width * TRAIN_FRACTION)
    return (0, boundary) if split == "train" else (boundary, width)


class PhotoCrops:
    """Base images: item ``i`` is a fixed 32x32 crop of photo ``i % 10`` in the region of its split."""

    num_classes = len(PHOTO_NAMES)

    def __init__(self, split: str, size: int, seed: int) -> None:
        self.split, self.size, self.seed = split, size, seed

    def __len__(self) -> int:
        return self.size

    def crop_box(self, index: int) -> tuple[int, int, int]:
        """``(photo, top, left)`` of item ``index``'s crop."""
        photo = index % self.num_classes
        _, height, width = load_photos()[photo].shape
        start, stop = split_columns(width, self.split)
        gen = item_generator(self.seed, BASE_STREAM, SPLIT_CODES[self.split], index)
        top = int(torch.randint(0, height - CROP + 1, (), generator=gen))
        left = int(torch.randint(start, stop - CROP + 1, (), generator=gen))
        return photo, top, left

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        photo, top, left = self.crop_box(index)
        crop = load_photos()[photo][:, top:top + CROP, left:left + CROP].clone()
        return crop, photo
