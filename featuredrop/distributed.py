"""Gathering tensors across data-parallel processes with gradients, for contrastive losses.

In data-parallel contrastive training every process embeds its shard of the global batch; the
negatives of :func:`featuredrop.losses.nt_xent` must come from the whole global batch, so each
process gathers every process's embeddings (:func:`gather_with_grad`, :func:`gather_pairs`) and
computes the *same* loss of the global batch.

Gradient convention: the backward of a gather sums, over processes, the gradients that reach
each process's copy of a slice. When every process computes the same loss ``L`` of the gathered
tensor, a process's own slice therefore gets ``world_size * dL/dslice``; averaging the parameter
gradients over processes afterwards (what DDP does, and
:func:`deep_experiments.run.distributed.average_gradients`) gives exactly the single-process
gradient of ``L``. It is the same convention as ``torch.nn.SyncBatchNorm`` (every process's loss
is a term, the average is the objective). With one process (no process group, or a group of
one) every function here is the identity.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["world_size", "gather_with_grad", "gather_pairs"]


def world_size(group: dist.ProcessGroup | None = None) -> int:
    """The number of processes of ``group`` (the default group when ``None``); 1 without a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


class _Gather(torch.autograd.Function):
    """``cat(all_gather(x))`` along dim 0; backward: the sum over processes of the gradient of this process's slice.

    Written out (instead of ``torch.distributed.nn.functional.all_gather``, deprecated in recent
    torch) with an all-reduce in the backward, which every backend (gloo, nccl) supports.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:  # type: ignore[override]
        x = x.contiguous()
        ctx.group = group
        ctx.rank = dist.get_rank(group)
        ctx.rows = x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, x, group=group)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows], None


def gather_with_grad(x: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """Every process's ``x`` concatenated along dim 0 in rank order; differentiable (see the module docstring).

    Shape: ``(n, ...)`` on each of ``W`` processes -> ``(W * n, ...)``; every process must pass the
    same shape. ``x`` itself when there is one process.
    """
    if world_size(group) == 1:
        return x
    return _Gather.apply(x, group)


def gather_pairs(z1: torch.Tensor, z2: torch.Tensor,
                 group: dist.ProcessGroup | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch of positive pairs ``(Z1, Z2)`` from every process's ``(z1, z2)``, in one collective.

    Rows are in rank order, so when process ``r`` holds rows ``r*n .. (r+1)*n - 1`` of a global batch,
    ``Z1`` and ``Z2`` are that batch's embeddings in its own order (what one process would compute).
    Shape: ``(n, k)`` each -> ``(W * n, k)`` each.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    both = gather_with_grad(torch.stack([z1, z2], dim=1), group)
    return both[:, 0], both[:, 1]
