"""Test helper: small audio files written from arrays the tests make (no espeak-ng, no librosa).

Clip ``i`` of a split has a bright band of 3 mel rows at ``4 + 5 * digit`` over 20 random frames
on silence, so the digit can be read back from the image; noise type ``k`` of the bank is a
level of ``60 + 40 * k`` plus up to 30 of random texture, so the three types differ.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from deep_experiments.data.audio import AUDIO_FILE, FRAMES, N_FFT, N_MELS, AudioArrays, write_audio_file

SIZES = {"train": 160, "test": 160}


def synthetic_arrays(n: int, segments: int, rng: np.random.Generator, first_speaker: int = 0) -> AudioArrays:
    """``n`` clips (digits 0-9 in turn), 16 speakers' worth of ids from ``first_speaker``, ``segments`` per noise type."""
    digits = np.arange(n) % 10
    speech = np.zeros((n, N_MELS, FRAMES), dtype=np.uint8)
    for i, d in enumerate(digits):
        start = int(rng.integers(0, FRAMES - 20))
        speech[i, 4 + 5 * d:7 + 5 * d, start:start + 20] = rng.integers(150, 256, size=(3, 20))
    noise = np.stack([60 + 40 * k + rng.integers(0, 31, size=(segments, N_MELS, FRAMES)) for k in range(3)])
    return AudioArrays(speech, digits, first_speaker + np.arange(n) // 10, noise.astype(np.uint8))


def write_synthetic(folder: Path, sizes: dict[str, int] | None = None, segments: int = 64, seed: int = 0) -> Path:
    """Write a synthetic ``audio-digits.npz`` into ``folder``; returns the folder (a ``--data-dir``)."""
    sizes = sizes or SIZES
    rng = np.random.default_rng(seed)
    splits = {"train": synthetic_arrays(sizes["train"], segments, rng),
              "test": synthetic_arrays(sizes["test"], segments, rng, first_speaker=1000)}
    names = [f"speaker-{i}" for i in range(1000 + sizes["test"] // 10 + 1)]
    folder.mkdir(parents=True, exist_ok=True)
    write_audio_file(folder / AUDIO_FILE, splits, names, np.zeros((N_MELS, N_FFT // 2 + 1)),
                     {"source": "synthetic test arrays"})
    return folder


@functools.cache
def audio_data_dir() -> str:
    """One synthetic file per test session, for the tests parametrized over every dataset."""
    folder = Path(tempfile.mkdtemp(prefix="featuredrop-audio-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return str(write_synthetic(folder))
