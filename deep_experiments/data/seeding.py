"""Per-item random streams: every random draw of an item is a pure function of its key.

Keys look like ``(seed, stream, split, [epoch,] index)``. Drawing from a generator built from the key
(never from a global RNG) makes an item independent of DataLoader workers, batch order and resumption.
"""

from __future__ import annotations

import hashlib
import struct

import torch

# Streams keep the base crop, the per-epoch overlay, the randbit id, the audio noise type and the second
# view's own overlay statistically independent.
BASE_STREAM = 0
OVERLAY_STREAM = 1
RANDBIT_ID_STREAM = 2
NOISE_TYPE_STREAM = 3
SECOND_OVERLAY_STREAM = 4
"""The overlay of a view that draws its own (de-shared overlays, :meth:`TwoTaskDataset.with_second_overlay`)."""
SPLIT_CODES = {"train": 0, "test": 1}


def key_hash(*key: int) -> int:
    """A 64-bit unsigned integer that is a pseudo-random function of the ints ``key`` (each in [0, 2**64)).

    BLAKE2b of the packed key: well mixed like ``numpy.random.SeedSequence`` but ~30x cheaper, which
    matters at one call per item load.
    """
    if any(not 0 <= k < 2**64 for k in key):
        raise ValueError(f"key entries must be in [0, 2**64), got {key!r}")
    digest = hashlib.blake2b(struct.pack(f"<{len(key)}Q", *key), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def item_generator(*key: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``key``.

    torch's CPU generator keeps only 32 bits of its seed, so two of millions of keys may share a
    stream; that repeats one random overlay draw, which is harmless.
    """
    return torch.Generator().manual_seed(key_hash(*key))
