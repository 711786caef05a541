"""The written-out InfoNCE gradient of the simulator against autograd of the package's one InfoNCE."""

import dataclasses

import numpy as np
import pytest
import torch

from featuredrop.losses import cross_view_infonce
from linear_theory import FeatureBlock, LinearModel
from linear_theory import infonce_grad as ig
from linear_theory import simulate as sim
from linear_theory.simulate import SimulationConfig, simulate_many


def _pairs(batch: int, n: int, k: int, dtype: torch.dtype, noise: float = 0.5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(batch, n, k, generator=g, dtype=dtype)
    return z1, z1 + noise * torch.randn(batch, n, k, generator=g, dtype=dtype)


def _autograd(z1: torch.Tensor, z2: torch.Tensor, tau: float):
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    loss = cross_view_infonce(a, b, tau)
    loss.sum().backward()
    return loss.detach(), a.grad, b.grad


def _close(mine: torch.Tensor, ref: torch.Tensor, rtol: float, scale: float = 0.0) -> None:
    """Equal up to ``rtol`` of the reference's largest entry (the gradients have entries near 0) or of ``scale``."""
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=0, atol=rtol * max(ref.abs().max().item(), scale))


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 2e-6), (torch.float64, 1e-13)])
@pytest.mark.parametrize("shape", [(30, 256, 4), (5, 7, 3), (3, 64, 4)])
@pytest.mark.parametrize("tau, noise", [(0.2, 0.5), (1.0, 0.5), (ig.MIN_TEMPERATURE, 0.5), (ig.MIN_TEMPERATURE, 0.01)])
def test_loss_and_gradient_match_autograd_of_cross_view_infonce(dtype, rtol, shape, tau, noise):
    """Loss and both gradients equal autograd of ``cross_view_infonce`` to the dtype's rounding, down to the
    smallest temperature and with nearly aligned views (the largest logits, no max-shift). A logit's rounding
    error is ``eps / tau``, so the tolerance grows with ``1 / tau``."""
    rtol *= max(1.0, 1.0 / tau)
    z1, z2 = _pairs(*shape, dtype, noise)
    loss, g1, g2 = ig.cross_view_infonce_grad(z1, z2, tau)
    ref_loss, ref1, ref2 = _autograd(z1, z2, tau)
    assert loss.shape == ref_loss.shape and g1.shape == z1.shape and g2.shape == z2.shape
    _close(loss, ref_loss, rtol, scale=1 / tau)  # log r - a.b / tau cancels logits of size 1 / tau
    _close(g1, ref1, rtol)
    _close(g2, ref2, rtol)


def test_a_zero_embedding_gets_the_gradient_of_f_normalize():
    """Inside F.normalize's clamp (``|z| < 1e-12``) the norm is a constant: the gradient is ``g / 1e-12``, as autograd's."""
    z1, z2 = _pairs(2, 6, 3, torch.float64)
    z1[0, 2] = 0.0
    z2[1, 4] = 0.0
    loss, g1, g2 = ig.cross_view_infonce_grad(z1, z2, 0.3)
    ref_loss, ref1, ref2 = _autograd(z1, z2, 0.3)
    _close(loss, ref_loss, 1e-13)
    _close(g1, ref1, 1e-13)
    _close(g2, ref2, 1e-13)


def test_buffers_are_reused_for_smaller_batches_and_chunks():
    """One workspace serves a full batch, then a smaller one, with chunks that do not divide the batch."""
    z1, z2 = _pairs(7, 16, 4, torch.float64)
    work = ig.InfoNCEGrad(7, 16, 4, torch.float64)
    work.chunk = 3
    for batch in (7, 5):
        loss, g1, g2 = work(z1[:batch].transpose(-1, -2), z2[:batch].transpose(-1, -2), 0.2)
        ref_loss, ref1, ref2 = _autograd(z1[:batch], z2[:batch], 0.2)
        _close(loss, ref_loss, 1e-13)
        _close(g1.transpose(-1, -2), ref1, 1e-13)
        _close(g2.transpose(-1, -2), ref2, 1e-13)


def test_bad_inputs_are_rejected():
    z1, z2 = _pairs(2, 8, 4, torch.float32)
    with pytest.raises(ValueError, match="temperature"):
        ig.cross_view_infonce_grad(z1, z2, ig.MIN_TEMPERATURE / 2)
    with pytest.raises(ValueError, match="shape"):
        ig.cross_view_infonce_grad(z1, z2[:, :7], 0.2)
    with pytest.raises(ValueError, match="shape"):
        ig.InfoNCEGrad(1, 8, 4)(z1.transpose(-1, -2), z2.transpose(-1, -2), 0.2)  # batch 2 > 1


@pytest.mark.parametrize("seeds", [1, 2])
def test_linear_step_gradient_is_autograd_of_the_encoder_loss(seeds):
    """``LinearInfoNCEStep`` on the views' parts = autograd w.r.t. ``W`` of ``cross_view_infonce(x1 W^T, x2 W^T)``
    on the assembled views (:func:`simulate._draw`), for one and for several seeds."""
    models = [LinearModel((FeatureBlock(2, 1.5, dropout=p), FeatureBlock(3, 0.7, aug_noise=0.4)), 3, sigma, 9)
              for p, sigma in ((0.0, 0.2), (0.5, 0.4))]
    coords = sim._coords(models, torch.float64)
    n, D = 16, 5
    signal, xi = sim._draw_parts(coords, [torch.Generator().manual_seed(s) for s in range(seeds)], n, torch.float64)
    x1, x2 = sim._draw(coords, [torch.Generator().manual_seed(s) for s in range(seeds)], n, torch.float64)
    W = torch.randn(2, seeds, 3, 9, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    loss, grad = ig.LinearInfoNCEStep(2, seeds, n, 3, 9, D, torch.float64)(W, signal, xi, coords.noise, 0.2)
    Wr = W.clone().requires_grad_()
    ref = cross_view_infonce(x1 @ Wr.transpose(-1, -2), x2 @ Wr.transpose(-1, -2), 0.2)
    ref.sum().backward()
    _close(loss, ref.detach(), 1e-13)
    _close(grad, Wr.grad, 1e-13)


def test_views_are_assembled_from_their_parts_bit_for_bit():
    """The ``(n, d)`` views are ``noise * xi + [signal; 0]`` of the parts of the same stream (RandBit blocks
    included), and parts written into buffers equal parts allocated fresh."""
    models = [LinearModel((FeatureBlock(2, 1.5, dropout=p, binary=True), FeatureBlock(3, 0.7, aug_noise=0.4)),
                          2, 0.2, 7) for p in (0.0, 0.5)]
    coords = sim._coords(models, torch.float32)
    x1, x2 = sim._draw(coords, [torch.Generator().manual_seed(s) for s in (2, 3)], 9, torch.float32)
    fresh, _ = sim._draw_parts(coords, [torch.Generator().manual_seed(s) for s in (2, 3)], 9, torch.float32)
    out, scratch = torch.full((2, 2, 2, 5, 2, 9), float("nan"))
    signal, xi = sim._draw_parts(coords, [torch.Generator().manual_seed(s) for s in (2, 3)], 9, torch.float32,
                                 out=out, scratch=scratch)
    assert signal.data_ptr() == out.data_ptr() and torch.equal(signal, fresh)
    for t, x in enumerate((x1, x2)):
        expect = coords.noise * xi[None, :, :, t]
        expect[..., :5, :] += signal[..., t, :]
        assert torch.equal(expect.transpose(-1, -2), x)
    assert not torch.equal(x1, x2)


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.5), ("adam", 0.01)])
def test_simulation_matches_the_autograd_simulation(optimizer, lr):
    """A small grid (3 models x 2 seeds, 60 steps) in float64: the written-out gradient gives autograd's trajectory.

    (In float32 the two drift apart like any two roundings of a chaotic SGD run, from ~1e-7 to ~1e-2 over
    60 steps from a large init; in float64 they agree to ~1e-13, so the difference is rounding, not the gradient.)
    """
    base = LinearModel((FeatureBlock(4, 3.0), FeatureBlock(4, 1.0, aug_noise=0.5)), 4, 0.1, 12)
    models = [base.with_block(0, dropout=p) for p in (0.0, 0.3, 0.6)]
    cfg = SimulationConfig(steps=60, record_every=20, batch_size=32, optimizer=optimizer, lr=lr, init_scale=0.3,
                           dtype="float64")
    fast = simulate_many(models, [0, 1], cfg)
    slow = simulate_many(models, [0, 1], cfg, autograd=True)
    np.testing.assert_allclose(fast.encoders, slow.encoders, rtol=0, atol=1e-10 * np.abs(slow.encoders).max())
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-10)
    np.testing.assert_allclose(fast.probe_r2, slow.probe_r2, atol=1e-10)
    assert not np.allclose(fast.encoders[:, :, -1], fast.encoders[:, :, 0])  # it trained


def test_float32_simulation_of_the_theory_setting_matches_autograd():
    """The phase diagram's training (float32, init 0.01, lr 0.5, tau 0.2) at batch 64 for 100 steps: the
    encoders and probe R^2 of the two gradients agree to float32 tolerance."""
    base = LinearModel((FeatureBlock(4, 3.0), FeatureBlock(4, 1.0, aug_noise=0.5)), 4, 0.1, 32)
    models = [base.with_block(0, dropout=p) for p in (0.0, 0.5)]
    cfg = SimulationConfig(steps=100, record_every=50, batch_size=64)
    fast = simulate_many(models, [0], cfg)
    slow = simulate_many(models, [0], cfg, autograd=True)
    np.testing.assert_allclose(fast.encoders, slow.encoders, rtol=0, atol=1e-5 * np.abs(slow.encoders).max())
    np.testing.assert_allclose(fast.probe_r2, slow.probe_r2, atol=1e-5)


def test_below_the_smallest_temperature_the_simulation_uses_autograd():
    """``tau < MIN_TEMPERATURE`` runs (autograd) and gives what ``autograd=True`` gives, bit for bit."""
    model = LinearModel((FeatureBlock(2, 2.0), FeatureBlock(2, 1.0)), 2, 0.1, 6)
    cfg = dataclasses.replace(SimulationConfig(steps=5, record_every=5, batch_size=16, lr=0.01),
                              temperature=ig.MIN_TEMPERATURE / 2)
    np.testing.assert_array_equal(simulate_many([model], [0], cfg).encoders,
                                  simulate_many([model], [0], cfg, autograd=True).encoders)
