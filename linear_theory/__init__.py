"""Linear theory of feature suppression and feature dropout in contrastive learning.

The model, the closed forms and the theorems are those of docs/linear-theory.md (this package's own
theory; the Feature Dropout paper's theorems are not reproduced verbatim). Public API:

- :class:`FeatureBlock`, :class:`LinearModel` — the data model (``moments``, ``sample_views``,
  ``spectral_optimum``);
- :func:`spectral_loss`, :func:`spectral_grad`, :func:`spectral_optimum` — the spectral loss;
- :func:`critical_dropout`, :func:`best_dropout` — where dropout rescues a suppressed feature;
- :class:`TwoBlock` — the strong/weak two-block setting (models, closed form over grids);
- :class:`RandBit` — shared random +-1 bits against an image block (Chen et al. 2021's RandBit);
- :mod:`linear_theory.closed_form` — the same closed forms vectorized over sweeps (``predict``:
  eigenvalue -> captured dims -> probe ``R^2`` -> accuracy);
- :mod:`linear_theory.dynamics`, :mod:`linear_theory.simulate` — gradient flow and GD/SGD
  (:mod:`linear_theory.infonce_grad`: InfoNCE's gradient written out for the simulator);
  :mod:`linear_theory.integrate` — the batched Dormand-Prince integrator;
- :mod:`linear_theory.infonce_runs` — many InfoNCE runs, batched, cached on disk;
- :mod:`linear_theory.symbolic` — sympy derivations; :mod:`linear_theory.sweep` — the CLI.
"""

from linear_theory.model import FeatureBlock, LinearModel, Views
from linear_theory.randbit import RandBit
from linear_theory.simulate import SimulationConfig
from linear_theory.spectral import (
    BestDropout,
    SpectralOptimum,
    best_dropout,
    captured_strength,
    critical_dropout,
    encoder_probe_r2,
    spectral_grad,
    spectral_loss,
    spectral_optimum,
)
from linear_theory.trajectory import Trajectory
from linear_theory.two_block import TwoBlock

__all__ = [
    "FeatureBlock",
    "LinearModel",
    "Views",
    "SpectralOptimum",
    "BestDropout",
    "spectral_loss",
    "spectral_grad",
    "spectral_optimum",
    "encoder_probe_r2",
    "captured_strength",
    "critical_dropout",
    "best_dropout",
    "Trajectory",
    "SimulationConfig",
    "TwoBlock",
    "RandBit",
]
