"""One training step of contrastive pretraining, with or without an adversarial viewmaker.

Kept apart from the epoch loop so the steps can be tested on one batch: the encoder step must
lower the contrastive loss and the viewmaker step must raise it (on the same batch and noise).
The loss is :func:`featuredrop.losses.nt_xent`, the package's only NT-Xent.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn

from deep_experiments.views import Views
from featuredrop.losses import nt_xent

__all__ = ["ContrastiveLearner", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the step."""


class ContrastiveLearner:
    """Encoder (+ optional viewmaker) with their optimizers and the view source.

    Args:
        encoder: maps normalized views ``(B, C, H, W)`` to embeddings ``(B, k)``.
        views: one random view per image per call (see :mod:`deep_experiments.views`).
        encoder_opt: optimizer of the encoder (SGD in the paper).
        temperature, variant: NT-Xent settings.
        viewmaker: trained adversarially when given (it must be inside ``views``).
        viewmaker_opt: its optimizer (Adam 1e-3 in the paper).
        adversary_weight: the viewmaker minimizes ``-adversary_weight * loss``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: Views,
        encoder_opt: torch.optim.Optimizer,
        temperature: float,
        variant: str = "symmetric",
        viewmaker: nn.Module | None = None,
        viewmaker_opt: torch.optim.Optimizer | None = None,
        adversary_weight: float = 1.0,
    ) -> None:
        if (viewmaker is None) != (viewmaker_opt is None):
            raise ValueError("pass both viewmaker and viewmaker_opt, or neither")
        self.encoder = encoder
        self.views = views
        self.encoder_opt = encoder_opt
        self.temperature = temperature
        self.variant = variant
        self.viewmaker = viewmaker
        self.viewmaker_opt = viewmaker_opt
        self.adversary_weight = adversary_weight

    def loss(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Contrastive loss of two fresh views of every image (both views in one encoder pass).

        Shape: ``image`` / ``base`` ``(B, C, H, W)``; returns a 0-d tensor.
        """
        v1 = self.views(image, base, generator)
        v2 = self.views(image, base, generator)
        z = self.encoder(torch.cat([v1, v2], dim=0))
        z1, z2 = z.chunk(2, dim=0)
        return nt_xent(z1, z2, self.temperature, self.variant)  # type: ignore[arg-type]

    def encoder_step(
        self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator, where: str = "step"
    ) -> float:
        """One optimizer step of the encoder on fresh views (viewmaker frozen); returns the loss."""
        self.encoder_opt.zero_grad(set_to_none=True)
        if self.viewmaker is not None:
            with _frozen(self.viewmaker):
                loss = self.loss(image, base, generator)
        else:
            loss = self.loss(image, base, generator)
        value = _checked(loss, f"encoder loss at {where}")
        loss.backward()
        self.encoder_opt.step()
        return value

    def viewmaker_step(
        self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator, where: str = "step"
    ) -> float:
        """One optimizer step of the viewmaker, maximizing the loss on fresh views; returns the loss."""
        if self.viewmaker is None or self.viewmaker_opt is None:
            raise RuntimeError("this learner has no viewmaker")
        self.viewmaker_opt.zero_grad(set_to_none=True)
        with _frozen(self.encoder):
            loss = self.loss(image, base, generator)
        value = _checked(loss, f"viewmaker loss at {where}")
        (-self.adversary_weight * loss).backward()
        self.viewmaker_opt.step()
        return value

    def step(
        self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator, where: str = "step"
    ) -> dict[str, float]:
        """A full training step: the encoder step, then (if any) the viewmaker step on new views."""
        out = {"loss": self.encoder_step(image, base, generator, where)}
        if self.viewmaker is not None:
            out["viewmaker_loss"] = self.viewmaker_step(image, base, generator, where)
        return out


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``module`` inside the block (gradients still flow through it)."""
    params = list(module.parameters())
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


def _checked(loss: torch.Tensor, where: str) -> float:
    """``loss.item()``, or :class:`NonFiniteLossError` naming ``where`` when it is NaN/inf."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteLossError(f"non-finite {where}: {value}")
    return value
