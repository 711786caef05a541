"""RandBit in the linear model: ``b`` shared random bits compete with an augmented "image" block.

Chen, Luo & Li 2021 (docs/related-work.md) append ``b`` random bits to every image,
identical in both views and never augmented, and find that a few bits suppress the image
features. Here the bits are block 1 of the linear model of docs/linear-theory.md: ``b`` coordinates
``s_b u``, ``u`` uniform on ``{-1, +1}^b``, ``eta = 0``, the whole block dropped from each view
independently with probability ``p`` (:class:`~linear_theory.model.FeatureBlock` with
``binary=True``); block 2 is the image (``r`` dims, strength ``s``, augmentation noise ``eta``).

Exact moments (``E u = 0``, ``E u u^T = I``, masks ``m^(t) ~ Bernoulli(1 - p)`` independent of
``u`` and of each other): ``E[x_bits^(1) x_bits^(2)T] = s_b^2 (1 - p)^2 I`` and
``E[x_bits x_bits^T] = s_b^2 (1 - p) I`` - the moments of a Gaussian block with ``eta = 0``. The
spectral loss depends on the data only through these two matrices, so its closed form is exact
for bits: ``lambda_bits = s_b^2 (1 - p)^2 / (s_b^2 (1 - p) + sigma^2)`` (``-> 1 - p`` as
``sigma -> 0``). The bits win every slot while ``lambda_bits > lambda_img`` (and ``b >= k``);
the image is rescued for ``p > p*`` (the critical-dropout quadratic), ``p* -> 1 - lambda_img =
1 - rho_img`` as ``sigma -> 0`` (docs/related-work.md). InfoNCE and the generalized losses see more
than two moments, so they are simulated (:func:`linear_theory.simulate.simulate_many`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from linear_theory.closed_form import Prediction, block_eigenvalues
from linear_theory.model import LinearModel
from linear_theory.two_block import TwoBlock

__all__ = ["RandBit"]


@dataclass(frozen=True)
class RandBit:
    """``bits`` shared ``+-1`` bits (block 1) against an image block (block 2).

    Attributes:
        bits: number of bits ``b`` (>= 1).
        bit_strength: ``s_b`` (1: the colab's {0, 1} bits centred and scaled to ``+-1``).
        image_strength, image_dim, image_aug_noise: the image block ``s``, ``r``, ``eta``
            (docs/linear-theory.md's weak block: 1, 4, 0.5).
        noise: isotropic input noise ``sigma``.
        input_dim: ``d`` of the built models (>= ``bits + image_dim``); fixed so that a sweep over
            ``b`` keeps the same noise dimensions.
    """

    bits: int = 4
    bit_strength: float = 1.0
    image_strength: float = 1.0
    image_dim: int = 4
    image_aug_noise: float = 0.5
    noise: float = 0.1
    input_dim: int = 32

    def __post_init__(self) -> None:
        self.two_block()  # validates every field

    def two_block(self) -> TwoBlock:
        """The moment-equivalent Gaussian setting (bits = strong block 1 with ``eta = 0``): same closed form."""
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)) or self.bits < 1:
            raise ValueError(f"RandBit.bits must be an integer >= 1, got {self.bits!r}")
        return TwoBlock(strong_strength=self.bit_strength, weak_strength=self.image_strength,
                        dims=(int(self.bits), self.image_dim), aug_noise=(0.0, self.image_aug_noise),
                        noise=self.noise, input_dim=self.input_dim)

    def with_bits(self, bits: int) -> RandBit:
        return replace(self, bits=bits)

    def model(self, dropout: float, rep_dim: int) -> LinearModel:
        """The linear model with the bits dropped per view with probability ``dropout`` (block 1 binary)."""
        m = self.two_block().model(dropout, rep_dim)
        return replace(m, blocks=(replace(m.blocks[0], binary=True), m.blocks[1]))

    def predict(self, dropout: ArrayLike, rep_dim: int) -> Prediction:
        """Spectral optimum (exact for bits, module docstring), vectorized over ``dropout``: fields ``(..., 2)``."""
        return self.two_block().predict(dropout, rep_dim)

    def bit_eigenvalue(self, dropout: ArrayLike) -> np.ndarray:
        """``lambda_bits(p) = s_b^2 (1-p)^2 / (s_b^2 (1-p) + sigma^2)``."""
        return block_eigenvalues(self.bit_strength, np.asarray(dropout, dtype=float), 0.0, self.noise)

    def image_eigenvalue(self) -> float:
        """``lambda_img = s^2 / (s^2 (1 + eta^2) + sigma^2)`` (the image is never dropped)."""
        return float(block_eigenvalues(self.image_strength, 0.0, self.image_aug_noise, self.noise))

    def critical_dropout(self) -> float:
        """``p*``: the bits' dropout above which the image wins the slots (NaN if it always does)."""
        return float(self.two_block().critical_dropout())

    def suppressed(self, dropout: ArrayLike, rep_dim: int) -> np.ndarray:
        """Whether the image task gets no capacity at all (``R^2 = 0``) at the spectral optimum."""
        return self.predict(dropout, rep_dim).captured_dims[..., 1] == 0
