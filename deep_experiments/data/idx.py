"""Check that bytes are a whole idx file (the MNIST family's format) before anything reads or writes them.

The fetch scripts (``scripts/fetch_mnist_offline.py``, ``scripts/fetch_fashion_mnist_offline.py``)
call :func:`check_idx` on every file they unpack or find in place, so that an empty, truncated or
foreign file is refused in one line naming it rather than failing inside torchvision with a
message that names nothing (``invalid literal for int() with base 16: b''``).
"""

from __future__ import annotations

__all__ = ["BadIdxFile", "check_idx"]


class BadIdxFile(ValueError):
    """Bytes that are not a whole idx file of unsigned bytes (the message names the file)."""


def check_idx(data: bytes, where: str) -> None:
    """Raise :class:`BadIdxFile` naming ``where`` unless ``data`` is a whole idx file of unsigned bytes.

    The header is ``0 0 8 NDIM`` then ``NDIM`` big-endian sizes; the file holds exactly their product of bytes.
    """
    if len(data) < 8 or data[:3] != b"\x00\x00\x08" or data[3] not in (1, 3):
        raise BadIdxFile(f"{where}: not an idx file of unsigned bytes (empty, truncated or another format)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise BadIdxFile(f"{where}: truncated in its header")
    count = 1
    for i in range(ndim):
        count *= int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
    if len(data) != header + count:
        raise BadIdxFile(f"{where}: {len(data)} bytes where its header says {header + count} (truncated or padded)")
