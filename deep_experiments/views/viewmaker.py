"""Viewmaker views ``normalize(x + delta)`` (Tamkin et al. 2021), trained adversarially.

This kind owns everything of the viewmaker: its config section, its network
(:class:`deep_experiments.models.viewmaker.Viewmaker`, no expert augmentation on top, as in the
Viewmaker paper), its Adam optimizer and its adversarial step (after every encoder step, one
step that *raises* the contrastive loss on fresh views, with the encoder frozen).

``precision="bf16"`` (opt-in, ``--viewmaker-precision bf16``) runs the viewmaker's network under
bfloat16 autocast with channels-last weights and input: the noise is drawn as in float32 (same
stream), the view is ``x + delta`` in float32 with ``delta`` rounded to bfloat16. It changes a run's
numbers at the 1 % level (``tests/deep/test_viewmaker.py``), so such runs compare with float32 runs
across seeds, not step by step. Off is the reference path bit for bit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from deep_experiments.checks import positive
from deep_experiments.data import DatasetSpec
from deep_experiments.guards import checked_loss, frozen
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.normalize import Normalize
from deep_experiments.seeds import seeded_init

from .base import ViewContext, ViewKind

if TYPE_CHECKING:
    from deep_experiments.run.learner import ContrastiveLearner

__all__ = ["ViewmakerConfig", "ViewmakerViews", "build_viewmaker", "VIEWMAKER", "PRECISIONS"]

PRECISIONS: tuple[str, ...] = ("float32", "bf16")
"""The viewmaker network's precisions (``views.viewmaker.precision``)."""


@dataclass(frozen=True)
class ViewmakerConfig:
    """The viewmaker and its adversarial optimizer (paper: Adam 1e-3, weight 1, 3 residual blocks, width 32).

    ``budget=None`` takes the dataset's budget (0.05 shapes / digits, 0.1 letters). ``precision``:
    ``"float32"`` (the reference) or ``"bf16"`` (the network under bfloat16 autocast, channels-last;
    see the module docstring).
    """

    budget: float | None = None
    lr: float = 1e-3
    num_res_blocks: int = 3
    adversary_weight: float = 1.0
    width: int = 32
    precision: str = "float32"

    def __post_init__(self) -> None:
        positive("viewmaker", budget=self.budget, lr=self.lr, adversary_weight=self.adversary_weight,
                 width=self.width)
        if self.num_res_blocks < 0:
            raise ValueError(f"viewmaker.num_res_blocks must be >= 0, got {self.num_res_blocks}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"viewmaker.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    def budget_for(self, spec: DatasetSpec) -> float:
        """The mean ``|delta|`` budget: this config's, else the dataset's."""
        return self.budget if self.budget is not None else spec.viewmaker_budget


def build_viewmaker(config: ViewmakerConfig, spec: DatasetSpec, seed: int | None = None) -> Viewmaker:
    """A fresh viewmaker network for ``spec``'s images, on the CPU.

    ``seed``: the run's seed, for the viewmaker a run of that seed starts from (its named stream
    ``init/viewmaker``, leaving the global RNG alone); ``None``: initialized from the global RNG.
    """
    with contextlib.nullcontext() if seed is None else seeded_init(seed, "init/viewmaker"):
        return Viewmaker(spec.channels, config.budget_for(spec), config.num_res_blocks, config.width)


class ViewmakerViews:
    """Views ``normalize(x + delta)``; gradients flow into the viewmaker, trained by :meth:`train_step`.

    Args:
        viewmaker: the network; optimizer: its optimizer (Adam in the paper), ``None`` when the
            views are only used (figures, probes); adversary_weight: the viewmaker minimizes
            ``-adversary_weight * loss``; bf16: run the network under bfloat16 autocast on a
            channels-last input (its weights are expected channels-last too, as :func:`_build` makes them).
    """

    needs_base = False

    def __init__(self, viewmaker: Viewmaker, normalize: Normalize, optimizer: torch.optim.Optimizer | None = None,
                 adversary_weight: float = 1.0, bf16: bool = False) -> None:
        self.viewmaker = viewmaker
        self.normalize = normalize
        self.optimizer = optimizer
        self.adversary_weight = adversary_weight
        self.bf16 = bf16

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``; ``base`` is ignored."""
        if not self.bf16:
            return self.normalize(self.viewmaker(image, generator))
        with torch.autocast(image.device.type, dtype=torch.bfloat16):
            view = self.viewmaker(image.contiguous(memory_format=torch.channels_last), generator)
        return self.normalize(view.float().contiguous())

    def modules(self) -> dict[str, nn.Module]:
        """``{"viewmaker": network}``."""
        return {"viewmaker": self.viewmaker}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``{"viewmaker": optimizer}`` (empty without one)."""
        return {} if self.optimizer is None else {"viewmaker": self.optimizer}

    def train_step(self, learner: ContrastiveLearner, image: torch.Tensor, base: torch.Tensor | None,
                   generator: torch.Generator, where: str = "step") -> dict[str, float]:
        """One optimizer step of the viewmaker, maximizing the loss on fresh views (encoder frozen).

        Returns ``{"viewmaker_loss": loss}``.
        """
        if self.optimizer is None:
            raise RuntimeError("these viewmaker views have no optimizer")
        self.optimizer.zero_grad(set_to_none=True)
        with frozen(learner.encoder):
            loss = learner.loss(image, base, generator)
        value = checked_loss(loss, f"viewmaker loss at {where}")
        (-self.adversary_weight * loss).backward()
        self.optimizer.step()
        return {"viewmaker_loss": value}


def _build(config: ViewmakerConfig, ctx: ViewContext) -> ViewmakerViews:
    # here, not at the top: run.perf imports the configs, which import the views
    from deep_experiments.run.perf import bf16_supported

    bf16 = config.precision == "bf16"
    if bf16 and not bf16_supported(ctx.device):
        raise ValueError(f"views.viewmaker.precision bf16: {ctx.device} has no bfloat16 support; use float32")
    viewmaker = build_viewmaker(config, ctx.spec, ctx.seed).to(ctx.device)
    if bf16:
        viewmaker = viewmaker.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(viewmaker.parameters(), lr=config.lr)
    return ViewmakerViews(viewmaker, ctx.normalize, optimizer, config.adversary_weight, bf16)


VIEWMAKER = ViewKind("viewmaker", ViewmakerConfig, _build, "viewmaker (learned adversarial views)")
