"""featuredrop: shared core of the feature-suppression / feature-dropout package.

The three arms live in their own import packages:

- :mod:`linear_theory` — closed forms and simulations of a linear contrastive encoder;
- :mod:`deep_experiments` — SimCLR / Viewmaker / feature-dropout views with deep encoders;
- :mod:`paper_figures` — figures that put both arms on the same axes.

This package holds what both arms share, so that each thing has exactly one implementation:
the NT-Xent / InfoNCE loss (:mod:`featuredrop.losses`) and strict typed configs
(:mod:`featuredrop.config`).
"""

__version__ = "0.1.0"
