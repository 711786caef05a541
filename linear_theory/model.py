"""The linear contrastive model of docs/linear-theory.md: feature blocks, views and their moments.

Data are ``x = sum_i s_i U_i z_i + sigma xi`` with mutually orthogonal orthonormal block bases
``U_i`` (the first ``r_1`` coordinates for block 1, the next ``r_2`` for block 2, ...; any rotation
of the input space gives the same learning problem, so axis-aligned bases lose no generality).
A view keeps block ``i`` with probability ``1 - p_i`` (feature dropout: the whole block is zeroed,
destroying the label of every task that reads ``z_i``) and adds label-preserving augmentation noise
``eta_i`` to its latent.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from linear_theory.closed_form import block_moments

__all__ = ["FeatureBlock", "LinearModel", "Views", "check_same_shape", "MAX_STRENGTH"]

MAX_STRENGTH = 1e6
"""Largest block strength accepted: ``s**4`` stays far from float64 overflow in every closed form."""


def _check_number(owner: str, name: str, value: float, *, low: float, low_open: bool, high: float = math.inf) -> float:
    """Validate a scalar field; the error names the owner, the field and the value.

    Only real numbers are accepted: a string (``'3'``) or a bool (``True``) is an error, not a number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}.{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{owner}.{name} must not be NaN")
    bad_low = value <= low if low_open else value < low
    if bad_low or value > high or math.isinf(value):
        bracket = "(" if low_open else "["
        raise ValueError(f"{owner}.{name} must be in {bracket}{low}, {high}], got {value!r}")
    return value


@dataclass(frozen=True)
class FeatureBlock:
    """One feature block: ``dim`` latent dimensions of strength ``strength``.

    Attributes:
        dim: number of latent dimensions ``r_i`` (integer >= 1).
        strength: signal scale ``0 < s_i <= MAX_STRENGTH`` (a real number, not a string or bool).
        dropout: probability ``p_i in [0, 1]`` that a view drops the whole block.
        aug_noise: label-preserving augmentation noise ``eta_i >= 0`` added to the latent per view.
        binary: the latent is ``+-1`` per coordinate (Rademacher) instead of ``N(0, 1)``: a RandBit
            block (:mod:`linear_theory.randbit`). Same first and second moments, so every closed form
            is unchanged; only the samplers (and so InfoNCE) see the difference.
    """

    dim: int
    strength: float
    dropout: float = 0.0
    aug_noise: float = 0.0
    binary: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
            raise ValueError(f"FeatureBlock.dim must be an integer >= 1, got {self.dim!r}")
        object.__setattr__(self, "dim", int(self.dim))
        object.__setattr__(self, "strength", _check_number("FeatureBlock", "strength", self.strength, low=0, low_open=True,
                                                                high=MAX_STRENGTH))
        object.__setattr__(self, "dropout", _check_number("FeatureBlock", "dropout", self.dropout, low=0, low_open=False, high=1.0))
        object.__setattr__(self, "aug_noise", _check_number("FeatureBlock", "aug_noise", self.aug_noise, low=0, low_open=False))
        if not isinstance(self.binary, (bool, np.bool_)):
            raise ValueError(f"FeatureBlock.binary must be true or false, got {self.binary!r}")
        object.__setattr__(self, "binary", bool(self.binary))


class Views(NamedTuple):
    """Two views of ``n`` examples and their latents.

    Shapes: ``view1``, ``view2``, ``clean``: ``(n, d)``; ``latents[i]``: ``(n, r_i)``;
    ``masks``: ``(2, n, K)`` booleans, True where the view kept the block.
    """

    view1: np.ndarray
    view2: np.ndarray
    clean: np.ndarray
    latents: tuple[np.ndarray, ...]
    masks: np.ndarray


@dataclass(frozen=True)
class LinearModel:
    """Feature blocks + isotropic noise, encoded by a linear map ``W`` with ``rep_dim`` rows.

    Attributes:
        blocks: the feature blocks (at least one).
        rep_dim: representation dimension ``k`` (the encoder's capacity), >= 1.
        noise: isotropic input noise ``sigma >= 0``.
        input_dim: input dimension ``d`` (default: the blocks' total dim); must be >= that total.
    """

    blocks: tuple[FeatureBlock, ...]
    rep_dim: int
    noise: float
    input_dim: int | None = None

    def __post_init__(self) -> None:
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("LinearModel.blocks must hold at least one FeatureBlock")
        for i, block in enumerate(blocks):
            if not isinstance(block, FeatureBlock):
                raise ValueError(f"LinearModel.blocks[{i}] must be a FeatureBlock, got {block!r}")
        object.__setattr__(self, "blocks", blocks)
        if isinstance(self.rep_dim, bool) or not isinstance(self.rep_dim, (int, np.integer)) or self.rep_dim < 1:
            raise ValueError(f"LinearModel.rep_dim must be an integer >= 1, got {self.rep_dim!r}")
        object.__setattr__(self, "rep_dim", int(self.rep_dim))
        object.__setattr__(self, "noise", _check_number("LinearModel", "noise", self.noise, low=0, low_open=False))
        total = sum(b.dim for b in blocks)
        d = total if self.input_dim is None else self.input_dim
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < total:
            raise ValueError(f"LinearModel.input_dim must be an integer >= the blocks' total dim {total}, got {self.input_dim!r}")
        object.__setattr__(self, "input_dim", int(d))

    # -- structure -------------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Input dimension."""
        assert self.input_dim is not None
        return self.input_dim

    def block_slices(self) -> tuple[slice, ...]:
        """Coordinates of each block's basis ``U_i`` in the input space."""
        out, start = [], 0
        for b in self.blocks:
            out.append(slice(start, start + b.dim))
            start += b.dim
        return tuple(out)

    def basis(self, i: int) -> np.ndarray:
        """Orthonormal basis ``U_i`` of block ``i``. Shape: ``(d, r_i)``."""
        u = np.zeros((self.d, self.blocks[i].dim))
        u[self.block_slices()[i], :] = np.eye(self.blocks[i].dim)
        return u

    def with_block(self, i: int, **changes: float) -> LinearModel:
        """Copy of the model with fields of block ``i`` replaced (e.g. ``dropout=0.3``)."""
        blocks = list(self.blocks)
        fields = {"dim": blocks[i].dim, "strength": blocks[i].strength, "dropout": blocks[i].dropout,
                  "aug_noise": blocks[i].aug_noise}
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"unknown FeatureBlock field(s) {sorted(unknown)}")
        blocks[i] = FeatureBlock(**{**fields, **changes})
        return LinearModel(tuple(blocks), self.rep_dim, self.noise, self.input_dim)

    # -- moments ---------------------------------------------------------------------------
    def block_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-block view variance ``v_i`` and cross-view covariance ``c_i`` (eigenvalues of Sigma, C).

        ``v_i = s_i^2 (1 - p_i)(1 + eta_i^2) + sigma^2`` and ``c_i = s_i^2 (1 - p_i)^2``.
        """
        b = self.blocks
        return block_moments([x.strength for x in b], [x.dropout for x in b], [x.aug_noise for x in b], self.noise)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """View covariance ``Sigma`` and positive-pair cross-covariance ``C``. Shapes: ``(d, d)``."""
        v, c = self.block_moments()
        sigma_diag = np.full(self.d, self.noise**2)
        c_diag = np.zeros(self.d)
        for sl, vi, ci in zip(self.block_slices(), v, c):
            sigma_diag[sl] = vi
            c_diag[sl] = ci
        return np.diag(sigma_diag), np.diag(c_diag)

    def clean_covariance(self) -> np.ndarray:
        """Covariance of the clean input (no dropout, no augmentation). Shape: ``(d, d)``."""
        diag = np.full(self.d, self.noise**2)
        for sl, b in zip(self.block_slices(), self.blocks):
            diag[sl] = b.strength**2 + self.noise**2
        return np.diag(diag)

    # -- sampling --------------------------------------------------------------------------
    def sample_views(self, n: int, rng: np.random.Generator) -> Views:
        """Draw ``n`` examples, their clean input and two independent views.

        Args:
            n: number of examples (>= 1).
            rng: the random generator (passed explicitly; nothing global is used).
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        K, d = len(self.blocks), self.d
        latents = tuple(np.sign(z) if b.binary else z for b, z in ((b, rng.standard_normal((n, b.dim))) for b in self.blocks))
        clean = self.noise * rng.standard_normal((n, d))
        views = [self.noise * rng.standard_normal((n, d)) for _ in range(2)]
        keep = np.array([1.0 - b.dropout for b in self.blocks])
        masks = rng.random((2, n, K)) < keep
        for i, (sl, b, z) in enumerate(zip(self.block_slices(), self.blocks, latents)):
            clean[:, sl] += b.strength * z
            for t in range(2):
                e = rng.standard_normal((n, b.dim))
                views[t][:, sl] += b.strength * masks[t, :, i : i + 1] * (z + b.aug_noise * e)
        return Views(views[0], views[1], clean, latents, masks)


def check_same_shape(models: Sequence[LinearModel]) -> None:
    """Raise ``ValueError`` unless ``models`` is non-empty and shares block dims, ``rep_dim`` and ``input_dim``.

    Batched runners (:func:`linear_theory.dynamics.gradient_flow_batch`,
    :func:`linear_theory.simulate.simulate_many`) stack such models along one axis.
    """
    if not models:
        raise ValueError("models must hold at least one LinearModel")
    ref = models[0]
    shape = ([b.dim for b in ref.blocks], ref.rep_dim, ref.d)
    for i, m in enumerate(models):
        if ([b.dim for b in m.blocks], m.rep_dim, m.d) != shape:
            raise ValueError(f"models[{i}] differs from models[0] in block dims, rep_dim or input_dim")
