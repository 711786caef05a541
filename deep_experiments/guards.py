"""Guards of a training step: parameters frozen for one step, and losses that must stay finite."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["NonFiniteLossError", "frozen", "checked_loss"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the step."""


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block (gradients still flow through them)."""
    params = [p for module in modules for p in module.parameters()]
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


def checked_loss(loss: torch.Tensor, where: str) -> float:
    """``loss.item()``, or :class:`NonFiniteLossError` naming ``where`` when it is NaN/inf."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteLossError(f"non-finite {where}: {value}")
    return value
