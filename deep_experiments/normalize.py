"""The input normalization of every tensor that reaches an encoder (views and clean images alike)."""

from __future__ import annotations

import torch

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "Normalize", "channel_stats"]


def channel_stats(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel normalization ``(mean, std)``: CIFAR-10's for RGB, 0.5 / 0.5 otherwise.

    0.5 / 0.5 maps [0, 1] to [-1, 1]; it is the convention for grayscale and other inputs
    where no dataset statistics apply (the base images here are stand-ins anyway).
    """
    if channels == 3:
        return CIFAR_MEAN, CIFAR_STD
    return (0.5,) * channels, (0.5,) * channels


class Normalize:
    """Normalize the first ``channels - shared_channels`` channels; leave the shared ones as they are.

    Used for every tensor that reaches the encoder (expert views, viewmaker views, clean test
    images), so all of them live in the same space.
    """

    def __init__(self, channels: int, shared_channels: int = 0) -> None:
        if not 0 <= shared_channels < channels:
            raise ValueError(f"need 0 <= shared_channels < channels, got {shared_channels}, {channels}")
        self.channels = channels
        self.shared_channels = shared_channels
        self.mean, self.std = channel_stats(channels - shared_channels)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: ``x`` is ``(B, channels, H, W)``; returns the same shape."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, H, W), got {tuple(x.shape)}")
        k = self.channels - self.shared_channels
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, k, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, k, 1, 1)
        return torch.cat([(x[:, :k] - mean) / std, x[:, k:]], dim=1)
