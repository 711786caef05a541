"""The cross-view InfoNCE of :func:`featuredrop.losses.cross_view_infonce` with its gradient written out, for the simulator.

The linear simulator trains thousands of settings with ``k = 4``: the ``n x n`` logits are a
rank-4 product, so a step costs the passes over that matrix (memory traffic and ``exp``), not the
arithmetic of the ``k``-wide products. With unit columns ``a_i = z1_i / |z1_i|``,
``b_j = z2_j / |z2_j|``, ``E_ij = exp(a_i . b_j / tau)`` and ``r_i = sum_j E_ij``:

    ``loss = mean_i [log r_i - a_i . b_i / tau]``,
    ``dloss/da_i = (sum_j E_ij b_j / r_i - b_i) / (n tau)``,
    ``dloss/db_j = (sum_i E_ij a_i / r_i - a_j) / (n tau)``,

then through the normalization, ``dz = (g - a (a . g)) / |z|``. Per chunk of settings whose ``E``
fits about the L2 cache that is four passes over ``E``: the matmul that writes the exponent, one
in-place ``exp2`` (the exponent carries ``log2 e``; torch's float32 ``exp2`` is ~4x faster than
its ``exp``), and two thin matmuls with ``k x n`` outputs (``[b; 1] E^T`` gives the numerators and
``r`` at once, ``(a / r) E`` the column sums; the ``n x k`` orientation is ~4x slower). The
autograd path recomputes and rescales ``E`` about ten times. Everything is kept ``k x n``
(embeddings as columns) and written into buffers allocated once per shape: a fresh multi-MB
tensor per step costs page faults that are slower than the arithmetic on it.

There is no max-shift: cosines lie in ``[-1, 1]``, so ``E`` lies in ``[e^(-1/tau), e^(1/tau)]``,
inside float32's normal range while ``tau >= MIN_TEMPERATURE``. tests/linear/test_infonce_grad.py
compares loss and gradient with autograd of ``cross_view_infonce``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["MIN_TEMPERATURE", "CHUNK_BYTES", "InfoNCEGrad", "LinearInfoNCEStep", "cross_view_infonce_grad"]

MIN_TEMPERATURE = 1.0 / 64
"""Smallest ``tau`` of the unshifted exponent: ``e^64`` summed over up to ``2^30`` pairs stays below
float32's largest number and ``e^-64`` above its smallest normal one."""

CHUNK_BYTES = 3 * 2**20
"""Bytes of ``E`` per chunk of settings, about the L2 cache of the 2-core machine (2 MiB per core):
12 settings at ``n = 256`` (2 to 24 measured alike, 1 ~1.7x slower), 192 at ``n = 64`` (where
small chunks pay the per-op overhead)."""

_EPS = 1e-12  # F.normalize's


class InfoNCEGrad:
    """Loss and gradient of ``cross_view_infonce`` for ``B`` settings of ``n`` pairs of ``k``-dim embeddings.

    Buffers are allocated once; a call's outputs are overwritten by the next call.
    """

    def __init__(self, batch: int, n: int, k: int, dtype: torch.dtype = torch.float32) -> None:
        def buf(*shape: int) -> torch.Tensor:
            return torch.empty(shape, dtype=dtype)

        self.k, self.n = k, n
        self.chunk = max(1, CHUNK_BYTES // (n * n * buf(0).element_size()))
        self.e = buf(min(self.chunk, batch), n, n)
        self.norm1, self.norm2 = buf(batch, 1, n), buf(batch, 1, n)
        self.a, self.a_log2, self.a_over_r = buf(batch, k, n), buf(batch, k, n), buf(batch, k, n)
        self.b1 = buf(batch, k + 1, n)  # b, then a row of ones: [b; 1] E^T holds the numerators and r
        self.b1[:, k] = 1.0
        self.rows, self.cols = buf(batch, k + 1, n), buf(batch, k, n)
        self.grads = buf(batch, k, 2 * n)  # dz1 then dz2 along the last axis

    def __call__(self, z1: torch.Tensor, z2: torch.Tensor,
                 temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss (B,), dz1 (B, k, n), dz2 (B, k, n))`` of embeddings given as columns, ``z1``, ``z2``: ``(B, k, n)``.

        ``dz`` is the gradient of ``loss.sum()``; ``dz1`` and ``dz2`` are the two halves of the buffer
        ``grads[:B]`` ``(B, k, 2n)``. Requires ``temperature >= MIN_TEMPERATURE``.
        """
        if temperature < MIN_TEMPERATURE:
            raise ValueError(f"the written-out InfoNCE gradient needs temperature >= {MIN_TEMPERATURE}, "
                             f"got {temperature!r}")
        k, n, batch = self.k, self.n, z1.shape[0]
        if z1.shape != (batch, k, n) or z2.shape != z1.shape or batch > self.a.shape[0]:
            raise ValueError(f"z1 and z2 must have shape (<= {self.a.shape[0]}, {k}, {n}); "
                             f"got {tuple(z1.shape)} and {tuple(z2.shape)}")
        a, b, e = self.a[:batch], self.b1[:batch, :k], self.e
        a_log2, a_over_r, rows, cols = self.a_log2[:batch], self.a_over_r[:batch], self.rows[:batch], self.cols[:batch]
        norm1, norm2 = _unit(z1, self.norm1[:batch], a), _unit(z2, self.norm2[:batch], b)
        torch.mul(a, math.log2(math.e) / temperature, out=a_log2)
        for i in range(0, batch, self.chunk):
            j = min(batch, i + self.chunk)
            ex = e[:j - i]
            torch.matmul(a_log2[i:j].transpose(-1, -2), b[i:j], out=ex).exp2_()  # E, rows i (view 1)
            torch.matmul(self.b1[i:j], ex.transpose(-1, -2), out=rows[i:j])
            torch.div(a[i:j], rows[i:j, k:], out=a_over_r[i:j])
            torch.matmul(a_over_r[i:j], ex, out=cols[i:j])
        r = rows[:, k:]
        loss = (torch.log(r).squeeze(-2) - (a * b).sum(-2) / temperature).mean(-1)
        scale = 1.0 / (n * temperature)
        grad1 = torch.div(rows[:, :k], r, out=self.grads[:batch, :, :n]).sub_(b).mul_(scale)
        grad2 = torch.sub(cols, a, out=self.grads[:batch, :, n:]).mul_(scale)
        return loss, _through_unit(grad1, a, norm1), _through_unit(grad2, b, norm2)


def _unit(z: torch.Tensor, norm: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Write ``z / max(|z|, eps)`` (norm over axis -2) into ``out``; returns the clamped norm."""
    torch.mul(z, z, out=out)
    torch.sum(out, dim=-2, keepdim=True, out=norm).sqrt_().clamp_min_(_EPS)  # vector_norm over -2 is ~50x slower
    torch.div(z, norm, out=out)
    return norm


def _through_unit(g: torch.Tensor, unit: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """In place: ``g`` (gradient w.r.t. ``z / max(|z|, eps)``) becomes the gradient w.r.t. ``z``."""
    radial = (g * unit).sum(-2, keepdim=True).mul_(norm > _EPS)  # inside the clamp |z| is a constant
    return g.addcmul_(unit, radial, value=-1.0).div_(norm)


class LinearInfoNCEStep:
    """InfoNCE and its gradient w.r.t. ``M x S`` linear encoders on views ``noise * xi + [signal; 0]`` (buffers reused).

    The simulator's views (:func:`linear_theory.simulate._draw_parts`): view ``t`` of setting
    ``(m, s)`` is ``noise[m] * xi[s, :, t] + [signal[m, s, :, t]; 0]`` (``d x n``, examples as columns),
    ``xi`` shared by the models of a seed. So ``z = W x`` is ``noise * (W xi) + W[:, :D] signal`` and
    ``dW = noise * (G xi^T) + [G signal^T, 0]``, the ``xi`` products one matmul over all models (``M k``
    rows): the per-model noise is never written out.
    """

    def __init__(self, models: int, seeds: int, n: int, k: int, d: int, signal_dim: int,
                 dtype: torch.dtype = torch.float32) -> None:
        self.loss = InfoNCEGrad(models * seeds, n, k, dtype)
        self.z = torch.empty(models, seeds, k, 2 * n, dtype=dtype)  # both views' embeddings as columns
        self.grad = torch.empty(models, seeds, k, d, dtype=dtype)
        self.signal_grad = torch.empty(models * seeds, k, signal_dim, dtype=dtype)

    def __call__(self, W: torch.Tensor, signal: torch.Tensor, xi: torch.Tensor, noise: torch.Tensor,
                 temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss (M, S), dloss.sum()/dW (M, S, k, d))``; the gradient is a buffer the next call overwrites.

        ``W``: ``(M, S, k, d)``; ``signal``: ``(M, S, D, 2, n)``; ``xi``: ``(S, d, 2, n)``; ``noise``:
        ``M`` values broadcastable to ``(M, 1, 1, 1)``.
        """
        M, S, k, d = W.shape
        D, n = signal.shape[-3], signal.shape[-1]
        B = M * S
        z, grad = self.z, self.grad
        xi = xi.reshape(S, d, 2 * n)
        signal = signal.reshape(B, D, 2 * n)
        with torch.no_grad():
            for s in range(S):  # W xi: (M k, d) x (d, 2n)
                z[:, s] = W[:, s] @ xi[s]
            z.mul_(noise).view(B, k, 2 * n).baddbmm_(W.reshape(B, k, d)[..., :D], signal)
            loss, _, _ = self.loss(z[..., :n].reshape(B, k, n), z[..., n:].reshape(B, k, n), temperature)
            G = self.loss.grads[:B]
            Gm = G.view(M, S, k, 2 * n)
            for s in range(S):  # G xi^T: (M k, 2n) x (2n, d)
                grad[:, s] = Gm[:, s] @ xi[s].transpose(-1, -2)
            grad.mul_(noise)
            torch.matmul(G, signal.transpose(-1, -2), out=self.signal_grad)
            grad.view(B, k, d)[..., :D] += self.signal_grad
        return loss.view(M, S), grad


def cross_view_infonce_grad(z1: torch.Tensor, z2: torch.Tensor,
                            temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``cross_view_infonce(z1, z2, tau)`` and the gradient of its sum, for ``z1``, ``z2`` of shape ``(B, n, k)``.

    Returns ``(loss (B,), dz1 (B, n, k), dz2 (B, n, k))``; one-off buffers (see :class:`InfoNCEGrad`).
    """
    if z1.ndim != 3 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must share a shape (B, n, k); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    batch, n, k = z1.shape
    loss, g1, g2 = InfoNCEGrad(batch, n, k, z1.dtype)(z1.transpose(-1, -2), z2.transpose(-1, -2), temperature)
    return loss, g1.transpose(-1, -2), g2.transpose(-1, -2)
