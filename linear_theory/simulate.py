"""Discrete GD/SGD of a linear encoder on sampled views: the spectral loss and InfoNCE (torch).

Every step draws a fresh minibatch of ``n`` positive pairs from the model of docs/linear-theory.md
(:func:`sample_views_torch`, distributed exactly like :meth:`LinearModel.sample_views`) and takes
one optimizer step on ``W``. The losses:

``"infonce"``: :func:`featuredrop.losses.cross_view_infonce` (= ``nt_xent(variant="cross_view")``, batched over settings; cross-entropy of
    each view-1 embedding against all view-2 embeddings, cosine similarity, temperature ``tau``),
    the package's single InfoNCE. No closed form; float32 is enough. Its gradient is written out
    (:mod:`linear_theory.infonce_grad`, for ``tau >= MIN_TEMPERATURE``; ``autograd=True`` differentiates
    the loss with autograd instead, the same numbers up to rounding).

``"spectral"``: an unbiased minibatch estimator of the population spectral loss
    ``L(W) = -2 tr(W C W^T) + ||W Sigma W^T||_F^2`` (HaoChen et al. 2021). With ``z = W x`` and
    ``M = E[z z^T] = W Sigma W^T``: ``tr(W C W^T) = E[z1_i . z2_i]`` and, for independent
    examples ``i != j``, ``||M||_F^2 = E[(za_i . zb_j)^2]`` for any views ``a, b``. So

    ``L_hat = -2 mean_i z1_i.z2_i + (U(Z1, Z2) + U(Z1, Z1) + U(Z2, Z2)) / 3``,
    ``U(A, B) = (||A B^T||_F^2 - sum_i (a_i . b_i)^2) / (n (n - 1))`` (the mean of ``(a_i . b_j)^2``
    over ``i != j``)

    has ``E[L_hat] = L(W)`` exactly, hence ``E[grad L_hat] = grad L(W)``: SGD on it is a
    stochastic-approximation of the gradient flow of :mod:`linear_theory.dynamics` at time
    ``lr * step``. (The plug-in ``||(Z1^T Z1 + Z2^T Z2) / (2n)||_F^2`` is biased upward by
    ``O(tr(M)^2 / n)``, which shrinks the learned ``W``.) Run it in float64.

``"decoupled"`` / ``"swd"``: the generalized contrastive losses of Chen, Luo & Li 2021
    (:func:`featuredrop.losses.generalized_contrastive`: alignment + ``lambda`` x log-sum-exp
    uniformity or sliced-Wasserstein distance to the uniform distribution on the sphere), float32.

The runner is batched: ``M`` models of one shape times ``S`` seeds train together as independent
problems (one loss per setting; their sum is differentiated, so the gradients do not mix). A seed
fixes the init and the data stream; every model with that seed sees the same underlying noise
(common random numbers), so a result does not depend on which other settings share the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from featuredrop.losses import cross_view_infonce, generalized_contrastive
from linear_theory.infonce_grad import MIN_TEMPERATURE, LinearInfoNCEStep
from linear_theory.model import LinearModel, check_same_shape
from linear_theory.spectral import captured_strength, encoder_probe_r2
from linear_theory.trajectory import Trajectory

LOSSES: tuple[str, ...] = ("infonce", "spectral", "decoupled", "swd")
"""The losses a run can train with (``SimulationConfig.loss``, the sweep's ``--loss``)."""

__all__ = [
    "LOSSES",
    "SimulationConfig",
    "loss_recipe",
    "initial_encoder",
    "sample_views_torch",
    "spectral_loss_estimate",
    "simulate",
    "simulate_many",
    "final_probe_r2",
    "torch_threads",
]


@dataclass(frozen=True)
class SimulationConfig:
    """Hyperparameters of a sampled-data run (defaults: the InfoNCE setting of docs/linear-theory.md).

    Attributes:
        steps: optimizer steps (>= 1).
        lr: learning rate (> 0). The spectral loss needs ``lr * 8 max_i c_i < 2`` to be stable.
        batch_size: positive pairs per minibatch (>= 2).
        temperature: temperature ``tau`` of InfoNCE and of the decoupled loss's log-sum-exp (> 1e-8;
            the colab's decoupled NT-Xent uses 1.0).
        init_scale: ``W0 = init_scale * N(0, 1)`` (> 0).
        seed: fixes the init and the data stream (integer >= 0).
        record_every: record the probe, captured strength and window-mean loss every this many steps.
        loss: ``"infonce"``, ``"spectral"``, or a generalized loss of Chen et al. 2021
            (:func:`featuredrop.losses.generalized_contrastive`): ``"decoupled"`` (alignment +
            log-sum-exp uniformity) or ``"swd"`` (alignment + sliced Wasserstein to the uniform
            distribution on the sphere; projections and prior samples drawn from the seed's stream).
        loss_weight: ``lambda`` of a generalized loss (``None``: the colab's, 0.1 / 5).
        projections: random projections of ``"swd"`` (``None``: ``k``, a random rotation).
        optimizer: ``"sgd"`` (plain, no momentum) or ``"adam"``.
        dtype: ``"auto"`` (float64 for spectral, float32 for InfoNCE), ``"float32"`` or ``"float64"``.
    """

    steps: int = 3000
    lr: float = 0.5
    batch_size: int = 256
    temperature: float = 0.2
    init_scale: float = 0.01
    seed: int = 0
    record_every: int = 50
    loss: Literal["infonce", "spectral", "decoupled", "swd"] = "infonce"
    optimizer: Literal["sgd", "adam"] = "sgd"
    dtype: Literal["auto", "float32", "float64"] = "auto"
    loss_weight: float | None = None
    projections: int | None = None

    def __post_init__(self) -> None:
        def integer(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"SimulationConfig.{name} must be an integer >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))

        def positive(name: str, low: float = 0.0) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not math.isfinite(value) or value <= low:
                raise ValueError(f"SimulationConfig.{name} must be a finite number > {low}, got {value!r}")
            object.__setattr__(self, name, float(value))

        integer("steps", 1)
        integer("batch_size", 2)
        integer("seed", 0)
        integer("record_every", 1)
        positive("lr")
        positive("temperature", 1e-8)
        positive("init_scale")
        if self.loss_weight is not None:
            positive("loss_weight")
        if self.projections is not None:
            integer("projections", 1)
        for name, allowed in (("loss", LOSSES), ("optimizer", ("sgd", "adam")),
                              ("dtype", ("auto", "float32", "float64"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"SimulationConfig.{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        """The resolved dtype of the run."""
        if self.dtype == "auto":
            return torch.float64 if self.loss == "spectral" else torch.float32
        return torch.float64 if self.dtype == "float64" else torch.float32

    def record_steps(self) -> np.ndarray:
        """Steps at which a run records: ``0, record_every, ...`` and always the last step."""
        steps = np.arange(0, self.steps + 1, self.record_every)
        return steps if steps[-1] == self.steps else np.append(steps, self.steps)


DECOUPLED_LR_SCALE = 10.0
"""The decoupled loss's step size relative to InfoNCE's: its alignment term is a mean over the ``k``
coordinates of the embedding and its weight ``lambda = 0.1``, so its gradient is ~10x smaller."""


def loss_recipe(loss: str, base: SimulationConfig = SimulationConfig()) -> SimulationConfig:
    """``base`` trained with ``loss``: ``"decoupled"`` at Chen et al.'s ``tau = 1`` and ``lr x``
    :data:`DECOUPLED_LR_SCALE`; the other losses as ``base`` (SWD: ``lambda = 5``, ``k`` projections)."""
    if loss == "decoupled":
        return replace(base, loss=loss, temperature=1.0, lr=base.lr * DECOUPLED_LR_SCALE)
    return replace(base, loss=loss)


def _streams(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """The init generator and the data generator of a seed (independent streams)."""
    init_rng = np.random.default_rng([seed, 0])
    data_seed = int(np.random.default_rng([seed, 1]).integers(2**62))
    return init_rng, torch.Generator().manual_seed(data_seed)


def initial_encoder(model: LinearModel, config: SimulationConfig) -> np.ndarray:
    """The init ``W0 = init_scale * N(0, 1)`` a run with ``config.seed`` starts from. Shape ``(k, d)``.

    Pass it to :func:`linear_theory.dynamics.gradient_flow` to compare the flow with the run.
    """
    init_rng, _ = _streams(config.seed)
    return config.init_scale * init_rng.standard_normal((model.rep_dim, model.d))


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, restoring the previous count afterwards.

    A run multiplies many tiny matrices; there one thread is about as fast as two on an idle
    machine and 10-50x faster on a busy one (OpenMP threads spin-waiting for a core). ``None``
    leaves torch's setting alone.
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an integer >= 1 or None, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# -- sampling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Coords:
    """Per-coordinate model parameters of ``M`` models of one shape (signal coordinates first)."""

    block_of: torch.Tensor  # (D,) block index of each signal coordinate
    strength: torch.Tensor  # (M, 1, 1, D)
    aug_noise: torch.Tensor  # (M, 1, 1, D)
    keep: torch.Tensor  # (M, 1, 1, K)
    noise: torch.Tensor  # (M, 1, 1, 1)
    d: int
    binary: torch.Tensor  # (M, 1, 1, D) bool: a +-1 latent (RandBit block)


def _coords(models: Sequence[LinearModel], dtype: torch.dtype) -> _Coords:
    check_same_shape(models)
    ref = models[0]
    block_of = torch.tensor(np.repeat(np.arange(len(ref.blocks)), [b.dim for b in ref.blocks]))

    def per_coord(attr: str) -> torch.Tensor:
        vals = np.array([[getattr(b, attr) for b in m.blocks] for m in models])  # (M, K)
        return torch.tensor(vals, dtype=dtype)[:, None, None, :][..., block_of]

    keep = torch.tensor([[1.0 - b.dropout for b in m.blocks] for m in models], dtype=dtype)[:, None, None, :]
    noise = torch.tensor([m.noise for m in models], dtype=dtype)[:, None, None, None]
    return _Coords(block_of, per_coord("strength"), per_coord("aug_noise"), keep, noise, ref.d, per_coord("binary") > 0)


def _draw(coords: _Coords, gens: Sequence[torch.Generator], n: int, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """Two views for every (model, seed): shape ``(M, S, n, d)`` each: ``noise * xi + [signal; 0]``."""
    signal, xi = _draw_parts(coords, gens, n, dtype)
    D = signal.shape[-3]
    views = []
    for t in range(2):
        x = coords.noise * xi[None, :, :, t]  # (M, S, d, n)
        x[..., :D, :] += signal[..., t, :]
        views.append(x.transpose(-1, -2).contiguous())
    return views[0], views[1]


def _draw_parts(coords: _Coords, gens: Sequence[torch.Generator], n: int, dtype: torch.dtype,
                out: torch.Tensor | None = None, scratch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The two views of every (model, seed) as ``(signal, xi)``: view ``t`` is ``noise * xi[..., t, :]``
    plus ``signal[..., t, :]`` on its first ``D`` coordinates.

    ``signal``: ``(M, S, D, 2, n)`` (into ``out`` if given; ``scratch``, of the same shape, holds the
    dropout mask); ``xi``: ``(S, d, 2, n)``, shared by the models.
    Examples run along the last, contiguous axis, so each per-model, per-coordinate factor multiplies
    a row of ``n`` (in the ``(n, D)`` layout the same products ran ~10x slower), and the per-model
    noise ``noise * xi`` is never written out: the InfoNCE step multiplies ``xi`` by all the encoders
    in one matmul. :func:`_draw` assembles the ``(n, d)`` views from these parts, bit for bit the
    views of the direct computation.
    """
    D, d, K = coords.block_of.numel(), coords.d, coords.keep.shape[-1]
    base = []
    for g in gens:  # one draw per seed, shared by the models (common random numbers)
        z = torch.randn(n, D, generator=g, dtype=dtype)
        e = torch.randn(2, n, D, generator=g, dtype=dtype)
        xi = torch.randn(2, n, d, generator=g, dtype=dtype)
        u = torch.rand(2, n, K, generator=g, dtype=dtype)
        base.append((z[None], e, xi, u))
    # leading axis S, then coordinates, view, example
    z, e, xi, u = (torch.stack(parts, dim=0).permute(0, 3, 1, 2).contiguous() for parts in zip(*base))
    strength, aug_noise, binary, keep = (c.transpose(-1, -2)[..., None] for c in (  # (M, 1, D, 1, 1)
        coords.strength, coords.aug_noise, coords.binary, coords.keep[..., coords.block_of]))
    latent = z[None]  # (1, S, D, 1, n); RandBit coordinates: sign(N(0, 1)) is +-1 with probability 1/2 each
    if coords.binary.any():
        latent = torch.where(binary, torch.sign(latent), latent)
    shape = (coords.strength.shape[0], len(gens), D, 2, n)
    signal = torch.empty(shape, dtype=dtype) if out is None else out
    mask = torch.empty(shape, dtype=dtype) if scratch is None else scratch
    # signal = mask * strength * (latent + aug_noise * e), the mask applied last (it is 0 or 1)
    torch.mul(aug_noise, e[None], out=signal).add_(latent).mul_(strength)
    signal.mul_(torch.lt(u[None, :, coords.block_of], keep, out=mask))  # a float mask: ~10x masked_fill_
    return signal, xi


def sample_views_torch(model: LinearModel, n: int, generator: torch.Generator,
                       dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of ``n`` examples drawn with a torch generator (same law as ``model.sample_views``).

    Returns:
        ``(view1, view2)``, each of shape ``(n, d)``.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    x1, x2 = _draw(_coords([model], dtype), [generator], n, dtype)
    return x1[0, 0], x2[0, 0]


# -- losses ----------------------------------------------------------------------------------------
def _offdiag_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``U(A, B)`` of the module docstring, batched over leading axes. ``a``, ``b``: ``(..., n, k)``."""
    n = a.shape[-2]
    # sum_{i,j} (a_i . b_j)^2 = ||A B^T||_F^2 = <A^T A, B^T B>_F, computed with k x k matrices
    cross = ((a.transpose(-1, -2) @ a) * (b.transpose(-1, -2) @ b)).sum((-2, -1))
    diag = ((a * b).sum(-1) ** 2).sum(-1)
    return (cross - diag) / (n * (n - 1))


def spectral_loss_estimate(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Unbiased minibatch estimate of the population spectral loss (module docstring).

    Args:
        z1, z2: embeddings of the two views, shape ``(..., n, k)`` with ``n >= 2``.

    Returns:
        Shape ``(...)``.
    """
    if z1.shape != z2.shape or z1.ndim < 2 or z1.shape[-2] < 2:
        raise ValueError(f"z1 and z2 must share a shape (..., n >= 2, k); got {tuple(z1.shape)}, {tuple(z2.shape)}")
    pos = (z1 * z2).sum(-1).mean(-1)
    quad = (_offdiag_sq(z1, z2) + _offdiag_sq(z1, z1) + _offdiag_sq(z2, z2)) / 3.0
    return -2.0 * pos + quad


_LOGIT_CHUNK = 2**20  # logits per chunk of settings in the InfoNCE loss


def _losses(config: SimulationConfig, z1: torch.Tensor, z2: torch.Tensor,
            gens: Sequence[torch.Generator]) -> torch.Tensor:
    """Per-setting loss, shape ``(M, S)``, from embeddings ``(M, S, n, k)``; ``gens``: the seeds' streams."""
    if config.loss == "spectral":
        return spectral_loss_estimate(z1, z2)
    if config.loss == "decoupled":
        return generalized_contrastive(z1, z2, "decoupled", temperature=config.temperature, weight=config.loss_weight)
    if config.loss == "swd":  # one draw of projections and prior per seed, shared by its models
        return torch.stack([generalized_contrastive(z1[:, j], z2[:, j], "swd", weight=config.loss_weight,
                                                    generator=g, projections=config.projections)
                            for j, g in enumerate(gens)], dim=1)
    M, S, n, k = z1.shape
    a, b = z1.reshape(M * S, n, k), z2.reshape(M * S, n, k)
    # chunks of settings whose n x n logits stay in cache (~4 MB): 1.5-2x faster than one big batch
    chunk = max(1, _LOGIT_CHUNK // (n * n))
    per = torch.cat([cross_view_infonce(a[i:i + chunk], b[i:i + chunk], config.temperature)
                     for i in range(0, M * S, chunk)])
    return per.reshape(M, S)


# -- runner ------------------------------------------------------------------------------------------
def simulate_many(models: Sequence[LinearModel], seeds: Sequence[int], config: SimulationConfig = SimulationConfig(),
                  *, progress: bool = False, threads: int | None = 1, label: str = "",
                  autograd: bool = False) -> Trajectory:
    """Train every (model, seed) pair at once; ``config.seed`` is ignored in favour of ``seeds``.

    Args:
        models: ``M`` models with the same block dims, ``rep_dim`` and ``input_dim``.
        seeds: ``S`` seeds (integers >= 0).
        progress: show a tqdm bar (off in library use; CLIs turn it on).
        threads: torch threads during the run (see :func:`torch_threads`).
        autograd: differentiate InfoNCE with autograd of :func:`cross_view_infonce` instead of the
            written-out gradient (:mod:`linear_theory.infonce_grad`; the same numbers up to float
            rounding, ~4-5x slower at batch 256). Used without asking when ``tau < MIN_TEMPERATURE``.

    Returns:
        A :class:`Trajectory` with batch shape ``(M, S)``; ``times = lr * step`` at the steps of
        ``config.record_steps()``; method ``"sgd_infonce"``/``"sgd_spectral"`` (``"adam_..."``).
    """
    models, seeds = list(models), [int(s) for s in seeds]
    if not models or not seeds:
        raise ValueError("simulate_many needs at least one model and one seed")
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be integers >= 0, got {seeds}")
    with torch_threads(threads):
        return _run(models, seeds, config, progress, label, autograd)


def _run(models: list[LinearModel], seeds: list[int], config: SimulationConfig, progress: bool,
         label: str, autograd: bool) -> Trajectory:
    dtype = config.torch_dtype
    coords = _coords(models, dtype)
    M, S, k, d = len(models), len(seeds), models[0].rep_dim, models[0].d
    streams = [_streams(s) for s in seeds]
    W0 = np.stack([config.init_scale * rng.standard_normal((k, d)) for rng, _ in streams])  # (S, k, d)
    W = torch.tensor(np.broadcast_to(W0, (M, S, k, d)).copy(), dtype=dtype, requires_grad=True)
    gens = [g for _, g in streams]
    opt = torch.optim.SGD([W], lr=config.lr) if config.optimizer == "sgd" else torch.optim.Adam([W], lr=config.lr)
    record = config.record_steps()
    Ws = np.empty((len(record), M, S, k, d))
    losses = np.empty((len(record), M, S))
    window = torch.zeros(M, S, dtype=torch.float64)
    n_window, r_idx = 0, 0

    def save(loss: torch.Tensor) -> None:
        nonlocal r_idx
        Ws[r_idx] = W.detach().to(torch.float64).numpy()
        losses[r_idx] = loss.numpy()
        r_idx += 1

    written_out = config.loss == "infonce" and config.temperature >= MIN_TEMPERATURE and not autograd
    if written_out:
        D = coords.block_of.numel()
        infonce = LinearInfoNCEStep(M, S, config.batch_size, k, d, D, dtype)
        signal, scratch = torch.empty(2, M, S, D, 2, config.batch_size, dtype=dtype)
    bar = tqdm(total=config.steps, disable=not progress, desc=f"{config.loss} x{M * S}", leave=False)
    for step in range(config.steps):
        if written_out:  # the written-out gradient, into buffers (the same numbers as autograd up to rounding)
            _, xi = _draw_parts(coords, gens, config.batch_size, dtype, out=signal, scratch=scratch)
            per, W.grad = infonce(W.detach(), signal, xi, coords.noise, config.temperature)
        else:
            x1, x2 = _draw(coords, gens, config.batch_size, dtype)
            per = _losses(config, x1 @ W.transpose(-1, -2), x2 @ W.transpose(-1, -2), gens)
        if not torch.all(torch.isfinite(per)):
            raise FloatingPointError(f"non-finite loss at step {step}: lr={config.lr} too large?")
        if step == 0:
            save(per.detach().to(torch.float64))  # step 0: the first minibatch's loss at W0
        if not written_out:
            opt.zero_grad(set_to_none=True)
            per.sum().backward()
        opt.step()
        window += per.detach().to(torch.float64)
        n_window += 1
        if step + 1 == record[r_idx]:
            save(window / n_window)  # mean loss of the updates since the last record
            window.zero_()
            n_window = 0
        bar.update(1)
    bar.close()
    Ws = np.moveaxis(Ws, 0, 2)  # (M, S, T, k, d)
    cs = np.stack([captured_strength(m, Ws[i]) for i, m in enumerate(models)])
    r2 = np.stack([encoder_probe_r2(m, Ws[i]) for i, m in enumerate(models)])
    method = f"{config.optimizer}_{config.loss}"
    return Trajectory(record * config.lr, cs, r2, np.moveaxis(losses, 0, -1), method, label, Ws)


def simulate(model: LinearModel, config: SimulationConfig = SimulationConfig(), *, progress: bool = False,
             threads: int | None = 1, label: str = "") -> Trajectory:
    """One run (``config.seed``) from :func:`initial_encoder`; a :class:`Trajectory` without batch axes.

    ``times = lr * step``; ``loss`` is the minibatch loss averaged over each record window (at
    step 0: the first minibatch's loss at ``W0``); probe ``R^2`` and captured strength are exact
    functions of the recorded ``W`` (:mod:`linear_theory.spectral`).
    """
    return simulate_many([model], [config.seed], config, progress=progress, threads=threads, label=label)[0, 0]


def final_probe_r2(models: Sequence[LinearModel], seeds: Sequence[int], config: SimulationConfig = SimulationConfig(),
                   *, progress: bool = False, threads: int | None = 1) -> np.ndarray:
    """Final per-block probe ``R^2`` of every (model, seed) run. Shape ``(M, S, K)``."""
    return simulate_many(models, seeds, config, progress=progress, threads=threads).final_probe_r2()
