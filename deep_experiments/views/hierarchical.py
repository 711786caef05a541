"""Hierarchical augmentation invariance with expanded views (Zhang & Ma, CVPR 2022) as a kind of views.

The recipe of the paper's official SimSiam code (docs/related-work.md): four pairs of
views of each image, made by cumulative ("add-one") pipelines, one pair per depth of the encoder:

    stage 1 (after ResNet layer1)          crop + colour jitter
    stage 2 (layer2)                       + grayscale
    stage 3 (layer3)                       + Gaussian blur
    stage 4 (layer4: the usual output)     + horizontal flip

so a shallow stage is trained to be invariant to few augmentations and only the top to all of them;
each stage's pair is contrasted by its own loss on its own head. The expanded view: the views'
augmentation parameters, embedded by Linear + BN + ReLU, are concatenated to the representation of
stages 2-4 before their heads, so the loss need not make the representation invariant to what a
strong augmentation changed.

Decisions where the paper is silent or our setting differs:

- **Pipelines = the dataset's expert policy, restricted.** Stage k applies the add-one prefix of
  length k of (jitter, grayscale, blur, flip), plus the crop, *intersected with the operations of the
  dataset's policy* (:data:`deep_experiments.augment.POLICY_OPS`, through ``ExpertAugment(ops=...)``;
  same crop scale, probabilities and ranges). Stage 4 is then exactly the expert views, which are
  also the views the paper probe trains on (``__call__``), so a comparison with expert views changes
  only the method. The paper's code disables blur for 32x32 images; we keep the policy's blur for
  that reason. Under the crop-only policy (RandBit; C+* with ``--augmentation crop_only``, as in
  ``--preset cpu``) every stage only crops: the hierarchy of invariances is flat and what remains is
  contrast at four depths with the expanded view (the paper supplementary's "Uniform" baseline with
  crop embeddings). Shared channels (RandBit's bit planes) are appended untouched, as in expert views.
- **Stages of our encoders** (:mod:`deep_experiments.models.stages`): CIFAR ResNet-18's four stages,
  as the paper; ConvN's three conv blocks and its dense representation (four stages, the fourth the
  representation the probes read). Stage 4's head is the encoder's own head (ResNet: ``fc``; ConvN:
  its projection MLP), with the embedding concatenated before it; stages 1-3 get a new head (global
  average pooling, Linear + BN + ReLU + Linear to the encoder's ``out_dim``) instead of the paper's
  attention and separable-convolution heads.
- **What is embedded**: under the SimCLR policy the four colour-jitter factors (brightness,
  contrast, saturation, hue; ``(1, 1, 1, 0)`` when jitter was not applied, as the paper's code);
  under crop-only the crop box ``(x0, y0, w, h)``: there colour ops do not apply and the crop is all
  a view changes; nothing under the audio policy (it records no parameters: every stage applies
  it whole). ``embedding`` overrides this (``"none"``: the hierarchy alone). Stages 2-4 for
  both encoders; one embedding net per stage; width ``embed_dim`` (default: the encoder's
  representation width, 512 for ResNet-18 as the paper, 128 for ConvN).
- **Loss**: the project's NT-Xent (:func:`featuredrop.losses.nt_xent`, the run's temperature and
  variant) per stage instead of SimSiam's negative cosine with predictor and stop-gradient; equal
  weights, summed (the paper's ``L1 + L2 + L3 + L4``). Other loss families are refused.
- **Optimization**: the heads and embeddings (:meth:`modules`, checkpointed as ``"hierarchical"``)
  join the encoder's optimizer at build time (:attr:`ViewContext.train_jointly`: same optimizer,
  learning-rate schedule and weight-decay rule, state checkpointed with the encoder's), as the
  paper trains them with the backbone. The encoder step freezes the views' modules (for the
  viewmaker, which must not descend the loss); this loss re-enables their gradients for its forward
  (:func:`deep_experiments.guards.trainable`).
- **Compute**: pair k goes through encoder stages 1..k only, one pass per pair (the paper's
  truncated forward; :func:`deep_experiments.models.stages.stage_embeddings`). An encoder step
  costs about 3x an expert step on CPU. ``train_step`` logs each stage's loss (``stage1_loss``...).

The probes and the exported backbone use the encoder's final representation, as for every method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from deep_experiments.augment import LADDER, POLICY_OPS, ExpertAugment, ViewParams
from deep_experiments.guards import trainable
from deep_experiments.models.stages import EncoderStages, StageHeads, encoder_stages, stage_embeddings
from deep_experiments.seeds import seeded_init
from featuredrop.distributed import gather_pairs
from featuredrop.losses import nt_xent

from .base import ViewContext, ViewKind
from .expert import expert_augment

if TYPE_CHECKING:
    from deep_experiments.run.learner import ContrastiveLearner

__all__ = ["HierarchicalConfig", "HierarchicalViews", "ADD_ONE", "stage_ops", "HIERARCHICAL"]

Embedding = Literal["auto", "jitter", "crop", "none"]
EMBEDDINGS: tuple[str, ...] = ("auto", "jitter", "crop", "none")

ADD_ONE: tuple[str, ...] = ("jitter", "grayscale", "blur", "flip")
"""The order in which the paper's code adds augmentations, one more per stage (the crop is always on)."""

AUTO_EMBEDDING = {"simclr": "jitter", "crop_only": "crop", **dict.fromkeys(LADDER, "jitter")}
"""What ``embedding="auto"`` embeds under each policy; ``"none"`` under others (the audio policy records no parameters)."""

EMBED_STAGES = (1, 2, 3)
"""0-based stages whose representation is concatenated with the augmentation embedding (the paper's 2-4)."""


@dataclass(frozen=True)
class HierarchicalConfig:
    """The expanded views (the stages and their pipelines are fixed: see the module docstring).

    ``embedding``: what each view's embedding reads: ``"auto"`` (colour-jitter factors under the
    SimCLR policy, the crop box under crop-only), ``"jitter"``, ``"crop"`` or ``"none"``.
    ``embed_dim``: width of each embedding (``None``: the encoder's representation width).
    """

    embedding: Embedding = "auto"
    embed_dim: int | None = None

    def __post_init__(self) -> None:
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"views.hierarchical.embedding must be one of {list(EMBEDDINGS)}, got {self.embedding!r}")
        if self.embed_dim is not None and (isinstance(self.embed_dim, bool) or self.embed_dim < 1):
            raise ValueError(f"views.hierarchical.embed_dim must be >= 1 (or null), got {self.embed_dim!r}")

    def embedded(self, policy: str) -> str:
        """The parameters embedded under ``policy``: ``"jitter"``, ``"crop"`` or ``"none"``.

        Raises:
            ValueError: ``"jitter"`` under a policy without colour jitter (it would embed constants).
        """
        if self.embedding == "auto":
            return AUTO_EMBEDDING.get(policy, "none")
        if self.embedding == "jitter" and "jitter" not in POLICY_OPS.get(policy, ()):
            raise ValueError(f"views.hierarchical.embedding 'jitter' needs colour jitter; policy {policy!r} has none")
        return self.embedding


def stage_ops(policy: str, stages: int = len(ADD_ONE)) -> tuple[frozenset[str], ...]:
    """The operations of each stage's pipeline under ``policy``: crop + the first k of :data:`ADD_ONE`.

    Cumulative: each stage's set contains the previous one's; the last is the whole policy.
    """
    known = set(POLICY_OPS[policy])
    return tuple(frozenset({"crop", *ADD_ONE[:k]}) & known for k in range(1, stages + 1))


class HierarchicalViews:
    """Four pairs of add-one views, contrasted at four depths of the encoder (see the module docstring).

    Args:
        augments: one pipeline per stage (cumulative; the last is the expert views).
        stages: the encoder cut at its four stages (:func:`deep_experiments.models.stages.encoder_stages`).
        heads: the stage heads and augmentation embeddings (trained with the encoder).
        embedded: ``"jitter"``, ``"crop"`` or ``"none"``.
    """

    needs_base = False

    def __init__(self, augments: tuple[ExpertAugment, ...], stages: EncoderStages, heads: StageHeads,
                 embedded: str) -> None:
        if len(augments) != len(stages.blocks):
            raise ValueError(f"need one pipeline per stage ({len(stages.blocks)}), got {len(augments)}")
        self.augments = augments
        self.stages = stages
        self.heads = heads
        self.embedded = embedded
        self._last: list[torch.Tensor] = []

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """One view per image from the last stage's pipeline (the expert views). Shape: ``(B, C, H, W)`` -> same."""
        return self.augments[-1](image, generator)

    def _params(self, p: ViewParams) -> torch.Tensor | None:
        """The embedded parameters of a batch of views. Shape: ``(B, 4)`` or ``None``."""
        return {"jitter": p.jitter, "crop": p.boxes, "none": None}[self.embedded]

    def stage_views(self, image: torch.Tensor,
                    generator: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Each stage's two views of every image (view 1 stacked above view 2) and their parameters.

        Shape: ``image`` ``(B, C, H, W)`` -> per stage ``(2B, C, S, S)`` and ``(2B, 4)`` (or ``None``).
        """
        views, params = [], []
        for augment in self.augments:
            (v1, p1), (v2, p2) = augment.with_params(image, generator), augment.with_params(image, generator)
            views.append(torch.cat([v1, v2]))
            a, b = self._params(p1), self._params(p2)
            params.append(None if a is None or b is None else torch.cat([a, b]))
        return views, params

    def contrastive_loss(self, learner: ContrastiveLearner, image: torch.Tensor, base: torch.Tensor | None,
                         generator: torch.Generator) -> torch.Tensor:
        """The sum over stages of NT-Xent between each stage's two views (replaces the learner's loss).

        Follows the learner's switches as its own loss does: bf16 autocast and channels-last views
        (``learner.bf16``, ``learner.channels_last``) and, in a data-parallel run, the global batch
        (``learner.process_group``).

        Shape: ``image`` ``(B, C, H, W)``; returns a 0-d tensor.
        """
        if learner.family != "nt_xent":
            raise ValueError(f"hierarchical views use NT-Xent at every stage; train.loss {learner.family!r} is not "
                             "supported")
        views, params = self.stage_views(image, generator)
        if getattr(learner, "channels_last", False):
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        bf16 = getattr(learner, "bf16", False)
        with trainable(self.heads), torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=bf16):
            outputs = [z.float() for z in stage_embeddings(self.stages, self.heads, views, params)]
        group = getattr(learner, "process_group", None)
        losses = []
        for z in outputs:
            z1, z2 = z.chunk(2, dim=0)
            if group is not None:  # data-parallel: the global batch's pairs, as the learner's loss
                z1, z2 = gather_pairs(z1, z2, group)
            losses.append(nt_xent(z1, z2, learner.temperature, learner.variant))  # type: ignore[arg-type]
        self._last = [loss.detach() for loss in losses]
        return torch.stack(losses).sum()

    def modules(self) -> dict[str, nn.Module]:
        """``{"hierarchical": heads}`` (checkpointed; their parameters are in the encoder's optimizer)."""
        return {"hierarchical": self.heads}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """None: the heads are optimized by the encoder's optimizer."""
        return {}

    def train_step(self, learner: ContrastiveLearner, image: torch.Tensor, base: torch.Tensor | None,
                   generator: torch.Generator, where: str = "step") -> dict[str, float]:
        """No step of its own (the heads stepped with the encoder); logs each stage's last loss."""
        return {f"stage{k + 1}_loss": float(loss) for k, loss in enumerate(self._last)}


def _build(config: HierarchicalConfig, ctx: ViewContext) -> HierarchicalViews:
    if ctx.encoder is None or ctx.train_jointly is None:
        raise ValueError("hierarchical views need the run's encoder and its optimizer (ViewContext.encoder, "
                         "ViewContext.train_jointly)")
    expert = expert_augment(ctx)
    augments = tuple(ExpertAugment(expert.channels, expert.size, expert.policy, expert.shared_channels, ops=ops,
                                   normalizer=expert.normalizer) for ops in stage_ops(expert.policy))
    stages = encoder_stages(ctx.encoder)
    embedded = config.embedded(expert.policy)
    embed_dim = config.embed_dim or stages.widths[-1]
    with seeded_init(ctx.seed, "init/hierarchical"):
        heads = StageHeads(stages, 4, embed_dim, () if embedded == "none" else EMBED_STAGES).to(ctx.device)
    ctx.train_jointly(heads)
    return HierarchicalViews(augments, stages, heads, embedded)


HIERARCHICAL = ViewKind("hierarchical", HierarchicalConfig, _build,
                        "hierarchical augmentation invariance with expanded views (Zhang & Ma 2022)")
