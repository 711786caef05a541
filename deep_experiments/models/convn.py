"""ConvN, the small encoder of the RandBits-MNIST colab (Chen et al. 2021), as a contrastive encoder.

From google-research/simclr ``colabs/intriguing_properties/randbits_mnist.ipynb`` (see
docs/related-work.md): three 3x3 stride-2 convolutions with ``width * (1, 2, 2)`` channels
(32, 64, 64 in the colab), each + BatchNorm + ReLU, flattened, then a dense layer of ``4 * width``
units (128) + BatchNorm + ReLU: the *representation* that linear evaluation reads. The contrastive
loss sees a projection of it: dense ``8 * width`` (256) + BatchNorm + ReLU, then dense ``out_dim``
(64). As in the colab no convolution or dense layer has a bias (BatchNorm supplies the shift).

Two choices differ from the colab by default, and each has the colab's value as an option:

- ``padding="same"`` (default): padding 1, so a 28x28 input becomes 14, 7, 4 pixels wide and the dense
  layer reads 64 x 4 x 4 values. The colab's ``Conv2D`` uses Keras' default ``padding="valid"``
  (no padding): 13, 6, 2 pixels, 64 x 2 x 2 values (``padding="valid"``).
- ``batchnorm="torch"`` (default): torch's BatchNorm (running-average momentum 0.1, eps 1e-5). The
  colab's Keras layers use momentum 0.99 in Keras' convention (0.01 in torch's) and eps 1e-3
  (``batchnorm="keras"``).

It exposes the same interface as :class:`deep_experiments.models.resnet.ResNet18` (``features``,
``pooled``, ``forward``), with ``features = pooled =`` the representation: ConvN has no spatial
map to pool, and the colab evaluates the representation.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CONVN_PADDINGS", "BATCHNORMS", "CONVN_DEFAULTS", "ConvN"]

CONVN_PADDINGS: tuple[str, ...] = ("same", "valid")
"""``same``: padding 1 (this package's default); ``valid``: no padding (the colab's Keras default)."""
BATCHNORMS: dict[str, dict[str, float]] = {"torch": {"momentum": 0.1, "eps": 1e-5},
                                           "keras": {"momentum": 0.01, "eps": 1e-3}}
"""BatchNorm settings by name, in torch's convention (Keras' momentum 0.99 is torch's 0.01)."""
CONVN_DEFAULTS: dict[str, str] = {"padding": "same", "batchnorm": "torch"}
"""This package's choices (:class:`ConvN`'s defaults), the only ones the ResNet-18 takes."""


def _after_stride2(size: int, padding: str) -> int:
    """Output size of a 3x3 stride-2 convolution with padding 1 (``same``) or none (``valid``)."""
    return (size + 1) // 2 if padding == "same" else (size - 3) // 2 + 1


class ConvN(nn.Module):
    """The colab's ConvN encoder with its projection head.

    Args:
        in_channels: image channels (1 + bits for RandBit).
        out_dim: size of the projection fed to the loss (64 in the colab).
        width: channels of the first convolution (32 in the colab).
        image_size: height == width of the input (28 for RandBit); fixes the flattened size.
        padding: ``"same"`` (padding 1, the default) or ``"valid"`` (none, the colab's), :data:`CONVN_PADDINGS`.
        batchnorm: ``"torch"`` (the default) or ``"keras"`` (the colab's momentum and eps), :data:`BATCHNORMS`.
    """

    def __init__(self, in_channels: int = 1, out_dim: int = 64, width: int = 32, image_size: int = 28,
                 padding: str = "same", batchnorm: str = "torch") -> None:
        super().__init__()
        if min(in_channels, out_dim, width, image_size) < 1:
            raise ValueError("in_channels, out_dim, width and image_size must be positive, got "
                             f"{in_channels, out_dim, width, image_size}")
        if padding not in CONVN_PADDINGS:
            raise ValueError(f"ConvN padding must be one of {CONVN_PADDINGS}, got {padding!r}")
        if batchnorm not in BATCHNORMS:
            raise ValueError(f"ConvN batchnorm must be one of {tuple(BATCHNORMS)}, got {batchnorm!r}")
        self.in_channels, self.out_dim, self.width, self.image_size = in_channels, out_dim, width, image_size
        self.padding, self.batchnorm = padding, batchnorm
        bn = BATCHNORMS[batchnorm]
        layers: list[nn.Module] = []
        cin, side = in_channels, image_size
        for cout in (width, 2 * width, 2 * width):
            if _after_stride2(side, padding) < 1:
                raise ValueError(f"ConvN with padding {padding!r} needs a larger input than {image_size}x{image_size} "
                                 f"(three 3x3 stride-2 convolutions)")
            layers += [nn.Conv2d(cin, cout, 3, 2, 1 if padding == "same" else 0, bias=False),
                       nn.BatchNorm2d(cout, **bn), nn.ReLU(inplace=True)]
            cin, side = cout, _after_stride2(side, padding)
        self.convs = nn.Sequential(*layers)
        self.feature_dim = 4 * width
        self.representation = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * side * side, self.feature_dim, bias=False),
            nn.BatchNorm1d(self.feature_dim, **bn), nn.ReLU(inplace=True),
        )
        self.projection = nn.Sequential(
            nn.Linear(self.feature_dim, 8 * width, bias=False), nn.BatchNorm1d(8 * width, **bn), nn.ReLU(inplace=True),
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
