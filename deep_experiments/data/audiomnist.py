"""Real AudioMNIST (Becker et al. 2018) read from its wav files, for users who have the recordings.

Layout (the public repository ``soerenab/AudioMNIST``): ``data/<speaker>/<digit>_<speaker>_<index>.wav``,
60 speakers ``01``-``60``, digits 0-9, repetitions 0-49, mono 48 kHz. :func:`load_audiomnist`
reads every clip, checks its folder and name, and resamples it to ``sample_rate`` with
``scipy.signal.resample_poly`` (polyphase, Kaiser-windowed anti-aliasing). The audio file of the
dataset (:mod:`.audio`) is then built from these waveforms by ``scripts/build_audio_offline.py
--audiomnist DIR``; nothing here is needed at training time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FILE_NAME", "NATIVE_RATE", "TEST_SPEAKERS", "SpokenDigits", "load_audiomnist", "read_wav"]

FILE_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[0-9]{2})_(?P<index>[0-9]+)\.wav")
SPEAKER_DIR = re.compile(r"[0-9]{2}")
NATIVE_RATE = 48_000
TEST_SPEAKERS: tuple[int, ...] = (5, 13, 18, 22, 26, 32, 33, 42, 45, 51, 52, 60)
"""The Viewmaker code's AudioMNIST test speakers (``AUDIOMNIST_TEST_SPK``); the other 48 train."""


@dataclass(frozen=True)
class SpokenDigits:
    """Clips of one folder: float64 waveforms in [-1, 1] at ``sample_rate`` and their labels.

    ``paths`` are sorted (speaker folder, then file name), and every array follows that order.
    """

    waveforms: tuple[np.ndarray, ...]
    digits: np.ndarray
    speakers: np.ndarray
    repetitions: np.ndarray
    paths: tuple[Path, ...]
    sample_rate: int


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A mono wav file as float64 samples in [-1, 1] and its rate (integer or float PCM).

    Raises:
        ValueError: unreadable, not mono, empty, or an unsupported sample format (naming the file).
    """
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable wav file ({err})") from None
    if data.ndim != 1:
        raise ValueError(f"{path}: expected mono audio, got {data.shape[1]} channels")
    if data.size == 0 or rate <= 0:
        raise ValueError(f"{path}: empty audio (rate {rate}, {data.size} samples)")
    if data.dtype == np.uint8:
        samples = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.signedinteger):
        samples = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif np.issubdtype(data.dtype, np.floating):
        samples = data.astype(np.float64)
    else:
        raise ValueError(f"{path}: unsupported sample format {data.dtype}")
    if not np.isfinite(samples).all():
        raise ValueError(f"{path}: non-finite samples")
    return samples, int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` resampled to ``target`` Hz (``resample_poly``; unchanged when equal)."""
    from scipy.signal import resample_poly

    if rate == target:
        return samples
    g = math.gcd(rate, target)
    return resample_poly(samples, target // g, rate // g)


def _data_dir(root: Path) -> Path:
    """The folder of speaker folders: ``root`` itself or its ``data`` subfolder (the repository's layout)."""
    return root / "data" if (root / "data").is_dir() and not SPEAKER_DIR.fullmatch(root.name) else root


def load_audiomnist(root: str | Path, sample_rate: int = 8_000) -> SpokenDigits:
    """Every clip under ``root`` (the AudioMNIST repository or its ``data`` folder), resampled.

    Files other than ``*.wav`` are ignored (AudioMNIST ships ``audioMNIST_meta.txt``).

    Raises:
        FileNotFoundError: ``root`` missing or holding no speaker folder with wav files.
        ValueError: a folder that is not a two-digit speaker id, a wav name not
            ``<digit>_<speaker>_<index>.wav``, a speaker in the name that differs from its
            folder's, or an unreadable wav file (each naming the path).
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"AudioMNIST folder not found: {base}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    folder = _data_dir(base)
    waveforms, digits, speakers, reps, paths = [], [], [], [], []
    for speaker_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not SPEAKER_DIR.fullmatch(speaker_dir.name):
            raise ValueError(f"{speaker_dir}: not an AudioMNIST speaker folder (expected two digits, e.g. 01)")
        for path in sorted(speaker_dir.glob("*.wav")):
            match = FILE_NAME.fullmatch(path.name)
            if match is None:
                raise ValueError(f"{path}: not an AudioMNIST file name (expected <digit>_<speaker>_<index>.wav)")
            if match["speaker"] != speaker_dir.name:
                raise ValueError(f"{path}: speaker {match['speaker']} in the name but folder {speaker_dir.name}")
            samples, rate = read_wav(path)
            waveforms.append(resample(samples, rate, sample_rate))
            digits.append(int(match["digit"]))
            speakers.append(int(match["speaker"]))
            reps.append(int(match["index"]))
            paths.append(path)
    if not paths:
        raise FileNotFoundError(f"no AudioMNIST wav files under {folder} (expected <speaker>/<digit>_<speaker>_<index>.wav)")
    return SpokenDigits(tuple(waveforms), np.array(digits, dtype=np.int64), np.array(speakers, dtype=np.int64),
                        np.array(reps, dtype=np.int64), tuple(paths), sample_rate)
