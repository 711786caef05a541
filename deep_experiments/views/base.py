"""What every kind of view provides: a :class:`ViewSource`, its :class:`ViewKind` and build context.

A view source turns a batch of overlaid images (plus, for dropout, the same images without the
overlay) into one random, encoder-ready (normalized) view per image. A kind that trains
something of its own (the viewmaker: a network, its optimizer and its adversarial step) owns it
and exposes it through :meth:`ViewSource.modules`, :meth:`ViewSource.optimizers` and
:meth:`ViewSource.train_step`; fixed views return nothing there (:class:`FixedViews`).

Optional: a view source with a ``pair(image, other, generator)`` method makes both views of a pair
itself (the de-shared overlay views: one view per overlay draw), and one with
``needs_second_overlay = True`` trains on items whose fourth field is the image under a second,
independent overlay instead of ``base`` (:func:`fit_items`).

Optional: a view source with a ``both(image, base, generator)`` method returns both views of every
image as one batch ``(2B, C, S, S)``, view 1's rows first: exactly ``torch.cat`` of two calls (the same
draws in the same order), each view written into its half instead of copied there (expert and dropout
views).

Optional: a view source with a ``contrastive_loss(learner, image, base, generator)`` method
replaces the learner's loss of two views by its own (:meth:`ContrastiveLearner.loss` delegates to
it): the hierarchical views contrast several pairs of views at several depths of the encoder. A
kind whose modules train jointly with the encoder (not against it, like the viewmaker) adds them
to the encoder's optimizer through :attr:`ViewContext.train_jointly` at build time, and re-enables
their gradients (:func:`deep_experiments.guards.trainable`) inside its loss, since the encoder step
freezes the views' modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from deep_experiments.data import DatasetSpec
from deep_experiments.normalize import Normalize

if TYPE_CHECKING:
    from deep_experiments.run.learner import ContrastiveLearner

__all__ = ["ViewSource", "FixedViews", "ViewContext", "ViewKind", "fit_items"]


class ViewSource(Protocol):
    """A strategy that makes one random, normalized view per image (see the module docstring)."""

    needs_base: bool

    def __call__(self, image: torch.Tensor, base: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Shape: ``image`` and ``base`` ``(B, C, H, W)`` -> ``(B, C, size, size)``."""
        ...

    def modules(self) -> dict[str, nn.Module]:
        """The trainable modules of the views by name (checkpoints; frozen in the encoder step)."""
        ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Their optimizers by name (checkpoints)."""
        ...

    def train_step(self, learner: ContrastiveLearner, image: torch.Tensor, base: torch.Tensor | None,
                   generator: torch.Generator, where: str) -> dict[str, float]:
        """The views' own step after the encoder's; returns the losses to log."""
        ...


class FixedViews:
    """Base of view sources with nothing to train: no modules, optimizers or step."""

    needs_base = False

    def modules(self) -> dict[str, nn.Module]:
        """None."""
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """None."""
        return {}

    def train_step(self, learner: ContrastiveLearner, image: torch.Tensor, base: torch.Tensor | None,
                   generator: torch.Generator, where: str) -> dict[str, float]:
        """No step: nothing to log."""
        return {}


@dataclass(frozen=True)
class ViewContext:
    """What a kind's builder may use: the dataset's spec, the input normalization, device and run seed.

    ``encoder`` (the run's encoder) and ``train_jointly`` (adds a module's parameters to the
    encoder's optimizer: same learning rate, schedule and weight-decay rule, checkpointed with it)
    are given by :func:`deep_experiments.run.components.build_components`; ``None`` elsewhere.
    """

    spec: DatasetSpec
    normalize: Normalize
    device: torch.device
    seed: int
    encoder: nn.Module | None = None
    train_jointly: Callable[[nn.Module], None] | None = None


@dataclass(frozen=True)
class ViewKind:
    """One registered kind of view.

    Attributes:
        name: the registry name (``--method``, ``views.kind``, run folders, figure legends).
        config: the kind's frozen dataclass config section (``views.<name>`` of a run config).
        build: makes the view source from its config section and a :class:`ViewContext`.
        label: a short human description (CLI help, figures).
    """

    name: str
    config: type[Any]
    build: Callable[[Any, ViewContext], ViewSource]
    label: str


def fit_items(dataset: Any, views: ViewSource) -> Any:
    """The items ``views`` train on: ``dataset`` itself, with ``base`` (dropout views) or with a second
    overlay (de-shared views) as the fourth field (``dataset``: a :class:`~deep_experiments.data.TwoTaskDataset`)."""
    if getattr(views, "needs_second_overlay", False):
        return dataset.with_second_overlay()
    return dataset.with_base() if views.needs_base else dataset
