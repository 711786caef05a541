"""Hypothesis strategies that generate valid linear contrastive models.

Parameters stay in ranges where float64 closed forms are well conditioned (strengths in
[0.2, 5], noise in [0.05, 1]) so the properties test the theory, not round-off.
"""

from __future__ import annotations

from hypothesis import strategies as st

from linear_theory import FeatureBlock, LinearModel

strengths = st.floats(0.2, 5.0, allow_nan=False)
dropouts = st.floats(0.0, 0.95, allow_nan=False)
aug_noises = st.floats(0.0, 1.5, allow_nan=False)
noises = st.floats(0.05, 1.0, allow_nan=False)
dims = st.integers(1, 5)


@st.composite
def feature_blocks(draw, dropout=dropouts) -> FeatureBlock:
    """A valid FeatureBlock."""
    return FeatureBlock(draw(dims), draw(strengths), draw(dropout), draw(aug_noises))


@st.composite
def two_block_models(draw, *, no_dropout: bool = False, extra_input_dims: int = 3) -> LinearModel:
    """A valid two-block model (block 0, block 1), any capacity from 1 to the total dim + 1."""
    drop = st.just(0.0) if no_dropout else dropouts
    b0 = draw(feature_blocks(dropout=drop))
    b1 = draw(feature_blocks(dropout=drop))
    k = draw(st.integers(1, b0.dim + b1.dim + 1))
    extra = draw(st.integers(0, extra_input_dims))
    return LinearModel((b0, b1), k, draw(noises), b0.dim + b1.dim + extra)


@st.composite
def models(draw, max_blocks: int = 4) -> LinearModel:
    """A valid model with 1..max_blocks blocks."""
    blocks = tuple(draw(st.lists(feature_blocks(), min_size=1, max_size=max_blocks)))
    total = sum(b.dim for b in blocks)
    k = draw(st.integers(1, total + 1))
    return LinearModel(blocks, k, draw(noises), total + draw(st.integers(0, 3)))


@st.composite
def suppression_models(draw) -> LinearModel:
    """Two blocks without dropout where block 0 wins (``lambda_0 > lambda_1``) and ``r_0 >= k``."""
    from linear_theory.spectral import model_eigenvalues

    m = draw(two_block_models(no_dropout=True))
    lam = model_eigenvalues(m)
    if lam[0] < lam[1]:
        m = LinearModel((m.blocks[1], m.blocks[0]), m.rep_dim, m.noise, m.input_dim)
        lam = lam[::-1]
    from hypothesis import assume

    assume(lam[0] > lam[1] * (1 + 1e-6))
    k = draw(st.integers(1, m.blocks[0].dim))
    return LinearModel(m.blocks, k, m.noise, m.input_dim)


@st.composite
def orthogonal_flow_cases(draw, max_blocks: int = 3):
    """A model with a row for every block direction and a per-block ``a0`` (no competition).

    ``a0_i = a_i* * 10^e`` with ``e`` in ``[-4, 0.3]``: from far below the fixed point to above
    it. Returns ``(model, a0)`` with ``a0`` of shape ``(K,)``.
    """
    import numpy as np

    m = draw(models(max_blocks=max_blocks))
    total = sum(b.dim for b in m.blocks)
    m = LinearModel(m.blocks, draw(st.integers(total, total + 2)), m.noise, m.input_dim)
    v, c = m.block_moments()
    exps = np.array(draw(st.lists(st.floats(-4.0, 0.3), min_size=len(m.blocks), max_size=len(m.blocks))))
    return m, c / v**2 * 10.0**exps
