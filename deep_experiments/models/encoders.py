"""The contrastive encoders by name: ``"resnet18"`` (CIFAR ResNet-18, the paper) and ``"convn"`` (colab).

One constructor for the training code and the backbone loader, so a saved backbone is rebuilt with
exactly the arguments it was trained with (:func:`encoder_args`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from deep_experiments.models.convn import CONVN_DEFAULTS, ConvN
from deep_experiments.models.resnet import ResNet18

ENCODERS: tuple[str, ...] = ("resnet18", "convn")

__all__ = ["ENCODERS", "Encoder", "build_encoder", "encoder_args", "encoder_name"]

Encoder = ResNet18 | ConvN


def build_encoder(name: str, in_channels: int, out_dim: int, width: int, image_size: int,
                  padding: str = "same", batchnorm: str = "torch") -> Encoder:
    """A fresh encoder ``name`` for ``in_channels`` x ``image_size`` x ``image_size`` images.

    ``padding`` and ``batchnorm`` are the ConvN's (:class:`ConvN`); the ResNet-18 takes only the defaults.
    """
    if name == "resnet18":
        if {"padding": padding, "batchnorm": batchnorm} != CONVN_DEFAULTS:
            raise ValueError(f"padding {padding!r} and batchnorm {batchnorm!r} are ConvN options; the ResNet-18 "
                             "takes only the defaults ('same', 'torch')")
        return ResNet18(in_channels, out_dim, width)  # size-agnostic (global pooling)
    if name == "convn":
        return ConvN(in_channels, out_dim, width, image_size, padding, batchnorm)
    raise ValueError(f"encoder must be one of {ENCODERS}, got {name!r}")


def encoder_name(encoder: nn.Module) -> str:
    """The registry name of an encoder built by :func:`build_encoder`."""
    if isinstance(encoder, ResNet18):
        return "resnet18"
    if isinstance(encoder, ConvN):
        return "convn"
    raise TypeError(f"not a featuredrop encoder: {type(encoder).__name__}")


def encoder_args(encoder: Encoder) -> dict[str, Any]:
    """The keyword arguments of :func:`build_encoder` that rebuild ``encoder`` (a ConvN's ``padding`` and
    ``batchnorm`` only when they are not the defaults, so default backbones are saved as before)."""
    image_size = encoder.image_size if isinstance(encoder, ConvN) else 32
    args: dict[str, Any] = {"name": encoder_name(encoder), "in_channels": encoder.in_channels,
                            "out_dim": encoder.out_dim, "width": encoder.width, "image_size": image_size}
    if isinstance(encoder, ConvN):
        args.update({k: getattr(encoder, k) for k, default in CONVN_DEFAULTS.items() if getattr(encoder, k) != default})
    return args
