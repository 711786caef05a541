"""CIFAR ResNet-18 encoder: output and pre-pool feature shapes, stem, width knob, standard size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deep_experiments.models.resnet import ResNet18
from deep_experiments.seeds import seeded_init


@pytest.mark.parametrize(("channels", "size", "width"), [(3, 32, 4), (6, 28, 8), (1, 32, 4)])
def test_output_and_feature_shapes(channels: int, size: int, width: int) -> None:
    with seeded_init(0):
        net = ResNet18(channels, 128, width).eval()
    x = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0))
    assert net(x).shape == (2, 128)
    assert net.features(x).shape == (2, 8 * width, 4, 4)
    torch.testing.assert_close(net.pooled(x), net.features(x).mean(dim=(2, 3)))


def test_cifar_stem_no_maxpool_and_standard_parameter_count() -> None:
    net = ResNet18(3, 128, 64)
    stem = net.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    backbone = sum(p.numel() for name, p in net.named_parameters() if not name.startswith("fc."))
    assert backbone == 11_168_832  # torchvision-style CIFAR ResNet-18 without its classifier
    assert net.fc.in_features == 512 and net.feature_dim == 512
    with torch.no_grad():
        assert net.eval().features(torch.rand(1, 3, 32, 32)).shape == (1, 512, 4, 4)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        ResNet18(3, 128, 0)
