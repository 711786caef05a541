"""Assemble a run's parts (encoder, its optimizer and schedule, view source, learner) from its config.

The view source comes from the registry of view kinds (:mod:`deep_experiments.views`), so
training and probing use the same views; the encoder from :mod:`deep_experiments.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from deep_experiments.configs import RunConfig
from deep_experiments.data import DatasetSpec
from deep_experiments.models import Encoder, build_encoder
from deep_experiments.normalize import Normalize
from deep_experiments.run.learner import ContrastiveLearner
from deep_experiments.run.perf import optimizer_kernel
from deep_experiments.seeds import seeded_init
from deep_experiments.views import ViewContext, ViewSource, build_views

__all__ = ["Components", "build_components", "build_normalize", "build_lr_schedule"]


@dataclass
class Components:
    """Everything the training loop and the probes act on."""

    encoder: Encoder
    views: ViewSource
    normalize: Normalize
    learner: ContrastiveLearner

    def modules(self) -> dict[str, torch.nn.Module]:
        """The trainable modules by name (for checkpoints and train/eval mode switches)."""
        return {"encoder": self.encoder, **self.views.modules()}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name (for checkpoints)."""
        return {"encoder": self.learner.encoder_opt, **self.views.optimizers()}


def build_normalize(spec: DatasetSpec) -> Normalize:
    """The normalization every encoder input goes through (views and clean test images alike)."""
    return Normalize(spec.channels, spec.shared_channels, spec.normalization)


def _decay_groups(module: torch.nn.Module, weight_decay: float, decay_on: str) -> list[dict]:
    """Optimizer parameter groups: decay on every parameter, or on conv / linear kernels only."""
    if decay_on == "all":
        return [{"params": list(module.parameters()), "weight_decay": weight_decay}]
    kernels = [m.weight for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    ids = {id(p) for p in kernels}
    rest = [p for p in module.parameters() if id(p) not in ids]
    return [{"params": kernels, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def _train_jointly(optimizer: torch.optim.Optimizer, weight_decay: float,
                   decay_on: str) -> Callable[[torch.nn.Module], None]:
    """``ViewContext.train_jointly``: add a module's parameters to the encoder's optimizer, same decay rule."""

    def add(module: torch.nn.Module) -> None:
        for group in _decay_groups(module, weight_decay, decay_on):
            optimizer.add_param_group(group)

    return add


def build_components(config: RunConfig, spec: DatasetSpec, device: torch.device) -> Components:
    """Build the encoder, its optimizer, the views (with their own parts) and the learner, seeded.

    The fast-path switches (``train.perf``) act here: channels-last weights, the optimizer kernel
    (:func:`deep_experiments.run.perf.optimizer_kernel`) and a compiled forward that only the learner
    calls (``Components.encoder`` stays the plain module: checkpoints, probes, backbone).
    """
    tc, perf = config.train, config.train.perf
    normalize = build_normalize(spec)
    with seeded_init(tc.seed, "init/encoder"):
        encoder = build_encoder(tc.encoder, spec.channels, tc.out_dim, tc.width, spec.image_size,
                                tc.convn_padding, tc.batchnorm).to(device)
    if perf.channels_last:
        encoder = encoder.to(memory_format=torch.channels_last)
    groups = _decay_groups(encoder, tc.weight_decay, tc.decay_on)
    encoder_opt: torch.optim.Optimizer
    if tc.optimizer == "adam":
        encoder_opt = torch.optim.Adam(groups, lr=tc.lr, **optimizer_kernel(torch.optim.Adam, device,
                                                                             perf.fused_optimizer))
    else:
        encoder_opt = torch.optim.SGD(groups, lr=tc.lr, momentum=tc.momentum,
                                      **optimizer_kernel(torch.optim.SGD, device, perf.fused_optimizer))
    views = build_views(config.views, ViewContext(spec, normalize, device, tc.seed, encoder,
                                                  _train_jointly(encoder_opt, tc.weight_decay, tc.decay_on)))
    forward = torch.compile(encoder) if perf.compile else encoder
    learner = ContrastiveLearner(forward, views, encoder_opt, tc.temperature, tc.loss_variant, tc.loss, tc.loss_weight,
                                 bf16=perf.bf16, channels_last=perf.channels_last,
                                 separate_views=tc.view_forwards == "separate")
    return Components(encoder, views, normalize, learner)


def build_lr_schedule(optimizer: torch.optim.Optimizer, config: RunConfig, steps_per_epoch: int,
                      kind: str | None = None) -> torch.optim.lr_scheduler.LambdaLR:
    """The encoder's per-step learning-rate schedule (stepped after every encoder step).

    ``"constant"``: factor 1. ``"linear_decay"``: factor ``1 - step / total`` with ``total =
    epochs * steps_per_epoch``, so the last step uses ``lr / total`` and training ends at 0 (the
    colab's ``PolynomialDecay(lr, total, 0)``, power 1). ``kind``: that schedule instead of
    ``train.lr_schedule`` (the online head always decays, as the colab's shared optimizer did).
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    total = config.train.epochs * steps_per_epoch
    if (kind or config.train.lr_schedule) == "linear_decay":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
