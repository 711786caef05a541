"""Data loaders over two-task datasets, and unpacking their batches onto a device."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["make_loader", "unpack_batch"]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader whose order comes from ``generator`` (items carry their own per-index seeds)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )


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
