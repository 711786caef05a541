"""Kinds of views, one file each (expert, viewmaker, feature dropout, hierarchical, de-shared overlays), and their registry."""

from .base import FixedViews, ViewContext, ViewKind, ViewSource, fit_items
from .deshared import DesharedConfig, DesharedViews
from .dropout import DropoutConfig, DropoutViews, overlay_keep_mask
from .expert import ExpertConfig, ExpertViews
from .hierarchical import HierarchicalConfig, HierarchicalViews
from .registry import METHODS, VIEW_KINDS, ViewsConfig, build_views, view_kind
from .viewmaker import ViewmakerConfig, ViewmakerViews, build_viewmaker

__all__ = ["fit_items", "DesharedConfig", "DesharedViews", "FixedViews", "ViewContext", "ViewKind", "ViewSource", "DropoutConfig", "DropoutViews",
           "overlay_keep_mask", "ExpertConfig", "ExpertViews", "METHODS", "VIEW_KINDS", "ViewsConfig",
           "build_views", "view_kind", "ViewmakerConfig", "ViewmakerViews", "build_viewmaker", "HierarchicalConfig",
           "HierarchicalViews"]
