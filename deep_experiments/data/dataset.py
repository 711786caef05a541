"""The two-task dataset: a base image (task A) with an overlay (task B) drawn fresh on every load.

Items load one at a time (``dataset[i]``, what a DataLoader's workers call) or a batch at a time
(``dataset.batch(indices)``, what :func:`deep_experiments.data.make_loader` calls in the training
process): a batch is exactly the default collation of its items (the same tensors bit for bit, labels as
int64), with the per-item work left only where it draws (each item's own generator and overlay draw)
and the blend done once for the batch. On one CPU thread a C+Letters item costs ~180 us alone and
~40 us in a batch of 256, most of the rest being the overlay draw.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from .overlays import Overlay
from .seeding import OVERLAY_STREAM, SECOND_OVERLAY_STREAM, SPLIT_CODES, item_generator
from .spec import DatasetSpec


class BaseImages(Protocol):
    """Indexable base images: ``bases[i] -> (float32 (C, H, W) in [0, 1], label_a)``, fixed per ``i``."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]: ...


class ArrayImages:
    """Base images held in memory: uint8 (scaled by 1/255) or float (N, C, H, W) tensors and labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | Sequence[int]) -> None:
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(f"images must be (N, C, H, W) with N labels, got {tuple(images.shape)}, "
                             f"{len(labels)} labels")
        self.images, self.labels = images, torch.as_tensor(labels, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        image = image.float().div_(255.0) if image.dtype == torch.uint8 else image.float().clone()
        return image, int(self.labels[index])

    def many(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images (B, C, H, W), labels (B,) int64)`` of ``indices``: the stacked items, same values."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        images = self.images[index]
        images = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
        return images, self.labels[index]


def collate(items: Sequence[tuple[Any, ...]]) -> tuple[torch.Tensor, ...]:
    """Items ``(tensor | int, ...)`` stacked field by field as torch's default collation stacks them (ints as int64)."""
    return tuple(torch.stack(field) if isinstance(field[0], torch.Tensor) else torch.tensor(field, dtype=torch.int64)
                 for field in zip(*items))


def _many(bases: BaseImages, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``bases.many(indices)`` where the base images offer it, else their items stacked."""
    many = getattr(bases, "many", None)
    if many is not None:
        return many(indices)
    images, labels = collate([bases[i] for i in indices])
    return images, labels


class TwoTaskDataset(Dataset):
    """Items ``(image, label_a, label_b)``: the base image of task A with the overlay of task B on it.

    The overlay is drawn on every load from a generator seeded by ``(seed, split, epoch, index)``:
    fresh each epoch (:meth:`set_epoch`), yet the same in any worker, batch order or resumed run. The
    base image and ``label_a`` depend on the index only. Build instances with
    :func:`deep_experiments.data.build_dataset`.

    Shape:
        image: float32 ``(spec.channels, spec.image_size, spec.image_size)`` in [0, 1].
    """

    def __init__(self, spec: DatasetSpec, bases: BaseImages, overlay: Overlay, *, split: str, seed: int,
                 overlay_strength: float) -> None:
        self.spec, self.split, self.seed = spec, split, seed
        self.overlay_strength = overlay_strength
        self._bases, self._overlay = bases, overlay
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._bases)

    @property
    def epoch(self) -> int:
        """The epoch whose overlays are drawn (0 until :meth:`set_epoch`)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Draw the overlays of ``epoch`` from now on (call before each epoch's DataLoader pass).

        Worker processes copy the dataset when a DataLoader iteration starts, so this reaches them at
        the next ``iter(loader)`` unless ``persistent_workers=True`` (then they keep the old epoch).
        """
        if isinstance(epoch, bool) or not hasattr(epoch, "__index__") or operator.index(epoch) < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self._epoch = operator.index(epoch)

    def _index(self, i: int) -> int:
        index, n = operator.index(i), len(self)
        if not -n <= index < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} items")
        return index % n

    def _load(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        """``(image, label_a, label_b, base)``; ``base`` is ``image`` without the overlay."""
        index = self._index(i)
        raw, label_a = self._bases[index]
        base = self._overlay.blank(raw)
        image, label_b = self._overlaid(base, index, OVERLAY_STREAM)
        return image, label_a, label_b, base

    def _overlaid(self, base: torch.Tensor, index: int, stream: int) -> tuple[torch.Tensor, int]:
        """``base`` with the overlay of ``stream`` for this item and epoch, and that overlay's label."""
        gen = item_generator(self.seed, stream, SPLIT_CODES[self.split], self._epoch, index)
        colour, alpha, label_b = self._overlay.draw(index, gen)
        alpha = (alpha * self.overlay_strength).clamp_(max=1.0)
        return (base * (1.0 - alpha) + colour * alpha).clamp_(0.0, 1.0), label_b

    def _load_many(self, indices: Sequence[int], second: bool = False) -> tuple[torch.Tensor, ...]:
        """``collate([self._load(i) ...])`` (or of :meth:`_load_second` when ``second``), computed a batch at a time.

        A subclass that overrides :meth:`_load` overrides this too (or returns ``collate`` of its items).
        """
        index = [self._index(i) for i in indices]
        raw, label_a = _many(self._bases, index)
        base = self._overlay.blank_many(raw)
        image, label_b = self._overlaid_many(base, index, OVERLAY_STREAM)
        if not second:
            return image, label_a, label_b, base
        other, _ = self._overlaid_many(base, index, SECOND_OVERLAY_STREAM)
        return image, label_a, label_b, other

    def _overlaid_many(self, base: torch.Tensor, index: Sequence[int], stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_overlaid` of a batch: ``base`` ``(B, C, H, W)`` of items ``index``; the same bits."""
        split = SPLIT_CODES[self.split]
        gens = [item_generator(self.seed, stream, split, self._epoch, i) for i in index]
        colour, alpha, label_b = self._overlay.draw_many(index, gens)
        alpha = (alpha * self.overlay_strength).clamp_(max=1.0)
        return (base * (1.0 - alpha) + colour * alpha).clamp_(0.0, 1.0), label_b

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        """The collated items ``indices``: ``(image, label_a, label_b)``, as ``collate([self[i] for i in indices])``."""
        return self._load_many(indices)[:3]

    def _load_second(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        """``(image, label_a, label_b, other)``: ``other`` is the same base image under an overlay drawn
        independently of ``image``'s (same family and strength; its own draw of shape, letter and colour)."""
        image, label_a, label_b, base = self._load(i)
        other, _ = self._overlaid(base, self._index(i), SECOND_OVERLAY_STREAM)
        return image, label_a, label_b, other

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        image, label_a, label_b, _ = self._load(i)
        return image, label_a, label_b

    def at_strength(self, overlay_strength: float) -> TwoTaskDataset:
        """The same items (bases, overlay draws, split, seed; epoch 0) at another overlay strength."""
        return TwoTaskDataset(self.spec, self._bases, self._overlay, split=self.split, seed=self.seed,
                              overlay_strength=overlay_strength)

    def with_base(self) -> WithBase:
        """A view of this dataset whose items also carry ``base`` (for feature-dropout views)."""
        return WithBase(self)

    def with_second_overlay(self) -> WithSecondOverlay:
        """A view of this dataset whose items also carry the image under a second, independent overlay
        (for de-shared overlay views)."""
        return WithSecondOverlay(self)


class WithBase(Dataset):
    """Items ``(image, label_a, label_b, base)`` of a :class:`TwoTaskDataset`, sharing its epoch.

    ``base`` is the identical image without the overlay (randbit: the bit planes set to 0.5).
    """

    def __init__(self, dataset: TwoTaskDataset) -> None:
        self.dataset = dataset
        self.spec = dataset.spec

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Same as :meth:`TwoTaskDataset.set_epoch` of the wrapped dataset."""
        self.dataset.set_epoch(epoch)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        return self.dataset._load(i)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        """The collated items ``indices`` (see :meth:`TwoTaskDataset.batch`)."""
        return self.dataset._load_many(indices)


class WithSecondOverlay(WithBase):
    """Items ``(image, label_a, label_b, other)`` of a :class:`TwoTaskDataset`, sharing its epoch.

    ``other`` is the same base image under a second overlay drawn from its own stream
    (:data:`~deep_experiments.data.seeding.SECOND_OVERLAY_STREAM`): always present and independent of
    ``image``'s, so two views made from ``image`` and ``other`` share an overlay only by chance (the
    same class in about 1 pair of 3 on C+Shapes, whose 3 shapes sit in one place, of 10 on C+Digits and
    of 26 on C+Letters; a continuous random colour, where the family has one, is never the same).
    """

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        return self.dataset._load_second(i)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, ...]:
        """The collated items ``indices`` (see :meth:`TwoTaskDataset.batch`)."""
        return self.dataset._load_many(indices, second=True)
