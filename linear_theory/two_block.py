"""The strong/weak two-block setting of docs/linear-theory.md: its models and its closed form over grids.

Block 1 is the strong feature (strength ``s_1``), block 2 the weak one (``s_2``); feature dropout
``p`` acts on block 1 only. The sweep CLI, the theory figures and the deep-vs-theory figure all
describe their model with one :class:`TwoBlock` and predict through
:func:`linear_theory.closed_form.predict`, so the setting and the prediction chain are written once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from linear_theory.closed_form import Prediction, block_eigenvalues, critical_dropout_from_eigenvalue, predict
from linear_theory.model import FeatureBlock, LinearModel

__all__ = ["TwoBlock"]


@dataclass(frozen=True)
class TwoBlock:
    """The two-block model of docs/linear-theory.md, without its capacity ``k`` and dropout ``p`` (the swept knobs).

    Attributes:
        strong_strength, weak_strength: ``s_1`` and ``s_2`` (> 0).
        dims: ``(r_1, r_2)`` (>= 1 each).
        aug_noise: ``(eta_1, eta_2)``, label-preserving augmentation noise (>= 0).
        noise: isotropic input noise ``sigma`` (>= 0).
        input_dim: ``d`` of the built models (``None``: ``r_1 + r_2``); the closed form does not
            depend on it, simulations do.
    """

    strong_strength: float = 3.0
    weak_strength: float = 1.0
    dims: tuple[int, int] = (4, 4)
    aug_noise: tuple[float, float] = (0.0, 0.5)
    noise: float = 0.1
    input_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("strong_strength", "weak_strength"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"TwoBlock.{name} must be a finite number > 0, got {value!r}")
        if len(self.dims) != 2 or min(self.dims) < 1:
            raise ValueError(f"TwoBlock.dims must be two integers >= 1, got {self.dims}")
        if len(self.aug_noise) != 2 or not all(a >= 0 and math.isfinite(a) for a in self.aug_noise):
            raise ValueError(f"TwoBlock.aug_noise must be two finite numbers >= 0, got {self.aug_noise}")
        if not (self.noise >= 0 and math.isfinite(self.noise)):
            raise ValueError(f"TwoBlock.noise must be a finite number >= 0, got {self.noise!r}")
        if self.input_dim is not None and self.input_dim < sum(self.dims):
            raise ValueError(f"TwoBlock.input_dim must be >= sum(dims) = {sum(self.dims)}, got {self.input_dim}")

    def model(self, dropout: float, rep_dim: int) -> LinearModel:
        """The :class:`LinearModel` with dropout ``p = dropout`` on block 1 and capacity ``k = rep_dim``."""
        blocks = (FeatureBlock(self.dims[0], self.strong_strength, dropout=dropout, aug_noise=self.aug_noise[0]),
                  FeatureBlock(self.dims[1], self.weak_strength, aug_noise=self.aug_noise[1]))
        return LinearModel(blocks, rep_dim=rep_dim, noise=self.noise, input_dim=self.input_dim)

    def _strengths(self, strong: ArrayLike | None, weak: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
        s1 = np.asarray(self.strong_strength if strong is None else strong, dtype=float)
        s2 = np.asarray(self.weak_strength if weak is None else weak, dtype=float)
        return s1, s2

    def predict(self, dropout: ArrayLike, rep_dim: int, *, strong: ArrayLike | None = None,
                weak: ArrayLike | None = None) -> Prediction:
        """Closed form at the spectral optimum, vectorized: every field has shape ``(..., 2)``.

        ``dropout`` (on block 1), ``strong`` and ``weak`` (the strengths ``s_1``, ``s_2``; default:
        the setting's) broadcast together to ``(...)``. A strength of 0 is allowed here (no
        signal: eigenvalue 0, chance accuracy).
        """
        s1, s2, p = np.broadcast_arrays(*self._strengths(strong, weak), np.asarray(dropout, dtype=float))
        strength = np.stack([s1, s2], axis=-1)
        drop = np.stack([p, np.zeros(p.shape)], axis=-1)
        return predict(strength, drop, np.asarray(self.aug_noise, dtype=float), self.noise, self.dims, rep_dim)

    def critical_dropout(self, *, strong: ArrayLike | None = None, weak: ArrayLike | None = None) -> np.ndarray:
        """``p*`` where block 1's eigenvalue falls to block 2's (NaN where block 1 never exceeds it); broadcasting."""
        s1, s2 = self._strengths(strong, weak)
        lam_weak = block_eigenvalues(s2, 0.0, self.aug_noise[1], self.noise)
        return critical_dropout_from_eigenvalue(s1, self.aug_noise[0], self.noise, lam_weak)

    def ratio_grid(self, ratios: ArrayLike, dropouts: ArrayLike, rep_dim: int) -> dict[str, np.ndarray]:
        """Closed form over the (ratio, dropout) grid with ``s_2 = ratio * s_1`` (``weak_strength`` unused).

        Returns:
            ``ratio``, ``dropout``, ``p_star`` of shape ``(num_ratio, num_dropout)`` and
            ``eigenvalue``, ``captured_dims``, ``probe_r2``, ``probe_accuracy`` of shape
            ``(num_ratio, num_dropout, 2)``.
        """
        ratio, p = np.meshgrid(np.asarray(ratios, dtype=float), np.asarray(dropouts, dtype=float), indexing="ij")
        weak = self.strong_strength * ratio
        return {"ratio": ratio, "dropout": p, "p_star": self.critical_dropout(weak=weak),
                **self.predict(p, rep_dim, weak=weak)._asdict()}
