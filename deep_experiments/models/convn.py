"""ConvN, the small encoder of the RandBits-MNIST colab (Chen et al. 2021), as a contrastive encoder.

From google-research/simclr ``colabs/intriguing_properties/randbits_mnist.ipynb`` (see
docs/related-work.md): three 3x3 stride-2 convolutions with ``width * (1, 2, 2)`` channels
(32, 64, 64 in the colab), each + BatchNorm + ReLU, flattened, then a dense layer of ``4 * width``
units (128) + BatchNorm + ReLU: the *representation* that linear evaluation reads. The contrastive
loss sees a projection of it: dense ``8 * width`` (256) + BatchNorm + ReLU, then dense ``out_dim``
(64). As in the colab no convolution or dense layer has a bias (BatchNorm supplies the shift).
Padding 1: a 28x28 input becomes 14, 7, 4 pixels wide, as TF's "same" padding (which pads
bottom/right only; the sizes match, the pixel alignment differs by one).

It exposes the same interface as :class:`deep_experiments.models.resnet.ResNet18` (``features``,
``pooled``, ``forward``), with ``features = pooled =`` the representation: ConvN has no spatial
map to pool, and the colab evaluates the representation.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvN"]


def _after_stride2(size: int) -> int:
    """Output size of a 3x3 stride-2 convolution with padding 1 ("same" padding)."""
    return (size + 1) // 2


class ConvN(nn.Module):
    """The colab's ConvN encoder with its projection head.

    Args:
        in_channels: image channels (1 + bits for RandBit).
        out_dim: size of the projection fed to the loss (64 in the colab).
        width: channels of the first convolution (32 in the colab).
        image_size: height == width of the input (28 for RandBit); fixes the flattened size.
    """

    def __init__(self, in_channels: int = 1, out_dim: int = 64, width: int = 32, image_size: int = 28) -> None:
        super().__init__()
        if min(in_channels, out_dim, width, image_size) < 1:
            raise ValueError("in_channels, out_dim, width and image_size must be positive, got "
                             f"{in_channels, out_dim, width, image_size}")
        self.in_channels, self.out_dim, self.width, self.image_size = in_channels, out_dim, width, image_size
        layers: list[nn.Module] = []
        cin, side = in_channels, image_size
        for cout in (width, 2 * width, 2 * width):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin, side = cout, _after_stride2(side)
        self.convs = nn.Sequential(*layers)
        self.feature_dim = 4 * width
        self.representation = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * side * side, self.feature_dim, bias=False), nn.BatchNorm1d(self.feature_dim),
            nn.ReLU(inplace=True),
        )
        self.projection = nn.Sequential(
            nn.Linear(self.feature_dim, 8 * width, bias=False), nn.BatchNorm1d(8 * width), nn.ReLU(inplace=True),
            nn.Linear(8 * width, out_dim, bias=False),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation. Shape: ``(B, C, S, S)`` -> ``(B, 4 * width)``."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"ConvN was built for {self.image_size}x{self.image_size} inputs, got "
                             f"{tuple(x.shape[-2:])}")
        return self.representation(self.convs(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`features` (no spatial map to pool). Shape: ``(B, C, S, S)`` -> ``(B, 4 * width)``."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projection fed to the contrastive loss. Shape: ``(B, C, S, S)`` -> ``(B, out_dim)``."""
        return self.projection(self.features(x))
