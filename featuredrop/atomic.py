"""Result files written whole or not at all, and output folders checked before any work starts.

Every result file of the package (run ``config.json``, ``probe.json``, the metrics rewrite on
resume, checkpoints, the sweep's CSV/JSON, the figures and their tables) is written through
:func:`atomic_open` or :func:`atomic_write`: the bytes go to a temporary file in the same folder,
are flushed and fsynced, and only then ``os.replace`` puts the file in place. A crash, a kill or a
full disk at any point leaves either the old file or the new one, never half of one. The
temporary file is ``.NAME.tmp-XXXX`` beside the target and is removed when the write fails.

:func:`check_output_dir` is what the CLIs call on ``--out`` before computing anything.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "check_output_dir"]


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``.

    Args:
        path: the file to (re)write; its folder must exist.
        mode: ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
        kwargs: passed to :func:`open` (``newline``, ``encoding``).

    On an exception inside the block the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode(path))
        with open(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _file_mode(path: Path) -> int:
    """The permissions ``path`` keeps (when it exists) or that a plain ``open`` would give it (umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; creates nothing.

    Raises:
        ValueError: naming ``flag`` and ``path``: it is an existing file, a parent is a file,
            or the folder (or its nearest existing parent) is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path}: exists and is not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{flag} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is" if probe == path else f"cannot be created: {probe}"
        raise ValueError(f"{flag} {path}: {what} not writable")
    return path
