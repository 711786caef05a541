"""Run-time plumbing: device choice, named random streams, data loaders and batch unpacking.

Randomness is split into named streams derived from the run seed (data order, augmentation,
model init, probe), so changing one (e.g. the number of augmentation draws) does not shift the
others. No global RNG is used except inside :func:`seeded_init`, which restores it afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["resolve_device", "derive_seed", "make_generator", "seeded_init", "make_loader", "unpack_batch"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"`` / ``"cuda"`` / ``"cuda:1"`` as given.

    Raises:
        ValueError: an unknown name, or CUDA asked for but not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed that is a pure function of ``(seed, stream)`` (BLAKE2b; stable across runs)."""
    digest = hashlib.blake2b(f"{seed}/{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def make_generator(seed: int, stream: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded from ``(seed, stream)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, stream))


@contextlib.contextmanager
def seeded_init(seed: int, stream: str = "init") -> Iterator[None]:
    """Seed the global CPU RNG for module initialization only, restoring it on exit.

    ``nn.Module`` constructors draw their initial weights from the global RNG; this keeps the
    initialization reproducible without leaking state into (or out of) the caller.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, stream))
        yield


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
