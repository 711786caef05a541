"""The input normalization of every tensor that reaches an encoder (views and clean images alike)."""

from __future__ import annotations

import torch

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

NORMALIZATIONS: tuple[str, ...] = ("standard", "none")
"""``standard``: :func:`channel_stats`; ``none``: pixels stay in [0, 1] (the RandBits colab's input)."""

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "NORMALIZATIONS", "Normalize", "channel_stats"]


def channel_stats(channels: int, normalization: str = "standard") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel normalization ``(mean, std)``: CIFAR-10's for RGB, 0.5 / 0.5 otherwise; 0 / 1 for ``"none"``.

    0.5 / 0.5 maps [0, 1] to [-1, 1]; it is the convention for grayscale and other inputs
    where no dataset statistics apply (the base images here are stand-ins anyway).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if normalization == "none":
        return (0.0,) * channels, (1.0,) * channels
    if channels == 3:
        return CIFAR_MEAN, CIFAR_STD
    return (0.5,) * channels, (0.5,) * channels


class Normalize:
    """Normalize the first ``channels - shared_channels`` channels; leave the shared ones as they are.

    Used for every tensor that reaches the encoder (expert views, viewmaker views, clean test
    images), so all of them live in the same space. ``normalization``: ``"standard"`` (:func:`channel_stats`)
    or ``"none"`` (the identity: images stay in [0, 1]).
    """

    def __init__(self, channels: int, shared_channels: int = 0, normalization: str = "standard") -> None:
        if not 0 <= shared_channels < channels:
            raise ValueError(f"need 0 <= shared_channels < channels, got {shared_channels}, {channels}")
        self.channels = channels
        self.shared_channels = shared_channels
        self.mean, self.std = channel_stats(channels - shared_channels, normalization)
        self._stats: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def _tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mean`` and ``std`` as ``(1, k, 1, 1)`` tensors on ``like``'s device and dtype, made once per
        pair (not a host->device copy on every call)."""
        key = (like.device, like.dtype)
        if key not in self._stats:
            k = self.channels - self.shared_channels
            self._stats[key] = (torch.tensor(self.mean, dtype=like.dtype, device=like.device).view(1, k, 1, 1),
                                torch.tensor(self.std, dtype=like.dtype, device=like.device).view(1, k, 1, 1))
        return self._stats[key]

    def __call__(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Shape: ``x`` is ``(B, channels, H, W)``; returns the same shape (written into ``out`` when given:
        the same values, computed there instead of copied there)."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, H, W), got {tuple(x.shape)}")
        k = self.channels - self.shared_channels
        mean, std = self._tensors(x)
        if not self.shared_channels:  # the same values without a copy through torch.cat
            if out is None:
                return (x - mean) / std
            return torch.sub(x, mean, out=out).div_(std)
        y = torch.cat([(x[:, :k] - mean) / std, x[:, k:]], dim=1)
        return y if out is None else out.copy_(y)
