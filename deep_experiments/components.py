"""Assemble a method's parts (encoder, view source, optimizers, viewmaker) from a config and a spec.

One place decides what "expert", "viewmaker" and "dropout" mean, so training and probing use the
same views:

- expert: SimCLR views of the overlaid image;
- dropout: expert views whose source is the overlay-free image with probability ``dropout_p``;
- viewmaker: ``normalize(x + delta)`` of the overlaid image (no expert augmentation, as in the
  Viewmaker paper), the viewmaker trained adversarially.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deep_experiments.augment import ExpertAugment, Normalize
from deep_experiments.configs import RunConfig
from deep_experiments.data import DatasetSpec
from deep_experiments.encoders import Encoder, build_encoder
from deep_experiments.learner import ContrastiveLearner
from deep_experiments.runtime import seeded_init
from deep_experiments.viewmaker import Viewmaker
from deep_experiments.views import DropoutViews, ExpertViews, ViewmakerViews, Views

__all__ = ["Components", "build_components", "build_normalize", "build_lr_schedule"]


@dataclass
class Components:
    """Everything the training loop and the probes act on."""

    encoder: Encoder
    viewmaker: Viewmaker | None
    views: Views
    normalize: Normalize
    learner: ContrastiveLearner

    def modules(self) -> dict[str, torch.nn.Module]:
        """The trainable modules by name (for checkpoints and train/eval mode switches)."""
        out: dict[str, torch.nn.Module] = {"encoder": self.encoder}
        if self.viewmaker is not None:
            out["viewmaker"] = self.viewmaker
        return out

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name (for checkpoints)."""
        out: dict[str, torch.optim.Optimizer] = {"encoder": self.learner.encoder_opt}
        if self.learner.viewmaker_opt is not None:
            out["viewmaker"] = self.learner.viewmaker_opt
        return out


def build_normalize(spec: DatasetSpec) -> Normalize:
    """The normalization every encoder input goes through (views and clean test images alike)."""
    return Normalize(spec.channels, spec.shared_channels)


def _decay_groups(module: torch.nn.Module, weight_decay: float, decay_on: str) -> list[dict]:
    """Optimizer parameter groups: decay on every parameter, or on conv / linear kernels only."""
    if decay_on == "all":
        return [{"params": list(module.parameters()), "weight_decay": weight_decay}]
    kernels = [m.weight for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    ids = {id(p) for p in kernels}
    rest = [p for p in module.parameters() if id(p) not in ids]
    return [{"params": kernels, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def build_components(config: RunConfig, spec: DatasetSpec, device: torch.device) -> Components:
    """Build the encoder, viewmaker (if any), views and optimizers, with seeded initialization."""
    tc, vc = config.train, config.viewmaker
    normalize = build_normalize(spec)
    with seeded_init(tc.seed, "init/encoder"):
        encoder = build_encoder(tc.encoder, spec.channels, tc.out_dim, tc.width, spec.image_size).to(device)
    groups = _decay_groups(encoder, tc.weight_decay, tc.decay_on)
    encoder_opt: torch.optim.Optimizer
    if tc.optimizer == "adam":
        encoder_opt = torch.optim.Adam(groups, lr=tc.lr)
    else:
        encoder_opt = torch.optim.SGD(groups, lr=tc.lr, momentum=tc.momentum)
    viewmaker: Viewmaker | None = None
    viewmaker_opt: torch.optim.Optimizer | None = None
    views: Views
    if tc.method == "viewmaker":
        budget = vc.budget if vc.budget is not None else spec.viewmaker_budget
        with seeded_init(tc.seed, "init/viewmaker"):
            viewmaker = Viewmaker(spec.channels, budget, vc.num_res_blocks).to(device)
        viewmaker_opt = torch.optim.Adam(viewmaker.parameters(), lr=vc.lr)
        views = ViewmakerViews(viewmaker, normalize)
    else:
        augment = ExpertAugment(
            spec.channels, spec.image_size, spec.expert_augmentation, spec.shared_channels  # type: ignore[arg-type]
        )
        views = DropoutViews(augment, tc.dropout_p) if tc.method == "dropout" else ExpertViews(augment)
    learner = ContrastiveLearner(
        encoder, views, encoder_opt, tc.temperature, tc.loss_variant, viewmaker, viewmaker_opt, vc.adversary_weight
    )
    return Components(encoder, viewmaker, views, normalize, learner)


def build_lr_schedule(optimizer: torch.optim.Optimizer, config: RunConfig,
                      steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The encoder's per-step learning-rate schedule (stepped after every encoder step).

    ``"constant"``: factor 1. ``"linear_decay"``: factor ``1 - step / total`` with ``total =
    epochs * steps_per_epoch``, so the last step uses ``lr / total`` and training ends at 0 (the
    colab's ``PolynomialDecay(lr, total, 0)``, power 1).
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    total = config.train.epochs * steps_per_epoch
    if config.train.lr_schedule == "linear_decay":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
