"""One training step of contrastive pretraining: the encoder's step, then the views' own (if any).

Kept apart from the epoch loop so the steps can be tested on one batch: the encoder step must
lower the contrastive loss and (for the viewmaker) the views' step must raise it (on the same
batch and noise). The loss is :func:`featuredrop.losses.nt_xent`, the package's only NT-Xent, or
one of the generalized losses :func:`featuredrop.losses.generalized_contrastive` (``family``).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from deep_experiments.guards import checked_loss, frozen
from deep_experiments.views import ViewSource
from featuredrop.distributed import gather_pairs
from featuredrop.losses import generalized_contrastive, nt_xent

__all__ = ["ContrastiveLearner"]


class ContrastiveLearner:
    """The encoder with its optimizer and the view source.

    Args:
        encoder: maps normalized views ``(B, C, H, W)`` to embeddings ``(B, k)``.
        views: one random view per image per call (see :mod:`deep_experiments.views`); a kind
            that trains something of its own (the viewmaker) does so in its ``train_step``.
        encoder_opt: optimizer of the encoder (SGD in the paper).
        temperature, variant: NT-Xent settings (``temperature`` is also the decoupled loss's).
        family, weight: ``"nt_xent"`` or a generalized loss (``"decoupled"``, ``"swd"``; the SWD
            draws its projections and prior samples from the step's view generator) and its ``lambda``.
        bf16, channels_last: fast-path switches of the encoder forward (:meth:`embed`;
            :class:`deep_experiments.configs.PerfConfig`); both off reproduce the reference path exactly.
        separate_views: the two views through the encoder in two forward passes instead of one batch, so
            BatchNorm normalizes each view by its own batch statistics (and updates its running averages
            twice per step), as the RandBits colab's two ``model(...)`` calls do (``train.view_forwards``).

    ``process_group`` (``None``: one process) is set by :func:`deep_experiments.run.distributed.data_parallel`:
    the loss is then that of the gathered embeddings of every process's rows (the global batch).
    ``view_seconds`` adds up the wall time spent making the two views of each step (the run's timing
    line; host time on CUDA, where the work is only launched).
    """

    def __init__(self, encoder: nn.Module, views: ViewSource, encoder_opt: torch.optim.Optimizer, temperature: float,
                 variant: str = "symmetric", family: str = "nt_xent", weight: float | None = None, *,
                 bf16: bool = False, channels_last: bool = False, separate_views: bool = False) -> None:
        self.encoder = encoder
        self.views = views
        self.encoder_opt = encoder_opt
        self.temperature = temperature
        self.variant = variant
        self.family = family
        self.weight = weight
        self.bf16 = bf16
        self.channels_last = channels_last
        self.separate_views = separate_views
        self.process_group: torch.distributed.ProcessGroup | None = None
        self.view_seconds = 0.0

    def embed(self, views: torch.Tensor) -> torch.Tensor:
        """Float32 embeddings of normalized views; the encoder runs in bf16 autocast and on a
        channels-last input when the switches say so (the loss on top stays float32).

        Shape: ``(B, C, H, W)`` -> ``(B, k)``.
        """
        if self.channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        if not self.bf16:
            return self.encoder(views)
        with torch.autocast(views.device.type, dtype=torch.bfloat16):
            z = self.encoder(views)
        return z.float()

    def loss(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Contrastive loss of two fresh views of every image (both views in one encoder pass, or one pass
        each with ``separate_views``).

        Shape: ``image`` / ``base`` ``(B, C, H, W)``; returns a 0-d tensor. A view source with a
        loss of its own (``contrastive_loss``: the hierarchical views) computes it instead.
        """
        own = getattr(self.views, "contrastive_loss", None)
        if own is not None:
            return own(self, image, base, generator)
        start = time.perf_counter()
        both = getattr(self.views, "both", None)
        pair = getattr(self.views, "pair", None)
        if both is not None:  # both views written into one batch (the same draws and values as two calls)
            views = both(image, base, generator)
        else:
            if pair is not None:  # a kind that makes both views itself (de-shared overlays)
                v1, v2 = pair(image, base, generator)
            else:
                v1 = self.views(image, base, generator)
                v2 = self.views(image, base, generator)
            views = torch.cat([v1, v2], dim=0)
        self.view_seconds += time.perf_counter() - start
        if self.separate_views:  # one forward per view, as the colab: BatchNorm's batch statistics per view
            half = views.shape[0] // 2
            z1, z2 = self.embed(views[:half]), self.embed(views[half:])
        else:
            z1, z2 = self.embed(views).chunk(2, dim=0)
        if self.process_group is not None:  # data-parallel: the global batch's pairs, rank order
            z1, z2 = gather_pairs(z1, z2, self.process_group)
        if self.family == "nt_xent":
            return nt_xent(z1, z2, self.temperature, self.variant)  # type: ignore[arg-type]
        return generalized_contrastive(z1, z2, self.family, temperature=self.temperature, weight=self.weight,
                                       generator=generator)

    def encoder_step(
        self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator, where: str = "step"
    ) -> float:
        """One optimizer step of the encoder on fresh views (the views' modules frozen); returns the loss."""
        self.encoder_opt.zero_grad(set_to_none=True)
        with frozen(*self.views.modules().values()):
            loss = self.loss(image, base, generator)
        value = checked_loss(loss, f"encoder loss at {where}")
        loss.backward()
        self.encoder_opt.step()
        return value

    def step(
        self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator, where: str = "step"
    ) -> dict[str, float]:
        """A full training step: the encoder step, then the views' own step on new views."""
        out = {"loss": self.encoder_step(image, base, generator, where)}
        out.update(self.views.train_step(self, image, base, generator, where))
        return out
