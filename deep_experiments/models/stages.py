"""The encoders cut at four depths, and the heads the hierarchical views train at each depth.

:func:`encoder_stages` presents an encoder as four blocks whose composition is its representation
(``encoder.pooled``), plus its own head split at the head's first linear layer. Splitting there lets
the last stage concatenate an augmentation embedding ``e`` to the representation ``h`` before the
head without changing the encoder: ``first([h, e]) = first(h) + W e``, so the head on the
concatenation is ``rest(first(h) + W e)`` with ``W`` a new bias-free linear map (in
:class:`StageHeads`), and the exported backbone stays the plain encoder. The stages hold no modules
of their own; they call the encoder's, looked up at every call (so a module replaced inside the
encoder later, e.g. by the data-parallel run's global BatchNorm, is the one used).

- ResNet-18 (CIFAR): stem + layer1, layer2, layer3, layer4 + global average pooling (widths w, 2w,
  4w, 8w); head: ``fc``.
- ConvN: conv blocks 1, 2 and 3, then the dense representation (widths w, 2w, 2w, 4w); head: the
  projection MLP.

:class:`StageHeads` holds what the hierarchical method adds to the encoder: one projection head per
stage but the last (global average pooling, then Linear + BN + ReLU + Linear to the encoder's
``out_dim``: lighter than the paper's attention and separable-convolution heads, and the same for
both encoders), the augmentation embeddings (Linear + BN + ReLU of the augmentation parameters, the
paper's ``Crop_enc``) and the map ``W`` of the last stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from deep_experiments.models.convn import ConvN
from deep_experiments.models.resnet import ResNet18

__all__ = ["EncoderStages", "encoder_stages", "StageHeads", "stage_embeddings"]

Block = Callable[[torch.Tensor], torch.Tensor]


def _layers(sequence: nn.Sequential, start: int, stop: int | None, x: torch.Tensor) -> torch.Tensor:
    """``sequence[start:stop](x)``, with the layers the sequence holds now."""
    for layer in list(sequence)[start:stop]:
        x = layer(x)
    return x


def _pool(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling of a feature map; a vector passes through. ``(B, C, H, W)`` -> ``(B, C)``."""
    return x.mean(dim=(2, 3)) if x.ndim == 4 else x


@dataclass(frozen=True)
class EncoderStages:
    """An encoder as four blocks and its own head split at the head's first linear layer.

    Attributes:
        blocks: ``x -> stage 1 -> ... -> stage 4``; the last block's output is ``encoder.pooled(x)``.
        widths: channels (feature maps) or features (vectors) of each block's output.
        head_first: the first linear layer of the encoder's head.
        head_rest: what follows it (identity for ResNet-18's single ``fc``).
        out_dim: the encoder's output size.
    """

    blocks: tuple[Block, ...]
    widths: tuple[int, ...]
    head_first: nn.Linear
    head_rest: Block
    out_dim: int

    def head(self, h: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's head on ``h``, with ``extra`` added after its first linear layer.

        Shape: ``h`` ``(B, widths[-1])``, ``extra`` ``(B, head_first.out_features)`` -> ``(B, out_dim)``.
        """
        first = self.head_first(h)
        return self.head_rest(first if extra is None else first + extra)


def encoder_stages(encoder: nn.Module) -> EncoderStages:
    """The four stages of a :class:`ResNet18` or :class:`ConvN` (a ``torch.compile`` wrapper is looked through).

    Raises:
        TypeError: any other module.
    """
    encoder = getattr(encoder, "_orig_mod", encoder)
    if isinstance(encoder, ResNet18):
        res = encoder
        w = res.width
        return EncoderStages(
            blocks=(lambda x: res.stages[0](res.stem(x)), lambda x: res.stages[1](x), lambda x: res.stages[2](x),
                    lambda x: _pool(res.stages[3](x))),
            widths=(w, 2 * w, 4 * w, 8 * w), head_first=res.fc, head_rest=lambda h: h, out_dim=res.out_dim)
    if isinstance(encoder, ConvN):
        conv = encoder
        w = conv.width
        return EncoderStages(
            blocks=(lambda x: _layers(conv.convs, 0, 3, x), lambda x: _layers(conv.convs, 3, 6, x),
                    lambda x: _layers(conv.convs, 6, 9, x), lambda x: conv.representation(x)),
            widths=(w, 2 * w, 2 * w, 4 * w), head_first=conv.projection[0],
            head_rest=lambda h: _layers(conv.projection, 1, None, h), out_dim=conv.out_dim)
    raise TypeError(f"the hierarchical stages know ResNet18 and ConvN, not {type(encoder).__name__}")


def _embedding(in_dim: int, out_dim: int) -> nn.Sequential:
    """Linear + BN + ReLU of the augmentation parameters (the paper's ``Crop_enc``)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.ReLU(inplace=True))


class StageHeads(nn.Module):
    """The heads of stages 1-3, the augmentation embeddings and the last stage's map (module docstring).

    Args:
        stages: the encoder's stages (their widths, head and ``out_dim`` size the heads).
        param_dim: augmentation parameters per view (4: colour-jitter factors or crop box).
        embed_dim: width of each augmentation embedding.
        embed_stages: 0-based stages whose representation gets the embedding (paper: 1, 2, 3).
    """

    def __init__(self, stages: EncoderStages, param_dim: int, embed_dim: int, embed_stages: Sequence[int]) -> None:
        super().__init__()
        last = len(stages.widths) - 1
        if any(not 0 <= k <= last for k in embed_stages):
            raise ValueError(f"embed_stages must be in [0, {last}], got {list(embed_stages)}")
        self.embed_stages = tuple(sorted(set(embed_stages)))
        hidden = stages.widths[-1]
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(width + (embed_dim if k in self.embed_stages else 0), hidden),
                          nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, stages.out_dim))
            for k, width in enumerate(stages.widths[:-1]))
        self.embeddings = nn.ModuleDict({str(k): _embedding(param_dim, embed_dim) for k in self.embed_stages})
        self.last = nn.Linear(embed_dim, stages.head_first.out_features, bias=False) if last in self.embed_stages \
            else None

    def forward(self, stages: EncoderStages, k: int, h: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor:
        """Stage ``k``'s (0-based) output on its block output ``h`` and the views' parameters.

        Shape: ``h`` ``(N, widths[k], H, W)`` or ``(N, widths[k])``, ``params`` ``(N, param_dim)``
        (used only at embedding stages) -> ``(N, out_dim)``.
        """
        h = _pool(h)
        e = None
        if k in self.embed_stages:
            if params is None:
                raise ValueError(f"stage {k + 1} embeds the augmentation parameters; none were given")
            e = self.embeddings[str(k)](params)
        if k < len(self.heads):
            return self.heads[k](h if e is None else torch.cat([h, e], dim=1))
        return stages.head(h, None if e is None or self.last is None else self.last(e))


def stage_embeddings(stages: EncoderStages, heads: StageHeads, views: Sequence[torch.Tensor],
                     params: Sequence[torch.Tensor | None]) -> list[torch.Tensor]:
    """Each stage's output on its own views: ``views[k]`` goes through blocks ``1..k+1`` only.

    One pass per stage, as the paper's truncated forward (BatchNorm sees one stage's views at a
    time). Measured on CPU (RandBit, batch 1000, ConvN, one thread): 2.7 s per forward + backward
    against 4.0 s for one batch of all stages' views split after each block (larger batches run
    the convolutions slower per image, and the split costs a concatenation in the backward).

    Shape: ``views[k]`` ``(N_k, C, S, S)``, ``params[k]`` ``(N_k, param_dim)`` or ``None`` ->
    ``[(N_k, out_dim)]`` per stage.
    """
    if len(views) != len(stages.blocks) or len(params) != len(views):
        raise ValueError(f"need views and params for each of {len(stages.blocks)} stages, got {len(views)} and "
                         f"{len(params)}")
    out = []
    for k, (h, p) in enumerate(zip(views, params)):
        for block in stages.blocks[:k + 1]:
            h = block(h)
        out.append(heads(stages, k, h, p))
    return out
