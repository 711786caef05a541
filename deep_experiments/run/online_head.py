"""The colab's read-out: linear heads trained online on view-1 representations (:class:`OnlineHead`).

Chen et al. 2021's RandBits colab (google-research/simclr ``colabs/intriguing_properties/randbits_mnist.ipynb``,
cells "Model" and ``train_and_eval``) does not probe after training. It trains a ``Dense(10)``
classifier on ``tf.stop_gradient(y)``, where ``y`` is the representation of the first view in the
training step's own forward pass (BatchNorm in training mode). The classifier is trained with
cross-entropy, one step per encoder step, by the optimizer that trains the encoder: Keras ``Adam``
(beta 0.9 / 0.999, epsilon 1e-7), learning rate 1e-3 decayed linearly to 0 over the run's steps
(``PolynomialDecay(lr, total, 0)``), no weight decay (the classifier has no
``kernel_regularizer``), Glorot-uniform kernel, zero bias. Its accuracy on the clean test images
after the last step (BatchNorm in inference mode) is the number in the colab's table. Our fast probe
is a logistic regression fitted after training, a stronger read-out. This module adds the colab's
read-out beside it (``probe.online_head``).

What is kept and what differs:

- One head per task: ``task_a`` as the colab's digit head, ``task_b`` when the fast probe reads that
  task too (at most :data:`deep_experiments.probe.MAX_PROBE_CLASSES` classes), and for RandBit a head
  with one logit per bit (binary cross-entropy). Its mean per-bit accuracy is ``task_b_bits``, the
  counterpart of the fast probe's. The heads are independent, so training them together is training
  each one alone.
- Adam on the heads alone, with the colab's settings (learning rate ``probe.online_head_lr``, always
  decayed linearly to 0 over ``train.epochs`` x steps per epoch, whatever ``train.lr_schedule`` says).
  The colab's one Adam updates every parameter from its own gradient only, so the heads' updates are
  the same computation either way (up to where Keras adds epsilon, to the uncorrected sqrt(v)). A
  separate optimizer leaves the encoder's optimizer state untouched.
- The features are a detached float32 copy of the representation that the encoder step's own forward
  computes. They are captured by a forward hook on the layer that makes the representation
  (:func:`representation_tap`), armed for one forward per step. An extra forward pass would move
  BatchNorm's running statistics and so change the encoder. With the learner's concatenated batch
  ``[view 1; view 2]``, view 1 is the first half. By default BatchNorm's batch statistics come from
  both views together; the colab runs each view through its own forward, so they come from view 1
  alone. ``train.view_forwards="separate"`` does as the colab, and the first forward then is view 1 whole.
- The heads are initialized under their own seeded stream (``init/online_head``, global RNG restored by
  :func:`deep_experiments.seeds.seeded_init`) and draw no random numbers afterwards. Together with the
  hook, this means a run with the heads trains its encoder bit for bit as a run without them.
- The accuracy is read on the fast probe's own test split (the test split's own overlay draw) from
  ``encoder.pooled`` of clean images, the representation the fast probe reads
  (:func:`online_head_accuracy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from deep_experiments.configs import RunConfig
from deep_experiments.data import DatasetSpec
from deep_experiments.models.convn import ConvN
from deep_experiments.models.resnet import ResNet18
from deep_experiments.probe import MAX_PROBE_CLASSES, extract_features
from deep_experiments.run.components import build_lr_schedule
from deep_experiments.seeds import seeded_init

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-7
"""Keras ``Adam``'s defaults, the colab's optimizer (torch's own epsilon is 1e-8)."""

__all__ = ["OnlineHead", "representation_tap", "online_head_accuracy"]


def representation_tap(encoder: nn.Module) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """The submodule whose output gives ``encoder.pooled``'s representation in a forward pass, and the map from
    that output to it (ConvN: its ``representation`` layer as is; ResNet-18: its ``stages``, averaged over space)."""
    if isinstance(encoder, ConvN):
        return encoder.representation, lambda out: out
    if isinstance(encoder, ResNet18):
        return encoder.stages, lambda out: out.mean(dim=(2, 3))
    raise TypeError(f"the online head reads a ConvN or ResNet-18 encoder, got {type(encoder).__name__}")


def _head_sizes(spec: DatasetSpec) -> dict[str, int]:
    """Outputs of each task's head: ``task_a``, ``task_b`` (when the fast probe reads it) and ``task_b_bits``."""
    sizes = {"task_a": spec.num_classes_a}
    if spec.num_classes_b <= MAX_PROBE_CLASSES:
        sizes["task_b"] = spec.num_classes_b
    if spec.shared_channels:
        sizes["task_b_bits"] = spec.shared_channels
    return sizes


def _bits(label_b: torch.Tensor, bits: int) -> torch.Tensor:
    """The ``bits`` binary labels of a RandBit id, lowest bit first, as the fast probe reads them. Shape: ``(B,)`` -> ``(B, bits)``."""
    return (label_b[:, None] >> torch.arange(bits, device=label_b.device)) & 1


class OnlineHead:
    """Linear heads trained online on the view-1 representation, with their optimizer and schedule.

    Args:
        encoder: the run's encoder (``Components.encoder``, not a compiled forward).
        spec: the dataset's spec (classes per task, RandBit's bits).
        config: the run's config (``train.seed``, ``train.epochs``, ``probe.online_head_lr``).
        steps_per_epoch: encoder steps per epoch (the length of the linear decay).

    :meth:`attach` starts listening to the encoder's forward passes (training only). Each step is then
    :meth:`arm` before the learner's step and :meth:`step` after it.
    """

    def __init__(self, encoder: nn.Module, spec: DatasetSpec, config: RunConfig, steps_per_epoch: int) -> None:
        self.encoder = encoder
        device = next(encoder.parameters()).device
        dim = int(encoder.feature_dim)  # type: ignore[arg-type]
        with seeded_init(config.train.seed, "init/online_head"):
            self.heads = nn.ModuleDict({task: nn.Linear(dim, n) for task, n in _head_sizes(spec).items()})
            for head in self.heads.values():
                nn.init.xavier_uniform_(head.weight)  # Keras' glorot_uniform
                nn.init.zeros_(head.bias)
        self.heads.to(device)
        self.optimizer = torch.optim.Adam(self.heads.parameters(), lr=config.probe.online_head_lr, betas=ADAM_BETAS,
                                          eps=ADAM_EPS)
        self.schedule = build_lr_schedule(self.optimizer, config, steps_per_epoch, "linear_decay")
        self._rows = 0
        self._features: torch.Tensor | None = None
        self._hook: torch.utils.hooks.RemovableHandle | None = None

    def attach(self) -> OnlineHead:
        """Capture, from now on, the representation of the first encoder forward after each :meth:`arm`."""
        if self._hook is None:
            module, to_representation = representation_tap(self.encoder)

            def grab(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
                if self._rows:
                    self._features = to_representation(output[: self._rows].detach()).float().clone()
                    self._rows = 0

            self._hook = module.register_forward_hook(grab)
        return self

    def detach(self) -> None:
        """Stop listening to the encoder (removes the hook)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def arm(self, rows: int) -> None:
        """Keep the first ``rows`` rows (view 1 of a batch of ``rows`` images) of the next encoder forward."""
        self._rows, self._features = rows, None

    def step(self, label_a: torch.Tensor, label_b: torch.Tensor) -> float:
        """One Adam step of every head on the captured view-1 representation; returns the summed loss.

        Raises:
            RuntimeError: nothing was captured since :meth:`arm` (not attached, or no encoder forward).
        """
        feats = self._features
        if feats is None:
            raise RuntimeError("the online head captured no view-1 representation in this step (attach, then arm)")
        self._features = None
        loss = self._loss(feats, label_a, label_b)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.schedule.step()
        return float(loss.detach())

    def _loss(self, feats: torch.Tensor, label_a: torch.Tensor, label_b: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the class heads, plus the mean binary cross-entropy of the bit head."""
        heads = self.heads
        loss = F.cross_entropy(heads["task_a"](feats), label_a)
        if "task_b" in heads:
            loss = loss + F.cross_entropy(heads["task_b"](feats), label_b)
        if "task_b_bits" in heads:
            bits = heads["task_b_bits"].out_features
            loss = loss + F.binary_cross_entropy_with_logits(heads["task_b_bits"](feats),
                                                             _bits(label_b, bits).float())
        return loss

    def state_dict(self) -> dict[str, Any]:
        """The heads, their optimizer and schedule (the checkpoint's ``online_head``)."""
        return {"heads": self.heads.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (a resumed run continues the heads exactly)."""
        self.heads.load_state_dict(state["heads"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])


@torch.no_grad()
def online_head_accuracy(head: OnlineHead, normalize: Callable[[torch.Tensor], torch.Tensor], test_set: Dataset,
                         num_workers: int = 0) -> dict[str, float | None]:
    """Accuracy of each head on ``test_set``'s clean images: ``task_a``, ``task_b`` (``None`` when that task has
    too many classes for a head, as for the fast probe) and, for RandBit, ``task_b_bits`` (mean over bits).

    The encoder is evaluated in inference mode (as the fast probe and the colab's eval step do) and put back.
    """
    encoder = head.encoder
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        feats, label_a, label_b = extract_features(lambda x: encoder.pooled(normalize(x)), test_set, device,
                                                   num_workers=num_workers)
    finally:
        encoder.train(was_training)
    x = torch.from_numpy(feats).to(device)
    ya, yb = torch.from_numpy(label_a).to(device), torch.from_numpy(label_b).to(device)
    heads = head.heads
    out: dict[str, float | None] = {"task_a": float((heads["task_a"](x).argmax(1) == ya).float().mean())}
    out["task_b"] = float((heads["task_b"](x).argmax(1) == yb).float().mean()) if "task_b" in heads else None
    if "task_b_bits" in heads:
        bits = heads["task_b_bits"].out_features
        out["task_b_bits"] = float(((heads["task_b_bits"](x) > 0).long() == _bits(yb, bits)).float().mean())
    return out
