"""Data loaders over two-task datasets, and unpacking their batches onto a device.

:func:`make_loader` is the loader of every pass over a dataset (a DataLoader, or :class:`ItemBatches`); :class:`DeviceLoader` yields the
same training batches from one copy of the epoch's items kept on the device (``train.perf.device_data``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["make_loader", "fixed_order", "unpack_batch", "DeviceLoader", "ItemBatches"]

_MATERIALIZE_CHUNK = 1024
"""Items per DataLoader batch while an epoch is materialized (memory only; any value gives the same items)."""


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    order: Sequence[int] | None = None,
) -> DataLoader | ItemBatches:
    """A DataLoader whose order comes from ``generator``, or is ``order`` (items carry their own per-index seeds).

    ``order`` (with ``shuffle=False``): the items' indices in the order every pass visits them, the same
    batches every epoch (:func:`fixed_order`); ``None`` visits ``0 .. n-1``, shuffled or not.
    Without worker processes, a dataset that loads a batch at once (``dataset.batch(indices)``, the
    two-task datasets) gives an :class:`ItemBatches` instead: the same batches, built a batch at a time.

    Raises:
        ValueError: ``order`` with ``shuffle``, or not a permutation of ``0 .. len(dataset)-1``.
    """
    if num_workers == 0 and callable(getattr(dataset, "batch", None)):
        return ItemBatches(dataset, batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last,
                           pin_memory=pin_memory, order=order)
    _check_order(order, shuffle, len(dataset))  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=order,
        generator=generator,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )


def fixed_order(n: int, generator: torch.Generator) -> list[int]:
    """One permutation of ``0 .. n-1`` drawn from ``generator``: the order of every epoch of a run that never
    reshuffles (``train.data_order="fixed"``; the RandBits colab reads tfds' prepared order, the same 60
    batches in the same order every epoch)."""
    return torch.randperm(n, generator=generator).tolist()


def _check_order(order: Sequence[int] | None, shuffle: bool, n: int) -> None:
    if order is None:
        return
    if shuffle:
        raise ValueError("a fixed item order and shuffle=True exclude each other")
    if sorted(order) != list(range(n)):
        raise ValueError(f"the item order must be a permutation of 0 .. {n - 1} (each item once), got "
                         f"{len(order)} indices with duplicates, missing or out-of-range ones")


def unpack_batch(
    batch: Any, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(image, label_a, label_b[, base])`` from a loader, moved to ``device``; ``base`` may be None.

    Shape: ``image`` / ``base`` ``(B, C, H, W)``, labels ``(B,)``.
    """
    if len(batch) not in (3, 4):
        raise ValueError(f"expected batches (image, label_a, label_b[, base]), got {len(batch)} fields")
    moved = [t.to(device, non_blocking=True) for t in batch]
    base = moved[3] if len(moved) == 4 else None
    return moved[0], moved[1], moved[2], base


class ItemBatches:
    """The batches of ``DataLoader(dataset, batch_size, shuffle, generator, drop_last)`` without workers, each
    built by one ``dataset.batch(indices)`` call instead of ``batch_size`` item loads and a collation.

    The indices come from a DataLoader over ``0 .. n-1`` with the same arguments (``order`` as its sampler),
    so the order, and what it draws from ``generator`` (or, without one, from torch's global generator, as
    every DataLoader pass does), are the DataLoader's; ``dataset.batch`` returns what the default collation of the items returns.
    """

    def __init__(self, dataset: Any, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                 drop_last: bool = False, pin_memory: bool = False, order: Sequence[int] | None = None) -> None:
        _check_order(order, shuffle, len(dataset))
        self.dataset = dataset
        self.pin_memory = pin_memory
        self._order = DataLoader(_Indices(len(dataset)), batch_size=batch_size, shuffle=shuffle,  # type: ignore[arg-type]
                                 sampler=order, generator=generator, drop_last=drop_last)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for index in self._order:
            batch = self.dataset.batch(index.tolist())
            yield tuple(t.pin_memory() for t in batch) if self.pin_memory else batch


class _Indices(Dataset):
    """``0 .. n-1``: a DataLoader over it draws exactly the order a DataLoader over ``n`` items draws."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def _lossless_uint8(images: torch.Tensor) -> torch.Tensor | None:
    """``images`` (float in [0, 1]) as uint8 when ``k / 255`` (the value :class:`ArrayImages` makes of
    ``k``) reproduces every pixel bit for bit, else None."""
    if images.dtype != torch.float32 or images.numel() == 0:
        return None
    codes = images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    decoded = _uint8_table(images.device)[codes.long()]
    if not torch.equal(decoded.view(torch.int32), images.view(torch.int32)):  # bits, so -0.0 and NaN count
        return None
    return codes


def _uint8_table(device: torch.device) -> torch.Tensor:
    """The 256 float32 values ``k / 255`` computed on the CPU exactly as ``ArrayImages`` does, on ``device``.

    Decoding by table lookup copies these bits, so a device whose division rounds differently
    (CUDA divides by a scalar through its reciprocal) still yields the DataLoader's values.
    """
    return torch.arange(256, dtype=torch.uint8).float().div_(255.0).to(device)


class DeviceLoader:
    """Training batches gathered on the device from one host->device copy of the epoch's items.

    Each ``iter()`` (one epoch) loads every item of ``dataset`` once (in ``num_workers``
    processes, in index order; items depend on their index and epoch only), stores the images on
    ``device`` as uint8 when they are exactly 8-bit (else float32) with the labels, and then yields
    ``(image, label_a, label_b[, base])`` batches indexed on the device. The order comes from a
    DataLoader over the indices with the same ``generator``, batch size and ``drop_last`` as
    :func:`make_loader`'s, so the batches, and the generator state after an epoch, are those of
    ``make_loader(dataset, batch_size, shuffle=True, generator=generator, drop_last=drop_last)`` (with
    ``order``: of ``make_loader(..., shuffle=False, order=order)``, the same batches every epoch).
    The epoch's index batches are drawn before the first batch and copied in one transfer as well.
    """

    def __init__(self, dataset: Dataset, batch_size: int, *, generator: torch.Generator, device: torch.device,
                 num_workers: int = 0, drop_last: bool = False, order: Sequence[int] | None = None) -> None:
        self.dataset = dataset
        self.device = device
        self.num_workers = num_workers
        self._order = make_loader(_Indices(len(dataset)), batch_size, shuffle=order is None,  # type: ignore[arg-type]
                                  generator=generator, drop_last=drop_last, order=order)

    def __len__(self) -> int:
        return len(self._order)

    def materialize(self) -> tuple[torch.Tensor, ...]:
        """Every item of the current epoch, field by field, on the device (images possibly as uint8)."""
        loader = make_loader(self.dataset, _MATERIALIZE_CHUNK, shuffle=False, num_workers=self.num_workers,
                             generator=torch.Generator())  # seeds the workers without touching the global RNG
        fields = [torch.cat(parts) for parts in zip(*loader)]
        if len(fields) not in (3, 4):
            raise ValueError(f"expected items (image, label_a, label_b[, base]), got {len(fields)} fields")
        stored = []
        for i, tensor in enumerate(fields):
            codes = _lossless_uint8(tensor) if i in (0, 3) else None
            stored.append((tensor if codes is None else codes).to(self.device))
        return tuple(stored)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        stored = self.materialize()
        table = _uint8_table(self.device) if any(t.dtype == torch.uint8 for t in stored) else None
        order = list(self._order)  # draws this epoch's order from the generator, as a DataLoader pass does
        if not order:
            return
        batches = torch.cat(order).to(self.device).split([len(index) for index in order])
        for index in batches:
            out = []
            for tensor in stored:
                picked = tensor[index]
                out.append(table[picked.long()] if tensor.dtype == torch.uint8 and table is not None else picked)
            yield tuple(out)
