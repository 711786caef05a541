"""Expert augmentation policy ``"audio"``: batched views of [0, 1] log-mel spectrograms.

The audio dataset (:mod:`deep_experiments.data.audio`) stores spectrograms, so the waveform
augmentations of the audio literature are applied as their spectrogram-domain versions, batched
on the device with one set of random parameters per example from an explicit generator (as
:mod:`deep_experiments.augment`). Rows are mel bands (lowest first), columns time frames; a
value is a dB level, ``dB_SPAN`` (80 dB) per unit, 0 = silence. In order:

1. **speed, time shift and pitch** in one bilinear resample (``grid_sample``, silence padding):
   time axis stretched by a speed factor in 0.85-1.15 (speed perturbation, Ko et al. 2015 used
   0.9 / 1.0 / 1.1) about the clip's centre and shifted by up to 20 % of the clip (the Viewmaker
   code's waveform crop keeps a clip's segment in place and silences the rest; a shift keeps
   the whole word); mel axis shifted by up to 3 bands (about 2 semitones above 1 kHz, where the
   mel scale is logarithmic: a pitch shift; below 1 kHz it is a frequency shift);
2. **gain**: +-6 dB on every non-silent bin (a waveform gain shifts every dB level equally);
3. **SpecAugment masking** (Park et al. 2019) as the Viewmaker repository's spectral baseline
   (``SpectrumAugmentation``: nlpaug ``FrequencyMaskingAug`` / ``TimeMaskingAug``, ``mask_factor``
   40 on 64 x 64 inputs): one band of ``f`` mel rows and one of ``t`` frames, ``f, t`` uniform
   in [0, 40), set to silence (the masks act on the power spectrogram there);
4. **additive noise**: Gaussian noise on the log-mel values with standard deviation 0.25 x the
   dataset's dB standard deviation, as that baseline (0.25 x AudioMNIST's 11.8 dB = 2.95 dB);
5. clamp to [0, 1] (normalization follows in :class:`deep_experiments.augment.ExpertAugment`).

Source: the Viewmaker paper's audio baselines (Tamkin et al. 2021, public code
``alextamkin/viewmaker``, ``src/datasets/librispeech.py``): waveform views (random crop of 8-100 %
of the clip kept in place + white noise; optionally loudness and pitch) and spectral views
(frequency and time masks + log-domain Gaussian noise). This policy takes the spectral views and
adds the waveform ones (time shift standing in for the crop, gain for loudness, pitch) and speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["AudioPolicy", "AudioAugment", "DB_SPAN"]

DB_SPAN = 80.0
"""dB per unit of the [0, 1] spectrogram (the audio dataset's -90 to -10 dB range)."""


@dataclass(frozen=True)
class AudioPolicy:
    """Ranges of the ``"audio"`` policy (see the module docstring for their sources)."""

    speed: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.2
    pitch_bands: float = 3.0
    gain_db: float = 6.0
    mask_max: int = 40
    noise_db: float = 0.25 * 11.8

    def __post_init__(self) -> None:
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be a range 0 < low <= high, got {self.speed}")
        for name in ("shift", "pitch_bands", "gain_db", "mask_max", "noise_db"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


def _uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` floats uniform in ``[low, high)``. Shape: ``(n,)``."""
    return low + (high - low) * torch.rand(n, generator=g, device=device)


def _band_mask(n: int, length: int, max_width: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """True inside one random band per example: width uniform in [0, max_width), start so it fits.

    Shape: ``(n, length)`` bool.
    """
    width = (torch.rand(n, generator=g, device=device) * min(max_width, length)).floor()
    start = (torch.rand(n, generator=g, device=device) * (length - width + 1)).floor().clamp_(max=length - width)
    pos = torch.arange(length, device=device)
    return (pos >= start[:, None]) & (pos < (start + width)[:, None])


class AudioAugment:
    """The ``"audio"`` policy on ``(B, C, H, W)`` spectrograms in [0, 1] (H: mel bands, W: frames).

    Args:
        size: output side length (64 for the audio dataset).
        policy: the ranges (:class:`AudioPolicy`).
    """

    def __init__(self, size: int, policy: AudioPolicy | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        self.policy = policy or AudioPolicy()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One random view of every spectrogram. Shape: ``(B, C, H, W)`` -> ``(B, C, size, size)``."""
        if x.ndim != 4:
            raise ValueError(f"expected spectrograms of shape (B, C, H, W), got {tuple(x.shape)}")
        n, dev, p, g = x.shape[0], x.device, self.policy, generator
        speed = _uniform(n, *p.speed, g, dev)
        shift = _uniform(n, -p.shift, p.shift, g, dev)
        pitch = _uniform(n, -p.pitch_bands, p.pitch_bands, g, dev)
        theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=dev)
        theta[:, 0, 0] = speed  # source time = speed * output time - shift (normalized coordinates)
        theta[:, 0, 2] = -2 * shift
        theta[:, 1, 1] = 1.0
        theta[:, 1, 2] = -2 * pitch / x.shape[2]  # content moves up by `pitch` bands
        grid = F.affine_grid(theta, [n, x.shape[1], self.size, self.size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        gain = _uniform(n, -p.gain_db, p.gain_db, g, dev).view(-1, 1, 1, 1) / DB_SPAN
        x = torch.where(x > 0, (x + gain).clamp(0, 1), x)
        freq = _band_mask(n, self.size, p.mask_max, g, dev)[:, None, :, None]
        time = _band_mask(n, self.size, p.mask_max, g, dev)[:, None, None, :]
        x = x.masked_fill(freq | time, 0.0)
        noise = torch.randn(x.shape, generator=g, device=dev, dtype=x.dtype) * (p.noise_db / DB_SPAN)
        return (x + noise).clamp_(0.0, 1.0)
