"""Audio two-task dataset: a spoken digit (task A) under one of three background noises (task B).

An item is a 1 x 64 x 64 log-mel spectrogram in [0, 1] (rows: 64 mel bands, lowest first; columns:
64 frames of one second), the Viewmaker paper's audio input size. The offline default is a
**stand-in for AudioMNIST**: digits spoken by espeak-ng voices (``scripts/build_audio_offline.py``);
the same script turns real AudioMNIST wav files into the same file (:mod:`.audiomnist`).

Signal chain (fixed, stored with the file): 8 kHz, 1-s clips; speech peak-normalized to 1 (the
[-1, 1] range), each noise segment to peak :data:`NOISE_PEAK` (0.05, docs/deep-arm.md); STFT with a
256-point periodic Hann window, hop 125, centred (65 frames, the last dropped), power scaled so
that a full-scale sine has 0 dB in its band; 64 triangular mel filters (Slaney mel scale, 0-4 kHz,
peak 1, ``librosa.filters.mel(norm=None)``); dB mapped linearly from :data:`DB_RANGE`
(-90 dB -> 0, -10 dB -> 1) and clipped. In the espeak-ng build, a clip's loudest bin is about
-11 dB (0.07 % of bins clip at 1), the 0.05-peak noises' bins lie mostly between -90 and -40 dB
(medians -64 to -76 dB), true silence is 0. With this fixed range the viewmaker
budget (``spec.viewmaker_budget`` 0.125, docs/deep-arm.md) is a mean change of 10 dB per pixel.

Decision: precomputed spectrograms, mixed in the power domain. The file stores the clean speech
and banks of 1-s noise segments as uint8 log-mel images (0.31 dB steps; 0 = silence), so the
training machine needs neither librosa nor espeak-ng and the file stays small (waveforms of
10,000 clips would make a file of hundreds of MiB to carry to a training machine). An item load mixes
``power = speech + strength**2 * noise`` per mel bin, a table look-up and one log over 64 x 64
values (tens of microseconds). Adding powers is exact in expectation for independent signals (the
cross term of speech and noise averages to zero) but not bin by bin: the stand-in for mixing
waveforms, stated wherever results are shown.

Decision: how the noise is shared between views. A natural reading of the setup is "the noise type is drawn
independently per view"; but a feature that differs between the two views of an item is not
shared, so it cannot be the easy shared feature that suppresses the digit (the point of the
dataset), and per-view noise would make task B an augmentation, not a feature. So here, as for
the image overlays: the noise **type** (the task-B label) is fixed per example, a hash of (seed,
split, index), and the noise **segment** is drawn fresh on every load from (seed, split, epoch,
index), one of the split's bank of that type, and is in the item itself, so both views share it.
``overlay_strength`` scales the noise amplitude (0: the clean speech, the no-noise control);
``base`` (feature-dropout views) is the same clip without noise, so oracle dropout of the noise is
the existing ``dropout`` kind.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from featuredrop.atomic import atomic_write

from .dataset import TwoTaskDataset, collate
from .seeding import NOISE_TYPE_STREAM, OVERLAY_STREAM, SPLIT_CODES, item_generator, key_hash

__all__ = [
    "AUDIO_FILE", "NOISE_DOMINATES", "AudioArrays", "AudioTwoTaskDataset", "NoiseBank", "SpeechSpectrograms", "log_mel_db",
    "load_audio_split", "quantize_db", "write_audio_file",
]

SAMPLE_RATE = 8_000
CLIP_SAMPLES = SAMPLE_RATE  # one second
N_FFT = 256
HOP = 125
N_MELS = 64
FRAMES = 64
FMIN, FMAX = 0.0, SAMPLE_RATE / 2
DB_RANGE = (-90.0, -10.0)
"""dB mapped to 0 and 1: a full-scale sine in its band is 0 dB; below -90 dB counts as silence."""

NOISE_DOMINATES = 10.0 * math.log10(2.0) / (DB_RANGE[1] - DB_RANGE[0])
"""How far above the clean clip a noisy bin lies (in [0, 1] image units: 3.01 dB) when the noise's power
equals the speech's; a larger step means the noise dominates that bin (``viewmaker_focus``'s audio mask)."""
NOISE_TYPES: tuple[str, ...] = ("babble", "traffic", "machinery")
NOISE_PEAK = 0.05
"""Peak amplitude of every noise segment, relative to speech peak-normalized to 1."""
SPEECH_PEAK = 1.0
DIGITS = 10
AUDIO_FILE = "audio-digits.npz"
FILE_FORMAT = 1
BUILD_HINT = ("build it with `python scripts/build_audio_offline.py --out DIR` (espeak-ng stand-in for AudioMNIST; "
              "`--audiomnist WAV_DIR` for the real recordings) and pass --data-dir DIR")
_LEVELS = 255


def log_mel_db(waveforms: torch.Tensor, filterbank: torch.Tensor) -> torch.Tensor:
    """Log-mel power in dB of 1-s clips (see the module docstring for the chain).

    Computed in the dtype of ``waveforms`` (the build uses float64 so the uint8 file is reproducible).
    Shape: ``waveforms`` ``(N, CLIP_SAMPLES)``, ``filterbank`` ``(N_MELS, N_FFT // 2 + 1)`` ->
    ``(N, N_MELS, FRAMES)``.
    """
    if waveforms.ndim != 2 or waveforms.shape[1] != CLIP_SAMPLES:
        raise ValueError(f"waveforms must be (N, {CLIP_SAMPLES}), got {tuple(waveforms.shape)}")
    if tuple(filterbank.shape) != (N_MELS, N_FFT // 2 + 1):
        raise ValueError(f"filterbank must be ({N_MELS}, {N_FFT // 2 + 1}), got {tuple(filterbank.shape)}")
    window = torch.hann_window(N_FFT, periodic=True, dtype=waveforms.dtype)
    spec = torch.stft(waveforms, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec[..., :FRAMES].abs().square() * (2.0 / window.sum()) ** 2
    mel = filterbank.to(waveforms.dtype) @ power
    return 10.0 * torch.log10(mel.clamp_min(1e-30))


def quantize_db(db: torch.Tensor | np.ndarray) -> np.ndarray:
    """dB -> uint8 levels: :data:`DB_RANGE` linearly onto 0-255, rounded, clipped (0 = silence)."""
    lo, hi = DB_RANGE
    unit = np.clip((np.asarray(db, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return np.rint(unit * _LEVELS).astype(np.uint8)


def _power_table() -> torch.Tensor:
    """Mel power of each uint8 level (level 0 = silence = power 0). Shape: ``(256,)``."""
    lo, hi = DB_RANGE
    db = lo + torch.arange(_LEVELS + 1, dtype=torch.float64) / _LEVELS * (hi - lo)
    table = torch.pow(10.0, db / 10.0)
    table[0] = 0.0
    return table.float()


_POWER = _power_table()
_FLOOR_POWER = 10.0 ** (DB_RANGE[0] / 10.0)


def mix_levels(speech: torch.Tensor, noise: torch.Tensor, strength: float) -> torch.Tensor:
    """The [0, 1] log-mel image of ``speech + strength * noise``, powers added per mel bin.

    Shape: uint8 ``speech`` and ``noise`` ``(..., N_MELS, FRAMES)`` -> float32, same shape.
    """
    power = _POWER[speech.long()] + (strength * strength) * _POWER[noise.long()]
    db = 10.0 * torch.log10(power.clamp_min(_FLOOR_POWER))
    lo, hi = DB_RANGE
    return ((db - lo) / (hi - lo)).clamp_(0.0, 1.0)


@dataclass(frozen=True)
class AudioArrays:
    """One split of an audio file: uint8 log-mel levels, labels, speakers and the noise bank.

    Attributes:
        speech: clean clips ``(N, N_MELS, FRAMES)``.
        digits: task-A labels ``(N,)`` in 0-9.
        speakers: speaker id of each clip ``(N,)`` (an index into the file's speaker names).
        noise: noise segments ``(len(NOISE_TYPES), M, N_MELS, FRAMES)``, type-major.
    """

    speech: np.ndarray
    digits: np.ndarray
    speakers: np.ndarray
    noise: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.speech)
        checks = [
            (self.speech.dtype == np.uint8 and self.speech.shape[1:] == (N_MELS, FRAMES) and n > 0,
             f"speech must be uint8 (N>0, {N_MELS}, {FRAMES}), got {self.speech.dtype} {self.speech.shape}"),
            (self.digits.shape == (n,) and np.issubdtype(self.digits.dtype, np.integer)
             and (n == 0 or 0 <= int(self.digits.min()) and int(self.digits.max()) < DIGITS),
             f"digits must be {n} integers in [0, {DIGITS})"),
            (self.speakers.shape == (n,) and np.issubdtype(self.speakers.dtype, np.integer),
             f"speakers must be {n} integers"),
            (self.noise.dtype == np.uint8 and self.noise.ndim == 4 and self.noise.shape[0] == len(NOISE_TYPES)
             and self.noise.shape[1] > 0 and self.noise.shape[2:] == (N_MELS, FRAMES),
             f"noise must be uint8 ({len(NOISE_TYPES)}, M>0, {N_MELS}, {FRAMES}), got {self.noise.dtype} "
             f"{self.noise.shape}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip member with a fixed date and permissions, so equal arrays give equal bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def write_audio_file(path: str | Path, splits: dict[str, AudioArrays], speakers: list[str],
                     filterbank: np.ndarray, meta: dict[str, Any]) -> None:
    """Write an audio file: an ``.npz`` (numpy's zip of ``.npy`` members), byte-reproducible and atomic.

    Members: ``{split}_{speech,digits,speakers,noise}`` per split, ``speaker_names``, ``noise_types``,
    ``mel_filterbank`` and ``meta`` (a JSON string: signal chain, source, build settings).
    """
    if set(splits) != set(SPLIT_CODES):
        raise ValueError(f"need the splits {sorted(SPLIT_CODES)}, got {sorted(splits)}")
    full_meta = {"format": FILE_FORMAT, "sample_rate": SAMPLE_RATE, "clip_samples": CLIP_SAMPLES, "n_fft": N_FFT,
                 "hop": HOP, "n_mels": N_MELS, "frames": FRAMES, "fmin": FMIN, "fmax": FMAX,
                 "db_range": list(DB_RANGE), "noise_peak": NOISE_PEAK, "speech_peak": SPEECH_PEAK, **meta}
    arrays: dict[str, np.ndarray] = {
        "speaker_names": np.array(speakers, dtype=str),
        "noise_types": np.array(NOISE_TYPES, dtype=str),
        "mel_filterbank": np.asarray(filterbank, dtype=np.float32),
        "meta": np.array(json.dumps(full_meta, sort_keys=True)),
    }
    for split, data in splits.items():
        arrays |= {f"{split}_speech": data.speech, f"{split}_digits": data.digits.astype(np.int64),
                   f"{split}_speakers": data.speakers.astype(np.int64), f"{split}_noise": data.noise}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name], order="C"), allow_pickle=False)
            archive.writestr(_zip_entry(f"{name}.npy"), member.getvalue())
    atomic_write(path, buffer.getvalue())


def audio_file(data_dir: str | Path | None) -> Path:
    """The audio file inside ``data_dir``; a one-line error saying how to build it when missing."""
    if data_dir is None:
        raise ValueError(f"the audio dataset needs data.data_dir (--data-dir): the folder of {AUDIO_FILE}; "
                         f"{BUILD_HINT}")
    path = Path(data_dir) / AUDIO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"audio data not found: {path}; {BUILD_HINT}")
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` JSON of an audio file (``ValueError`` naming it when it is empty, truncated or not one)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["meta"]))
    except (KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"{path} is not a readable audio file ({type(err).__name__}: {err}); {BUILD_HINT}") from None


def load_audio_split(data_dir: str | Path | None, split: str) -> AudioArrays:
    """Split ``split`` of ``data_dir/audio-digits.npz``, checked (format, signal chain, shapes).

    Raises:
        FileNotFoundError: no file (the message says which script builds it).
        ValueError: a file that is not a readable audio file of this format.
    """
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {tuple(SPLIT_CODES)}, got {split!r}")
    path = audio_file(data_dir)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = AudioArrays(*(npz[f"{split}_{key}"] for key in ("speech", "digits", "speakers", "noise")))
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, ValueError) as err:
        # EOFError: an empty file (np.load finds no magic bytes)
        raise ValueError(f"{path} is not a readable audio file ({type(err).__name__}: {err}); {BUILD_HINT}") from None
    expected = {"format": FILE_FORMAT, "db_range": list(DB_RANGE), "n_mels": N_MELS, "frames": FRAMES}
    wrong = {key: meta.get(key) for key, value in expected.items() if meta.get(key) != value}
    if wrong:
        raise ValueError(f"{path} was built with other settings {wrong} (expected {expected}); rebuild it: {BUILD_HINT}")
    return arrays


class SpeechSpectrograms:
    """Clean clips as base images: ``spectrograms[i] -> (float32 (1, 64, 64) in [0, 1], digit)``."""

    def __init__(self, speech: np.ndarray, digits: np.ndarray) -> None:
        if len(speech) != len(digits):
            raise ValueError(f"{len(speech)} clips but {len(digits)} digits")
        self.levels = torch.from_numpy(np.ascontiguousarray(speech))
        self.digits = torch.from_numpy(np.asarray(digits, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.levels[index][None].float().div_(_LEVELS), int(self.digits[index])


class NoiseBank:
    """Task B: the noise type of each item (fixed per item) and its segment of one load.

    The type is ``key_hash(seed, NOISE_TYPE_STREAM, split, index) % 3`` (like RandBit's ids), the
    segment one of the bank's segments of that type, drawn from the load's generator.

    Args:
        noise: uint8 levels ``(3, M, N_MELS, FRAMES)`` of one split.
    """

    num_classes = len(NOISE_TYPES)

    def __init__(self, noise: np.ndarray, split: str, seed: int) -> None:
        self.noise = torch.from_numpy(np.ascontiguousarray(noise))
        self.split, self.seed = split, seed

    def noise_type(self, index: int) -> int:
        """Task-B label of item ``index``: 0 babble, 1 traffic, 2 machinery."""
        return key_hash(self.seed, NOISE_TYPE_STREAM, SPLIT_CODES[self.split], index) % self.num_classes

    def draw(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, int]:
        """``(uint8 segment (N_MELS, FRAMES), label)`` of one load of item ``index``."""
        label = self.noise_type(index)
        pick = int(torch.randint(self.noise.shape[1], (1,), generator=gen))
        return self.noise[label, pick], label


class AudioTwoTaskDataset(TwoTaskDataset):
    """Items ``(spectrogram, digit, noise type)``; see the module docstring for the mixing and sharing.

    The :class:`TwoTaskDataset` interface (epochs, ``with_base``, ``at_strength``), with
    ``overlay_strength`` as the noise amplitude factor.
    """

    _bases: SpeechSpectrograms
    _overlay: NoiseBank

    def _load(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        index = self._index(i)
        base, label_a = self._bases[index]
        gen = item_generator(self.seed, OVERLAY_STREAM, SPLIT_CODES[self.split], self._epoch, index)
        segment, label_b = self._overlay.draw(index, gen)
        strength = self.overlay_strength
        if strength == 0:
            return base.clone(), label_a, label_b, base
        image = mix_levels(self._bases.levels[index], segment, strength)[None]
        return image, label_a, label_b, base

    def _load_many(self, indices: Sequence[int], second: bool = False) -> tuple[torch.Tensor, ...]:
        """The collated items (one at a time: the noise is mixed per clip)."""
        return collate([self._load(i) for i in indices])

    def with_second_overlay(self) -> Any:
        """Refused: the noise of a clip is mixed in the power domain, not drawn as a second overlay layer."""
        raise ValueError("the audio dataset has no second overlay per clip (de-shared views need a C+* dataset)")

    def at_strength(self, overlay_strength: float) -> AudioTwoTaskDataset:
        """The same items (clips, noise draws, split, seed; epoch 0) at another noise amplitude."""
        if not (math.isfinite(overlay_strength) and overlay_strength >= 0):
            raise ValueError(f"overlay_strength must be a finite number >= 0, got {overlay_strength!r}")
        return AudioTwoTaskDataset(self.spec, self._bases, self._overlay, split=self.split, seed=self.seed,
                                   overlay_strength=overlay_strength)


def audio_parts(data_dir: str | Path | None, split: str, size: int | None, seed: int
                ) -> tuple[SpeechSpectrograms, NoiseBank]:
    """The clean clips (first ``size``) and the noise bank of ``split`` from ``data_dir``."""
    arrays = load_audio_split(data_dir, split)
    n = len(arrays.speech) if size is None else min(size, len(arrays.speech))
    return SpeechSpectrograms(arrays.speech[:n], arrays.digits[:n]), NoiseBank(arrays.noise, split, seed)
