"""ResNet-18, CIFAR variant, as the contrastive encoder (no projection head).

CIFAR variant: a 3x3 stride-1 stem and no max-pool, so a 32x32 input keeps 32x32 until the first
stride-2 stage and leaves the last stage at 4x4. Stages have ``width * (1, 2, 4, 8)`` channels
(``width=64`` is the standard ResNet-18; tests use 4-8 for speed). The output is a linear map of
the pooled features to ``out_dim`` (128), with no projection head, as in the Viewmaker paper.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResNet18"]


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: ``(B, cin, H, W)`` -> ``(B, cout, H / stride, W / stride)``."""
        return self.act(self.body(x) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 encoder.

    Args:
        in_channels: image channels (3 for RGB, 1 + bits for RandBit).
        out_dim: embedding size (128).
        width: channels of the first stage (64 = standard).
    """

    def __init__(self, in_channels: int = 3, out_dim: int = 128, width: int = 64) -> None:
        super().__init__()
        if min(in_channels, out_dim, width) < 1:
            raise ValueError(f"in_channels, out_dim and width must be positive, got {in_channels, out_dim, width}")
        self.in_channels, self.out_dim, self.width = in_channels, out_dim, width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        stages, cin = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2**i
            stages.append(nn.Sequential(_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.feature_dim = cin
        self.fc = nn.Linear(cin, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-pool features (the paper's probe input). Shape: ``(B, C, H, W)`` -> ``(B, 8w, H/8, W/8)``."""
        return self.stages(self.stem(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features. Shape: ``(B, C, H, W)`` -> ``(B, 8w)``."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding fed to the contrastive loss. Shape: ``(B, C, H, W)`` -> ``(B, out_dim)``."""
        return self.fc(self.pooled(x))
