"""The Viewmaker network (Tamkin et al. 2021): a learned, budget-bounded view generator.

Architecture (the paper's image viewmaker, a Johnson et al. 2016 style-transfer network):
append one uniform-noise channel; conv 9x9 -> 32, conv 3x3 stride 2 -> 64, conv 3x3 stride 2 ->
128 (each InstanceNorm(affine) + ReLU, reflection padding); 3 residual blocks, each preceded by
appending one more uniform-noise channel (so they see 129, 130, 131 channels); two nearest
upsample x2 + conv 3x3 (-> 64, -> 32, IN + ReLU); conv 9x9 -> C channels ``y``. ``width`` scales
the channel counts (32, 64, 128 above are ``width`` = 32, the paper's; a narrower network is the
CPU protocol's departure: its cost falls roughly with ``width`` squared).

The perturbation ``delta = tanh(y)`` is rescaled per example so that its mean absolute value is
exactly the budget epsilon, and the view is ``x + delta`` in [0, 1] pixel space before
normalization, without clamping (as in the original runs). Noise is drawn fresh from the given
generator on every call, so two calls give two different views of the same batch.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Viewmaker"]


class _ConvLayer(nn.Sequential):
    """Reflection padding + convolution (+ optional InstanceNorm(affine) + ReLU)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm_act: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
        if norm_act:
            layers += [nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class _Upsample2xFunction(torch.autograd.Function):
    """Nearest upsampling x2 as one strided copy; the backward is torch's own ``upsample_nearest2d_backward``.

    The values are those of ``F.interpolate(x, scale_factor=2, mode="nearest")`` exactly (each output
    pixel is a copy of one input pixel) and the gradient is computed by the very op that differentiates
    it, so a network using it computes bit for bit what one with ``nn.Upsample`` does. The reason is
    speed on CPU: torch's upsampling kernel goes through a channels-last copy and back (measured at the
    CPU preset's sizes, one thread: 24 ms against 5 ms for a ``(256, 16, 16, 16)`` input).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        b, c, h, w = x.shape
        ctx.input_size = (b, c, h, w)
        return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        b, c, h, w = ctx.input_size
        return torch.ops.aten.upsample_nearest2d_backward(grad, [2 * h, 2 * w], [b, c, h, w], 2.0, 2.0)


class _Upsample2x(nn.Upsample):
    """``nn.Upsample(scale_factor=2, mode="nearest")`` computed by :class:`_Upsample2xFunction` (same bits, faster)."""

    def __init__(self) -> None:
        super().__init__(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, 2H, 2W)``."""
        return _Upsample2xFunction.apply(x)


class _UpsampleConv(nn.Sequential):
    """Nearest upsample x2, reflection padding, conv 3x3, InstanceNorm(affine), ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(_Upsample2x(), _ConvLayer(cin, cout, 3))


class _ResidualBlock(nn.Module):
    """Johnson residual block: conv-IN-ReLU-conv-IN plus the identity; keeps the channel count."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _ConvLayer(channels, channels, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        return x + self.body(x)


def _append_noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Append one channel of U[0, 1) noise. Shape: ``(B, C, H, W)`` -> ``(B, C + 1, H, W)``."""
    b, _, h, w = x.shape
    noise = torch.rand(b, 1, h, w, generator=generator, device=x.device, dtype=x.dtype)
    return torch.cat([x, noise], dim=1)


class Viewmaker(nn.Module):
    """Learned view generator bounded by an L1 (mean absolute) budget per example.

    Args:
        channels: image channels C (input and output).
        budget: mean ``|delta|`` per example (0.05 shapes/digits/CIFAR, 0.1 letters).
        num_res_blocks: residual blocks, each preceded by a fresh noise channel (paper: 3).
        width: channels of the first layer, doubled at each of the two stride-2 stages (paper: 32).
    """

    def __init__(self, channels: int, budget: float = 0.05, num_res_blocks: int = 3, width: int = 32) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        if not budget > 0:
            raise ValueError(f"budget must be > 0, got {budget}")
        if num_res_blocks < 0:
            raise ValueError(f"num_res_blocks must be >= 0, got {num_res_blocks}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.channels = channels
        self.budget = float(budget)
        w1, w2, w4 = width, 2 * width, 4 * width
        self.down = nn.Sequential(
            _ConvLayer(channels + 1, w1, 9), _ConvLayer(w1, w2, 3, stride=2), _ConvLayer(w2, w4, 3, stride=2)
        )
        self.res = nn.ModuleList(_ResidualBlock(w4 + i + 1) for i in range(num_res_blocks))
        self.up = nn.Sequential(_UpsampleConv(w4 + num_res_blocks, w2), _UpsampleConv(w2, w1))
        self.out = _ConvLayer(w1, channels, 9, norm_act=False)

    def raw(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The unbounded network output ``y``. Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        y = self.down(_append_noise(x, generator))
        for block in self.res:
            y = block(_append_noise(y, generator))
        return self.out(self.up(y))

    def delta(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Perturbation ``tanh(y)`` rescaled so each example's mean ``|delta|`` equals the budget.

        Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
        """
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected images of shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"height and width must be multiples of 4 (two stride-2 stages), got {x.shape[2:]}")
        d = torch.tanh(self.raw(x, generator))
        magnitude = d.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        return d * (self.budget / magnitude)

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A view ``x + delta`` (pixel space, not clamped, not normalized).

        Args:
            x: images in [0, 1]. Shape: ``(B, C, H, W)``, H and W multiples of 4.
            generator: source of the noise channels; must live on ``x.device``.

        Returns:
            Shape: ``(B, C, H, W)``.
        """
        return x + self.delta(x, generator)
