"""Gradient flow of the spectral loss: the logistic closed form (theorem 6), solve_ivp and the batched integrator.

The four checks of closed-form dynamics (t = 0, t = inf, batched t = looped t, closed form =
small-step simulation with a dtype-aware tolerance), then convergence of the flow from generic
small init to the closed-form optimum, with and without competition, and the Trajectory type.
"""

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linear_theory import FeatureBlock, LinearModel, spectral_optimum
from linear_theory.dynamics import (
    gradient_flow,
    gradient_flow_batch,
    learning_time,
    logistic_curve,
    logistic_solution,
    logistic_trajectory,
    orthogonal_init,
    random_init,
    time_to_learn,
    trajectory_from_encoders,
)
from linear_theory.spectral import captured_strength, spectral_loss
from linear_theory.trajectory import ROW_FIELDS, Trajectory, stack_trajectories
from tests.linear.strategies import orthogonal_flow_cases

#: rtol of closed form vs numerical flow, per integration dtype (float32 round-off ~1e-7 per step
#: accumulates over ~1e3 steps; float64 is limited by the integrators' rtol).
RTOL = {np.float64: 1e-6, np.float32: 2e-3}


def _horizon(model: LinearModel, a0: np.ndarray) -> np.ndarray:
    """Times covering the transition of the fastest mode (slower modes are caught mid-way)."""
    v, c = model.block_moments()
    return np.linspace(0.0, 12.0 / (8.0 * np.max(c)), 9)


# -- check 1: t = 0 --------------------------------------------------------------------------------
@given(orthogonal_flow_cases())
def test_logistic_starts_at_the_initial_state(case):
    """``a_i(0) = a0_i``, and the logistic encoder at t = 0 is the orthogonal init."""
    model, a0 = case
    np.testing.assert_allclose(logistic_solution(model, 0.0, a0), a0, rtol=1e-12)
    traj = logistic_trajectory(model, [0.0], a0)
    np.testing.assert_allclose(traj.encoders[0], orthogonal_init(model, a0), rtol=1e-12)
    np.testing.assert_allclose(traj.captured_strength[0], a0, rtol=1e-12)


def test_flows_start_at_the_initial_state():
    """solve_ivp returns ``W0`` at t = 0; the batched (Gram) integrator the diagnostics of ``W0``."""
    model = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(3, 1.0, 0.3)), 3, 0.2, 7)
    W0 = random_init(model, 0.01, np.random.default_rng(0))
    assert np.array_equal(gradient_flow(model, [0.0, 1.0], W0).encoders[0], W0)
    batch = gradient_flow_batch([model], [0.0, 1.0], W0)
    direct = trajectory_from_encoders(model, [0.0], W0[None], "direct")
    np.testing.assert_allclose(batch.captured_strength[0, 0], direct.captured_strength[0], rtol=1e-12)
    np.testing.assert_allclose(batch.probe_r2[0, 0], direct.probe_r2[0], rtol=1e-9)
    assert batch.loss[0, 0] == pytest.approx(direct.loss[0], rel=1e-12)


# -- check 2: t = inf ---------------------------------------------------------------------------------
@given(orthogonal_flow_cases())
def test_logistic_ends_at_the_fixed_point(case):
    """``a_i(inf) = c_i / v_i^2`` (the stationary point of ``-2 c a + v^2 a^2``), whatever ``a0 > 0``."""
    model, a0 = case
    v, c = model.block_moments()
    np.testing.assert_allclose(logistic_solution(model, np.inf, a0), c / v**2, rtol=1e-12)
    np.testing.assert_allclose(logistic_solution(model, 1e6 / np.min(c), a0), c / v**2, rtol=1e-9)


def test_logistic_edge_cases():
    """``a0 = 0`` stays 0; ``c = 0`` decays as ``a0 / (1 + 8 v^2 a0 t)``; ``v = 0`` stays put."""
    assert logistic_curve(5.0, 0.0, 1.0, 1.0) == 0.0
    assert logistic_curve(2.0, 0.5, 0.0, 0.3) == pytest.approx(0.5 / (1 + 8 * 0.09 * 0.5 * 2.0), rel=1e-14)
    assert logistic_curve(np.inf, 0.5, 0.0, 0.3) == 0.0
    assert logistic_curve(3.0, 0.5, 0.0, 0.0) == 0.5


@pytest.mark.parametrize(
    "model",
    [
        # no competition: k covers both blocks
        LinearModel((FeatureBlock(2, 2.0), FeatureBlock(2, 1.0, aug_noise=0.5)), 4, 0.3, 6),
        # competition between blocks: block 0 (strong) takes all k = 2 slots, block 1 none
        LinearModel((FeatureBlock(2, 2.0), FeatureBlock(2, 1.0, aug_noise=0.5)), 2, 0.3, 6),
        # dropout reverses the order: block 1 wins the 2 slots
        LinearModel((FeatureBlock(2, 2.0, dropout=0.6), FeatureBlock(2, 1.0, aug_noise=0.5)), 2, 0.3, 6),
        # three blocks, capacity boundary between blocks 1 and 2 (r = 2 + 1 < 3 + 2)
        LinearModel((FeatureBlock(2, 1.5), FeatureBlock(1, 1.0), FeatureBlock(2, 0.5)), 3, 0.3, 7),
    ],
    ids=["ample", "suppressed", "rescued", "three_blocks"],
)
def test_gradient_flow_from_generic_small_init_reaches_the_optimum(model):
    """Theorem 6 (competition part): from generic small init the flow converges to the closed form.

    The final loss equals ``-sum_{j<=k} lambda_j^2`` to 1e-6 and the per-block probe ``R^2`` equals
    ``(c_i / r_i) s_i^2 / (s_i^2 + sigma^2)`` (no ties between blocks, so the optimum is unique up to
    rotation), including when fewer slots than directions are on offer.
    """
    W0 = random_init(model, 1e-3, np.random.default_rng(7))
    traj = gradient_flow(model, [0.0, 20.0, 150.0], W0, rtol=1e-10, atol=1e-14)
    opt = spectral_optimum(model)
    assert traj.final_loss() == pytest.approx(opt.loss, abs=1e-6)
    np.testing.assert_allclose(traj.final_probe_r2(), opt.probe_r2, atol=1e-5)
    assert np.all(np.diff(traj.loss) <= 1e-12)  # gradient flow never increases the loss


# -- check 3: batched t = looped t -------------------------------------------------------------------------
@given(orthogonal_flow_cases(), st.lists(st.floats(0.0, 10.0), min_size=1, max_size=6))
def test_batched_times_equal_looped_times(case, times):
    """The closed form on an array of times equals the closed form at each time."""
    model, a0 = case
    t = np.array(times)
    batched = logistic_solution(model, t, a0)
    looped = np.stack([logistic_solution(model, ti, a0) for ti in t])
    np.testing.assert_array_equal(batched, looped)
    grid = logistic_solution(model, t.reshape(-1, 1) * np.ones((1, 2)), a0)
    assert grid.shape == (len(t), 2, len(model.blocks))


def test_batched_flow_equals_looped_flows():
    """``gradient_flow_batch`` over B models (compressed encoders) equals B separate ``solve_ivp`` flows of ``W``."""
    # block 0 (5 dims) and the noise coordinates (5) are wider than k = 3: they are rotated onto 3 columns
    base = LinearModel((FeatureBlock(5, 2.5), FeatureBlock(2, 1.0, aug_noise=0.5)), 3, 0.1, 12)
    models = [base.with_block(0, dropout=p) for p in (0.0, 0.4, 0.8)]
    W0 = 0.01 * np.random.default_rng(1).standard_normal((3, 3, 12))  # one init per setting
    t = np.array([0.0, 0.5, 2.0, 10.0, 10.0, 30.0])
    batch = gradient_flow_batch(models, t, W0, rtol=1e-10, atol=1e-15)
    for b, m in enumerate(models):
        single = gradient_flow(m, t, W0[b])
        np.testing.assert_allclose(batch.captured_strength[b], single.captured_strength, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(batch.loss[b], single.loss, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(batch.probe_r2[b], single.probe_r2, atol=1e-6)


# -- check 4: closed form = small-step simulation (dtype-aware) ---------------------------------------------
@settings(max_examples=15)
@given(orthogonal_flow_cases(), st.integers(0, 2**32 - 1))
def test_logistic_equals_solve_ivp_from_orthogonal_init(case, seed):
    """Theorem 6: from an orthogonal init (randomly rotated rows), ``||W(t) u||^2`` is the logistic."""
    model, a0 = case
    t = _horizon(model, a0)
    W0 = orthogonal_init(model, a0, rng=np.random.default_rng(seed))
    flow = gradient_flow(model, t, W0)
    closed = logistic_trajectory(model, t, a0)
    np.testing.assert_allclose(flow.captured_strength, closed.captured_strength, rtol=RTOL[np.float64])
    np.testing.assert_allclose(flow.loss, closed.loss, rtol=RTOL[np.float64], atol=1e-12)
    np.testing.assert_allclose(flow.probe_r2, closed.probe_r2, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_equals_batched_flow_per_dtype(dtype):
    """The batched integrator in float64 and float32 tracks the closed form within ``RTOL[dtype]``."""
    base = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(3, 1.0, aug_noise=0.5)), 6, 0.2, 8)
    models = [base.with_block(0, dropout=p) for p in (0.0, 0.3, 0.6)]
    a0 = np.array([1e-3, 1e-3])
    t = np.linspace(0.0, 3.0, 13)
    W0 = np.stack([orthogonal_init(m, a0) for m in models])
    flow = gradient_flow_batch(models, t, W0, dtype=dtype)
    closed = np.stack([logistic_solution(m, t, a0) for m in models])
    np.testing.assert_allclose(flow.captured_strength, closed, rtol=RTOL[dtype])


def test_learning_time_is_when_the_logistic_reaches_the_fraction():
    """``a(t_f) = f a*``; the rate is ``8 c`` so dropout slows a block by ``(1 - p)^2`` (log-term aside)."""
    model = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(2, 0.7, dropout=0.2)), 4, 0.1)
    a0 = 1e-4
    for f in (0.1, 0.5, 0.9):
        t_f = time_to_learn(model, a0, f)
        a = logistic_solution(model, t_f, a0)
        v, c = model.block_moments()
        np.testing.assert_allclose(np.diagonal(a), f * c / v**2, rtol=1e-10)
    # at the same a0 / a* ratio, a quarter of c (half the keep probability) takes exactly 4x as long
    v, c = model.block_moments()
    ratio = 1e-4
    t1 = learning_time(ratio * c[0] / v[0] ** 2, c[0], v[0])
    t2 = learning_time(ratio * c[0] / 4 / v[0] ** 2, c[0] / 4, v[0])
    assert t2 == pytest.approx(4 * t1, rel=1e-12)
    assert learning_time(1.0, 1.0, 1.0) == 0.0  # starts above half its fixed point
    assert np.isinf(learning_time(0.0, 1.0, 1.0))  # exactly 0 never grows
    assert learning_time(0.1, 0.0, 1.0) == 0.0  # c = 0: a* = 0, already above any fraction of it


def test_invalid_inputs_raise():
    """Bad a0, times, capacities, W0 shapes, dtypes and thread counts are rejected."""
    model = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(2, 1.0)), 3, 0.1)
    with pytest.raises(ValueError, match="a0"):
        logistic_solution(model, 1.0, -1.0)
    with pytest.raises(ValueError, match="times"):
        logistic_solution(model, -1.0, 0.1)
    with pytest.raises(ValueError, match="rep_dim"):
        orthogonal_init(model, 0.1)  # 4 directions, 3 rows
    with pytest.raises(ValueError, match="W0"):
        gradient_flow(model, [0.0, 1.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dtype"):
        gradient_flow_batch([model], [1.0], np.zeros((3, 4)), dtype=np.int64)
    with pytest.raises(ValueError, match="models\\[1\\]"):
        gradient_flow_batch([model, LinearModel(model.blocks, 2, 0.1)], [1.0], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="fraction"):
        learning_time(0.1, 1.0, 1.0, 1.5)


def test_orthogonal_init_rows_are_orthogonal_and_rotation_invariant():
    """Rotating the rows keeps ``W^T W`` and hence every per-block quantity."""
    model = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(1, 1.0)), 4, 0.1, 5)
    a0 = np.array([0.2, 0.05])
    W = orthogonal_init(model, a0)
    Wr = orthogonal_init(model, a0, rng=np.random.default_rng(3))
    np.testing.assert_allclose(W.T @ W, Wr.T @ Wr, atol=1e-14)
    np.testing.assert_allclose(captured_strength(model, Wr), a0, rtol=1e-12)
    assert float(spectral_loss(model, W)) == pytest.approx(float(spectral_loss(model, Wr)), rel=1e-12)


# -- the Trajectory type --------------------------------------------------------------------------------------
def _traj(batch=(), T=3, K=2):
    rng = np.random.default_rng(0)
    return Trajectory(np.arange(T, dtype=float), rng.random((*batch, T, K)), rng.random((*batch, T, K)),
                      rng.random((*batch, T)), "test", "x")


def test_trajectory_shapes_are_validated():
    """Mismatched shapes, decreasing times and empty methods raise ValueError naming the field."""
    good = _traj()
    with pytest.raises(ValueError, match="times"):
        Trajectory([1.0, 0.0, 2.0], good.captured_strength, good.probe_r2, good.loss, "m")
    with pytest.raises(ValueError, match="probe_r2"):
        Trajectory(good.times, good.captured_strength, good.probe_r2[:, :1], good.loss, "m")
    with pytest.raises(ValueError, match="loss"):
        Trajectory(good.times, good.captured_strength, good.probe_r2, good.loss[:2], "m")
    with pytest.raises(ValueError, match="captured_strength"):
        Trajectory(good.times, good.captured_strength[:2], good.probe_r2[:2], good.loss[:2], "m")
    with pytest.raises(ValueError, match="method"):
        Trajectory(good.times, good.captured_strength, good.probe_r2, good.loss, "")
    with pytest.raises(IndexError):
        good[0]


def test_trajectory_rows_csv_final_and_stacking(tmp_path):
    """Long rows cover batch x time x block; CSV round-trips; stacking and indexing are inverse."""
    tr = _traj(batch=(2, 3))
    assert tr.batch_shape == (2, 3) and tr.n_blocks == 2
    rows = tr.to_rows()
    assert len(rows) == 2 * 3 * 3 * 2 and set(rows[0]) == set(ROW_FIELDS)
    row = next(r for r in rows if r["batch"] == "1,2" and r["time"] == 2.0 and r["block"] == 1)
    assert row["probe_r2"] == tr.probe_r2[1, 2, 2, 1] and row["loss"] == tr.loss[1, 2, 2]
    with open(tr.to_csv(tmp_path / "t.csv")) as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    np.testing.assert_array_equal(tr.final_probe_r2(), tr.probe_r2[..., -1, :])
    assert tr.final()["time"] == 2.0 and tr.final()["loss"].shape == (2, 3)
    parts = [tr[i] for i in range(2)]
    again = stack_trajectories(parts)
    np.testing.assert_array_equal(again.probe_r2, tr.probe_r2)
    np.testing.assert_array_equal(again.loss, tr.loss)
    with pytest.raises(ValueError, match="differs"):
        stack_trajectories([_traj(), Trajectory(np.arange(3.0) + 1, *(_traj().captured_strength, _traj().probe_r2,
                                                                      _traj().loss), "test")])
