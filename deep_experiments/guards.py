"""Guards of a training step: parameters frozen for one step, and losses that must stay finite."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["NonFiniteLossError", "frozen", "trainable", "checked_loss"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the step."""


@contextlib.contextmanager
def _requires_grad(flag: bool, modules: tuple[nn.Module, ...]) -> Iterator[None]:
    """Set ``requires_grad`` of every parameter of ``modules`` to ``flag`` inside the block, then restore it."""
    params = [p for module in modules for p in module.parameters()]
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(flag)
    try:
        yield
    finally:
        for p, was in zip(params, saved):
            p.requires_grad_(was)


def frozen(*modules: nn.Module) -> contextlib.AbstractContextManager[None]:
    """No parameter gradients for ``modules`` inside the block (gradients still flow through them)."""
    return _requires_grad(False, modules)


def trainable(*modules: nn.Module) -> contextlib.AbstractContextManager[None]:
    """Parameter gradients for ``modules`` inside the block, even within :func:`frozen` of them.

    For modules trained jointly with the encoder that the encoder step freezes as the views' own
    (the hierarchical heads, :mod:`deep_experiments.views.hierarchical`).
    """
    return _requires_grad(True, modules)


def checked_loss(loss: torch.Tensor, where: str) -> float:
    """``loss.item()``, or :class:`NonFiniteLossError` naming ``where`` when it is NaN/inf."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteLossError(f"non-finite {where}: {value}")
    return value
