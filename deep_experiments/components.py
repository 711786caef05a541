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
from deep_experiments.learner import ContrastiveLearner
from deep_experiments.resnet import ResNet18
from deep_experiments.runtime import seeded_init
from deep_experiments.viewmaker import Viewmaker
from deep_experiments.views import DropoutViews, ExpertViews, ViewmakerViews, Views

__all__ = ["Components", "build_components", "build_normalize"]


@dataclass
class Components:
    """Everything the training loop and the probes act on."""

    encoder: ResNet18
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


def build_components(config: RunConfig, spec: DatasetSpec, device: torch.device) -> Components:
    """Build the encoder, viewmaker (if any), views and optimizers, with seeded initialization."""
    tc, vc = config.train, config.viewmaker
    normalize = build_normalize(spec)
    with seeded_init(tc.seed, "init/encoder"):
        encoder = ResNet18(spec.channels, tc.out_dim, tc.width).to(device)
    encoder_opt = torch.optim.SGD(encoder.parameters(), lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
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
