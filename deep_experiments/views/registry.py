"""The registry of view kinds: name -> :class:`ViewKind`, and the ``views`` config section it implies.

Adding a kind of view is one file in this package (its config, view source and ``ViewKind``) plus
one entry in :data:`VIEW_KINDS`. Everything else reads the registry: ``--method`` choices,
:class:`ViewsConfig` (one sub-section per kind) and its validation, :func:`build_views`, the
figure colours and the CPU grid script.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from deep_experiments.checks import registered

from .base import ViewContext, ViewKind, ViewSource
from .deshared import DESHARED
from .dropout import DROPOUT
from .expert import EXPERT
from .hierarchical import HIERARCHICAL
from .viewmaker import VIEWMAKER

__all__ = ["VIEW_KINDS", "METHODS", "ViewsConfig", "view_kind", "build_views"]

VIEW_KINDS: dict[str, ViewKind] = {kind.name: kind for kind in (EXPERT, VIEWMAKER, DROPOUT, HIERARCHICAL, DESHARED)}
"""Every kind of view, in the order the CLI and the figures list them."""

METHODS: tuple[str, ...] = tuple(VIEW_KINDS)
"""The names of the view kinds (``--method``, ``views.kind``)."""


def view_kind(name: str) -> ViewKind:
    """The registered kind ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    return registered(VIEW_KINDS, name, "views.kind (the method)")


def _check_kind(self: Any) -> None:
    view_kind(self.kind)


def _selected(self: Any) -> Any:
    """The config section of the chosen kind."""
    return getattr(self, self.kind)


ViewsConfig: type[Any] = dataclasses.make_dataclass(
    "ViewsConfig",
    [("kind", str, dataclasses.field(default=METHODS[0]))]
    + [(kind.name, kind.config, dataclasses.field(default_factory=kind.config)) for kind in VIEW_KINDS.values()],
    frozen=True,
    namespace={"__post_init__": _check_kind, "selected": _selected,
               "__doc__": "The views of a run: ``kind`` (the method) and one config section per registered kind."},
)
ViewsConfig.__module__ = __name__
"""``kind`` plus one field per registered kind (``expert``, ``viewmaker``, ``dropout``, ``hierarchical``,
``deshared``), each its config."""


def build_views(config: Any, ctx: ViewContext) -> ViewSource:
    """The view source of ``config.kind``, built from its own config section."""
    kind = view_kind(config.kind)
    return kind.build(config.selected(), ctx)
