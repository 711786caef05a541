"""Typed, frozen configs of the deep arm, with the paper's values as defaults, and their file format.

Each part owns its config: the data (:class:`deep_experiments.data.DataConfig`), contrastive
training (:class:`TrainConfig`), the views (:class:`deep_experiments.views.ViewsConfig`: the kind,
i.e. the method, and one section per registered kind) and the probes (:class:`ProbeConfig`);
:class:`RunConfig` nests them and is what a run folder's ``config.json`` holds. Build them from
JSON or the CLI through :func:`build_config` (unknown keys and wrong types are errors); invalid
values raise ``ValueError`` in ``__post_init__``. Every field is read by the training or probe code.

Config format (``RunConfig.format``, :data:`CONFIG_FORMAT`): 1 (no ``format`` key) held the method
and ``dropout_p`` in ``train`` and the viewmaker section at the top; 2 holds them in ``views``
(``kind``, ``dropout.p``, ``viewmaker``). :func:`migrate` turns a format-1 mapping into format 2,
so old run folders still load and resume. Keys added later with defaults (``train.loss``,
``train.perf``) need no migration: a file without them loads with the defaults.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deep_experiments.checks import positive
from deep_experiments.data import DataConfig
from deep_experiments.views import ViewsConfig
from deep_experiments.views.deshared import DESHARED_DATASETS
from featuredrop.config import from_dict

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: an lr or weight decay above it is finite here but infinite in the optimizer."""
MIN_TEMPERATURE = 1e-8
"""The smallest temperature the losses accept (:mod:`featuredrop.losses`)."""


def below_float32(owner: str, **values: float) -> None:
    """Raise ``ValueError`` for the first value above :data:`FLOAT32_MAX` (finite in float64, infinite in
    the float32 optimizer state), naming ``owner.name``."""
    for name, value in values.items():
        if value > FLOAT32_MAX:
            raise ValueError(f"{owner}.{name} must be below {FLOAT32_MAX:.3g} (the largest float32), got {value:g}")


LossVariant = Literal["symmetric", "viewmaker", "cross_view", "cross_view_both"]
LossFamily = Literal["nt_xent", "decoupled", "swd"]
EncoderName = Literal["resnet18", "convn"]
OptimizerName = Literal["sgd", "adam"]
DecayOn = Literal["all", "kernels"]
LrSchedule = Literal["constant", "linear_decay"]
ConvNPadding = Literal["same", "valid"]
BatchNormName = Literal["torch", "keras"]
ViewForwards = Literal["joint", "separate"]
DataOrder = Literal["shuffle", "fixed"]

CONFIG_FORMAT = 2
"""The format of ``config.json`` written by this version (see the module docstring)."""

__all__ = [
    "CONFIG_FORMAT",
    "PERF_FLAGS",
    "PerfConfig",
    "TrainConfig",
    "ProbeConfig",
    "RunConfig",
    "PRESETS",
    "build_config",
    "load_config",
    "migrate",
    "merge",
]


PERF_FLAGS: tuple[str, ...] = ("bf16", "channels_last", "device_data", "fused_optimizer", "compile")
"""The fast-path switches of :class:`PerfConfig`, in the order ``--perf`` lists them."""


@dataclass(frozen=True)
class PerfConfig:
    """Fast-path switches of pretraining; all off by default (off = the reference path, bit for bit).

    ``bf16``: the encoder's forward (and so its backward) under ``torch.autocast(device, bfloat16)``;
    the views and the loss stay float32. ``channels_last``: the encoder's weights and inputs in
    channels-last memory format (the layout tensor cores and oneDNN prefer). ``device_data``: each
    epoch's items are computed once and copied to the device in one transfer (uint8 when every
    image is exactly 8-bit, else float32), and batches are gathered there in the order of the
    ``data/order`` stream (the same batches as the DataLoader). ``fused_optimizer``: the encoder
    optimizer's ``fused=True`` kernel when this torch offers it on the device, else
    ``foreach=True``. ``compile``: ``torch.compile`` of the encoder's training forward (the
    checkpoint, the probes and the exported backbone use the plain module). Float32 switches
    (``channels_last``, ``fused_optimizer``) change results by rounding only; ``device_data``
    changes nothing; ``bf16`` changes the loss at the 1 % level (``tests/deep/test_fast_path.py``).
    """

    bf16: bool = False
    channels_last: bool = False
    device_data: bool = False
    fused_optimizer: bool = False
    compile: bool = False

    def enabled(self) -> tuple[str, ...]:
        """The names of the switches that are on, in :data:`PERF_FLAGS` order."""
        return tuple(name for name in PERF_FLAGS if getattr(self, name))


@dataclass(frozen=True)
class TrainConfig:
    """Contrastive pretraining: encoder, loss and optimizer (paper: SGD 0.03, batch 256, 200 epochs).

    ``encoder``: ``"resnet18"`` (the paper's CIFAR ResNet-18, ``width`` 64) or ``"convn"`` (the
    RandBits colab's small ConvNet, ``width`` 32). ``optimizer``: ``"sgd"`` (with ``momentum``) or
    ``"adam"`` (``momentum`` unused); ``weight_decay`` is the optimizer's coupled L2 term, applied
    to every parameter (``decay_on="all"``) or to convolution and dense kernels only
    (``"kernels"``: Keras ``kernel_regularizer``, as the colab; BatchNorm and biases not decayed).
    ``lr_schedule``: ``"constant"`` or ``"linear_decay"`` (per step, to 0 at the last step: the
    colab's polynomial decay of power 1). ``probe_at`` lists the fractions of ``epochs`` after
    which the fast probe is recorded (rounded, at least epoch 1; 1.0 = the end). The method (the
    kind of views) is ``RunConfig.views.kind``. ``loss``: ``"nt_xent"`` (``loss_variant``, the
    default) or a generalized loss of Chen et al. 2021 (:func:`featuredrop.losses.generalized_contrastive`:
    ``"decoupled"``, ``"swd"``; ``temperature`` is the decoupled log-sum-exp's, 1.0 in their recipe),
    with weight ``loss_weight`` (``None``: 0.1 / 5, their recipe); old configs without it load as NT-Xent.
    ``perf``: the fast-path switches (:class:`PerfConfig`; configs without it load with all off).
    ``convn_padding`` and ``batchnorm``: the ConvN's padding (``"same"``, padding 1, or ``"valid"``, none:
    the colab's) and BatchNorm settings (``"torch"`` or ``"keras"``: the colab's momentum and eps); see
    :class:`deep_experiments.models.convn.ConvN`. Only the defaults with the ResNet-18.
    ``view_forwards``: ``"joint"`` (both views in one encoder pass: BatchNorm's batch statistics over
    both) or ``"separate"`` (one pass per view, as the colab: statistics per view); views that train a
    network of their own or compute their own loss (viewmaker, hierarchical) take only ``"joint"``.
    ``data_order``: ``"shuffle"`` (a new order of the training items every epoch, from the ``data/order``
    stream) or ``"fixed"`` (one permutation from the ``data/fixed-order`` stream, the same batches in the
    same order every epoch: the colab never reshuffles tfds' prepared order; the last partial batch, when
    the batch size does not divide the training set, is the same items left out every epoch).
    """

    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 1e-4
    temperature: float = 0.07
    loss_variant: LossVariant = "symmetric"
    loss: LossFamily = "nt_xent"
    loss_weight: float | None = None
    encoder: EncoderName = "resnet18"
    optimizer: OptimizerName = "sgd"
    decay_on: DecayOn = "all"
    lr_schedule: LrSchedule = "constant"
    width: int = 64
    out_dim: int = 128
    probe_at: tuple[float, ...] = (0.05, 0.4, 1.0)
    seed: int = 0
    perf: PerfConfig = field(default_factory=PerfConfig)
    convn_padding: ConvNPadding = "same"
    batchnorm: BatchNormName = "torch"
    view_forwards: ViewForwards = "joint"
    data_order: DataOrder = "shuffle"

    def __post_init__(self) -> None:
        positive("train", epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, width=self.width)
        if self.encoder != "convn" and (self.convn_padding, self.batchnorm) != ("same", "torch"):
            raise ValueError(f"train.convn_padding and train.batchnorm are ConvN options (encoder convn); the "
                             f"{self.encoder} takes only 'same' and 'torch', got {self.convn_padding!r}, "
                             f"{self.batchnorm!r}")
        positive("train", out_dim=self.out_dim, temperature=self.temperature)
        if self.batch_size < 2:
            raise ValueError(f"train.batch_size must be >= 2 (a negative per anchor), got {self.batch_size}")
        if not 0 <= self.momentum < 1 or not 0 <= self.weight_decay < math.inf:  # NaN fails both
            raise ValueError(f"train.momentum must be in [0, 1) and weight_decay finite >= 0, got {self.momentum}, "
                             f"{self.weight_decay}")
        if any(not 0 < f <= 1 for f in self.probe_at):
            raise ValueError(f"train.probe_at fractions must be in (0, 1], got {list(self.probe_at)}")
        if self.loss_weight is not None:
            positive("train", loss_weight=self.loss_weight)
        below_float32("train", lr=self.lr, weight_decay=self.weight_decay)
        if not self.temperature > MIN_TEMPERATURE:  # the losses' own bound, checked before the run folder is made
            raise ValueError(f"train.temperature must be > {MIN_TEMPERATURE:g}, got {self.temperature:g}")

    def probe_epochs(self) -> tuple[int, ...]:
        """The (1-based, sorted, distinct) epochs after which the fast probe runs."""
        return tuple(sorted({min(self.epochs, max(1, round(f * self.epochs))) for f in self.probe_at}))


@dataclass(frozen=True)
class ProbeConfig:
    """Linear probes: the paper protocol and the fast cached-feature probe.

    Paper protocol: SGD lr 0.01, momentum 0.9, batch 128, ``epochs`` (100), lr x ``gamma`` at each
    fraction in ``milestones`` (60 %, 80 %), on pre-pool features of the method's own views.
    Fast probe: multinomial logistic regression (L-BFGS, inverse L2 strength ``fast_c``, at most
    ``fast_max_iter`` iterations) on standardized pooled features of clean images.
    ``paper=False`` skips the paper protocol (sweeps). ``overlay_controls``: repeat the fast probe
    on overlay-free images and on full-strength-overlay images (each probe fitted and tested at that
    strength), so that suppression can be told from occlusion (see :mod:`deep_experiments.probe`).
    ``test_overlay_draws``: each fast-probe accuracy is the mean over this many independent draws of
    the test images' overlays (same base images; 1 = the test split's own draw only), so that one
    lucky or unlucky draw does not move a run's number; the per-draw accuracies go to ``draws``.
    ``online_head``: also train the Chen et al. colab's read-out during pretraining, linear heads on
    the view-1 representation with stop-gradient, Adam at ``online_head_lr`` decayed linearly to 0
    (:mod:`deep_experiments.run.online_head`). Its test accuracy goes into ``probe.json`` beside the
    fast probe, so the two read-outs can be compared. Off by default. When it is on, the encoder still
    trains bit for bit as it would without the heads.
    """

    epochs: int = 100
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    milestones: tuple[float, ...] = (0.6, 0.8)
    gamma: float = 0.1
    fast_c: float = 1.0
    fast_max_iter: int = 1000
    paper: bool = True
    overlay_controls: bool = True
    test_overlay_draws: int = 1
    online_head: bool = False
    online_head_lr: float = 1e-3

    def __post_init__(self) -> None:
        positive("probe", epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, gamma=self.gamma)
        positive("probe", online_head_lr=self.online_head_lr)
        below_float32("probe", online_head_lr=self.online_head_lr)
        positive("probe", test_overlay_draws=self.test_overlay_draws)
        positive("probe", fast_c=self.fast_c, fast_max_iter=self.fast_max_iter)
        if not 0 <= self.momentum < 1 or not 0 <= self.weight_decay < math.inf:  # NaN fails both
            raise ValueError(f"probe.momentum must be in [0, 1) and probe.weight_decay finite >= 0, got "
                             f"{self.momentum}, {self.weight_decay}")
        if any(not 0 < m < 1 for m in self.milestones):
            raise ValueError(f"probe.milestones must be fractions in (0, 1), got {list(self.milestones)}")

    def milestone_epochs(self) -> list[int]:
        """Epochs at which the probe learning rate is multiplied by ``gamma``."""
        return sorted({max(1, round(m * self.epochs)) for m in self.milestones})


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as the run folder's ``config.json`` (``format`` :data:`CONFIG_FORMAT`)."""

    format: int = CONFIG_FORMAT
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __post_init__(self) -> None:
        if self.format != CONFIG_FORMAT:
            raise ValueError(f"format must be {CONFIG_FORMAT} (older configs go through migrate()), got {self.format}")
        if self.views.kind == "deshared" and self.data.dataset not in DESHARED_DATASETS:
            raise ValueError(f"views.kind 'deshared' (de-shared overlays) needs a dataset whose overlay is redrawn "
                             f"per view ({', '.join(DESHARED_DATASETS)}), got {self.data.dataset!r}")
        if self.probe.online_head and self.views.kind == "hierarchical":
            raise ValueError("probe.online_head (--online-head) reads the representation of the learner's first view; "
                             "hierarchical views compute their own staged loss and have none")
        if self.train.view_forwards != "joint" and self.views.kind in ("viewmaker", "hierarchical"):
            raise ValueError(f"train.view_forwards {self.train.view_forwards!r} applies to views without a network or "
                             f"loss of their own; views.kind {self.views.kind!r} takes only 'joint'")
        if self.probe.online_head and self.train.perf.compile:
            raise ValueError("probe.online_head (--online-head) reads the representation through a forward hook, "
                             "which a compiled encoder (--perf compile) does not run; turn one of them off")


PRESETS: dict[str, dict[str, Any]] = {
    # The paper's protocol: all defaults.
    "paper": {},
    # A run that finishes offline on a laptop CPU in about a minute.
    "smoke": {
        "data": {"train_size": 512, "test_size": 512},
        "train": {"epochs": 2, "width": 8, "batch_size": 128},
        "probe": {"epochs": 5},
    },
    # The CPU protocol of the C+* claim (README, "Suppression on CPU"): one (dataset, method, seed)
    # run in about 4-5 minutes on one core. Departures from the paper, each on purpose: Fashion-MNIST
    # as the base (pass --data-dir, see scripts/fetch_fashion_mnist_offline.py; a semantic task
    # instead of "which of ten photos"), the colab's small ConvN with Adam 1e-3 decayed linearly,
    # temperature 0.1, 10,000 training images, 20 epochs, crop-only expert views (random crop of
    # area 0.5-1, no colour jitter, grayscale, blur or flip, so the overlay's colour reaches both
    # views intact), the fast probe only, a viewmaker with one residual block and width 8 (channels
    # 8-16-32 instead of 32-64-128: ~1.7 s a step instead of ~9 s, about 22 minutes a run on one core).
    "cpu": {
        "data": {"base_source": "fashion-mnist", "train_size": 10000, "test_size": 2000,
                 "augmentation": "crop_only"},
        "train": {"encoder": "convn", "width": 32, "out_dim": 64, "optimizer": "adam", "lr": 1e-3,
                  "lr_schedule": "linear_decay", "weight_decay": 1e-4, "batch_size": 256, "epochs": 20,
                  "temperature": 0.1, "probe_at": [0.25, 0.5, 1.0]},
        "views": {"viewmaker": {"num_res_blocks": 1, "width": 8}},
        "probe": {"paper": False},
    },
    # The CPU protocol of the audio dataset (README, "Audio on CPU"): spoken digit + background noise,
    # the espeak-ng stand-in for AudioMNIST (pass --data-dir, see scripts/build_audio_offline.py).
    # As "cpu" (ConvN, Adam 1e-3 decayed linearly, temperature 0.1, fast probe only, a one-block
    # viewmaker), with the dataset's own "audio" expert policy and the Viewmaker paper's audio batch, 128;
    # ConvN width 16 and 12 epochs (936 steps) so that a run takes about 6-8 minutes on one CPU core
    # (an expert step at 64x64 is 0.33 s at width 16, 0.8 s at width 32; a viewmaker step ~30 s).
    "audio-cpu": {
        "data": {"dataset": "audio", "train_size": 10000, "test_size": 2000},
        "train": {"encoder": "convn", "width": 16, "out_dim": 64, "optimizer": "adam", "lr": 1e-3,
                  "lr_schedule": "linear_decay", "weight_decay": 1e-4, "batch_size": 128, "epochs": 12,
                  "temperature": 0.1, "probe_at": [0.25, 0.5, 1.0]},
        "views": {"viewmaker": {"num_res_blocks": 1}},
        "probe": {"paper": False},
    },
    # The RandBits-MNIST colab of Chen et al. 2021 (docs/related-work.md): real MNIST (pass
    # --data-dir, see scripts/fetch_mnist_offline.py), 5 random bits, ConvN, the colab's two-way
    # cross-view loss, Adam 1e-3 decayed linearly to 0, batch 1000, 10 epochs (600 steps).
    # Keras' l2(1e-4) penalty on the weights is torch's coupled decay 2e-4. The colab's online
    # linear head is replaced by the fast probe on the same representation after training;
    # --online-head (probe.online_head) adds the colab's head beside it.
    "randbits-colab": {
        "data": {"dataset": "randbit", "digit_source": "mnist", "randbit_bits": 5},
        "train": {"encoder": "convn", "width": 32, "out_dim": 64, "optimizer": "adam", "lr": 1e-3,
                  "lr_schedule": "linear_decay", "weight_decay": 2e-4, "decay_on": "kernels", "batch_size": 1000, "epochs": 10,
                  "temperature": 0.1, "loss_variant": "cross_view_both", "probe_at": [0.3, 1.0]},
        "probe": {"paper": False},
    },
}


COLAB_RECIPE_OPTIONS: tuple[tuple[str, str], ...] = (
    ("data", "normalization"), ("train", "convn_padding"), ("train", "batchnorm"), ("train", "view_forwards"),
    ("train", "data_order"),
)
"""Where the RandBits colab's recipe still differs from ``--preset randbits-colab``: (config section, field),
each an option left at this package's default by the preset, so that each can be tested alone. The CLI
flag of ``(section, name)`` is ``--`` + ``name`` with ``-`` for ``_``."""


def option_default(section: str, name: str) -> Any:
    """This package's default of ``RunConfig.<section>.<name>``."""
    return getattr(getattr(RunConfig(), section), name)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge two nested mappings; values in ``override`` win."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def migrate(layer: Mapping[str, Any]) -> dict[str, Any]:
    """A (partial) config mapping in format :data:`CONFIG_FORMAT`; format 1 is the one without ``format``.

    Format 1 -> 2: ``train.method`` -> ``views.kind``, ``train.dropout_p`` -> ``views.dropout.p``,
    ``viewmaker`` -> ``views.viewmaker``; other keys are kept (a partial layer stays partial).

    Raises:
        ValueError: a format this version cannot read.
    """
    out = copy.deepcopy(dict(layer))
    version = out.pop("format", 1)
    if version not in (1, CONFIG_FORMAT):
        raise ValueError(f"config format {version!r} is not supported (this version reads 1 to {CONFIG_FORMAT})")
    if version == 1:
        train = out.get("train")
        moved: dict[str, Any] = {}
        if isinstance(train, Mapping):
            train = dict(train)
            if "method" in train:
                moved["kind"] = train.pop("method")
            if "dropout_p" in train:
                moved["dropout"] = {"p": train.pop("dropout_p")}
            out["train"] = train
        if "viewmaker" in out:
            moved["viewmaker"] = out.pop("viewmaker")
        if moved:
            views = out.get("views", {})
            out["views"] = merge(views, moved) if isinstance(views, Mapping) else views
    return {"format": CONFIG_FORMAT, **out}


def build_config(*layers: Mapping[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig` from nested override mappings, later layers winning.

    Each layer is migrated to the current format first (see :func:`migrate`), so another run's
    old ``config.json`` works as a layer.

    Raises:
        ValueError: unknown keys, wrong types or invalid values (the message names the field).
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        if not isinstance(layer, Mapping):
            raise ValueError(f"a config must be a JSON object, got {type(layer).__name__}")
        merged = merge(merged, migrate(layer))
    return from_dict(RunConfig, merged)


def load_config(data: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a whole ``config.json`` mapping, in any readable format."""
    return build_config(data)
