"""Data-parallel pretraining over processes started by ``torchrun`` (one per GPU, or gloo on CPU).

::

    torchrun --standalone --nproc_per_node N -m deep_experiments run --batch-size 256 ... --out runs/NAME

(or ``python -m torch.distributed.run ...``). :func:`init_world` reads torchrun's environment
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``; absent or ``WORLD_SIZE=1``: one process, nothing is
initialized) and starts the process group: nccl with ``cuda:LOCAL_RANK`` per process, gloo on CPU.

What one training step of ``N`` processes computes equals the single-process step on the same
global batch (``tests/deep/test_distributed.py`` checks loss, gradients and BatchNorm buffers to 1e-5 in
float32 and 1e-12 in float64, for expert views and for the hierarchical views with their stage
heads, whose float32 gradients it checks to 1e-3 of the largest):

- ``--batch-size`` is the *global* batch; every process takes its contiguous rows of each global
  batch (:class:`ShardedBatches`), so rank order reproduces the single-process batch.
- The loss is computed on the gathered embeddings of the whole global batch
  (:func:`featuredrop.distributed.gather_pairs`, then the one :func:`featuredrop.losses.nt_xent`),
  for the encoder step and for the viewmaker's adversarial step alike, so every process computes
  the same loss and sees all negatives.
- BatchNorm layers of the encoder and of the modules trained beside it (the hierarchical views'
  stage heads) normalize with the statistics of the global batch
  (:class:`GlobalBatchNorm`); per-process statistics would make the step differ from one
  process's (and let each process's BatchNorm see only its own pairs). torch's
  ``SyncBatchNorm`` would do the same on CUDA but refuses CPU tensors, so it could not be tested here.
- Gradients are averaged over processes before every optimizer step (:func:`average_gradients`,
  a step pre-hook on each optimizer: the encoder's and the viewmaker's). This is what DDP would
  do, without wrapping the modules: the learner freezes the viewmaker during the encoder step and
  the encoder during the viewmaker step, checkpoints and probes use the plain modules, and a
  hook leaves their ``state_dict`` keys and the single-process code path untouched.

Randomness: the ``data/order`` stream is shared (every process draws the same global batches);
the ``augment`` stream is per process (:func:`stream_name`: ``augment`` on rank 0, ``augment/rankR``
on rank ``R``), so a multi-process run is **not** bit-identical to a single-process one (its
views differ), while the loss and gradient of a given set of views are. The SWD loss draws its
projections from the per-process stream too; there each process's loss is a different draw and
the step follows their mean.

Files: only rank 0 writes the run folder (config, metrics, checkpoints, backbone, probes). A
checkpoint records ``world_size`` and every process's ``augment`` state; it resumes with the same
number of processes only (:func:`check_resume` refuses another with one line), which keeps a
resumed run identical to an uninterrupted one.

A process that dies: every process records its host and PID in the rendezvous store when it joins;
when a collective fails on a survivor (gloo: "Connection closed by peer"), :func:`peer_failure` names
the ranks whose processes are gone (checked on this host) and the CLI stops with that one line and
the command that resumes the run, instead of the backend's traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from deep_experiments.device import resolve_device
from featuredrop.distributed import gather_with_grad

__all__ = ["World", "SINGLE", "world_from_env", "init_world", "close_world", "stream_name", "ShardedBatches",
           "GlobalBatchNorm", "global_batchnorm", "average_gradients", "data_parallel", "generator_states",
           "check_resume", "main_first", "barrier", "TIMEOUT", "dead_ranks", "silent_ranks", "mark_stopping",
           "peer_failure"]

TIMEOUT = datetime.timedelta(minutes=60)
"""How long a process waits in a collective: the other processes wait while rank 0 alone runs the fast
probe (the run's and its overlay controls') and writes checkpoints."""

PER_RANK_STREAMS: tuple[str, ...] = ("augment",)
"""Random streams that differ between processes (the others are shared: every process draws the same)."""


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes: ``rank`` of ``size``, GPU ``local_rank``."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size or self.local_rank < 0:
            raise ValueError(f"invalid process placement: rank {self.rank} of world size {self.size}, "
                             f"local rank {self.local_rank}")

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and runs the probes."""
        return self.rank == 0

    def local_batch(self, batch_size: int) -> int:
        """This process's share of a global batch.

        Raises:
            ValueError: ``batch_size`` is not a multiple of the number of processes.
        """
        if batch_size % self.size:
            raise ValueError(f"--batch-size {batch_size} (the global batch) is not divisible by the {self.size} "
                             f"processes of torchrun; pick a multiple of {self.size}")
        return batch_size // self.size


SINGLE = World()
"""One process (no torchrun)."""


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The :class:`World` that torchrun's variables describe (``os.environ`` by default); :data:`SINGLE` without them.

    Raises:
        ValueError: a variable that is not an integer, or an impossible placement.
    """
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return SINGLE
    values = {}
    for name, default in (("WORLD_SIZE", None), ("RANK", None), ("LOCAL_RANK", env.get("RANK"))):
        text = env.get(name, default)
        try:
            values[name] = int(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"torchrun environment: {name}={text!r} is not an integer") from None
    return World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])


def _rank_device(name: str, world: World) -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` for ``auto`` (with CUDA) and ``cuda``, else the CPU."""
    if name.startswith("cuda:"):
        raise ValueError(f"--device {name}: under torchrun every process uses cuda:LOCAL_RANK; pass --device cuda "
                         f"(or auto)")
    device = resolve_device(name)
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if world.local_rank >= count:
        raise ValueError(f"torchrun started local rank {world.local_rank} but {count} CUDA device(s) are visible; "
                         f"use --nproc_per_node {count} or fewer")
    return torch.device("cuda", world.local_rank)


def init_world(device: str = "auto", env: Mapping[str, str] | None = None) -> tuple[World, torch.device]:
    """This process's :class:`World` and device; starts the process group when there are several processes.

    nccl when the device is CUDA, gloo on CPU; the rendezvous is torchrun's (``MASTER_ADDR``,
    ``MASTER_PORT``). Pair with :func:`close_world`.

    Raises:
        ValueError: bad torchrun variables, ``--device cuda:N`` with several processes, or more
            processes on this node than visible GPUs.
    """
    world = world_from_env(env)
    if not world.distributed:
        return world, resolve_device(device)
    if not dist.is_available():
        raise ValueError("torchrun started several processes but this torch has no torch.distributed")
    dev = _rank_device(device, world)
    if dist.is_initialized():
        return world, dev
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=dev)
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)
    if dist.get_world_size() != world.size or dist.get_rank() != world.rank:
        raise ValueError(f"the process group has rank {dist.get_rank()} of {dist.get_world_size()}, the environment "
                         f"says {world.rank} of {world.size}")
    _register(world)
    return world, dev


_PID_KEY = "featuredrop/pid/{rank}"
"""Where each process records ``HOST PID`` in the rendezvous store (:func:`dead_ranks` reads them)."""


_STORE: list[Any] = []
"""The rendezvous store this process registered in, kept after the process group is destroyed (the CLI looks
for dead ranks after its ``finally`` closed the group)."""


def _store() -> Any:
    """The store :func:`_register` used (``None`` before, or when it could not be reached)."""
    return _STORE[0] if _STORE else None


def _register(world: World) -> None:
    """Record this process's host and PID under its rank, so that the others can tell whether it is alive."""
    try:
        store = dist.distributed_c10d._get_default_store()
    except (RuntimeError, ValueError, AttributeError):
        return
    store.set(_PID_KEY.format(rank=world.rank), f"{socket.gethostname()} {os.getpid()}")
    _STORE[:] = [store]


def _gone(pid: int) -> bool:
    """Whether process ``pid`` of this host has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _registered(store: Any, rank: int) -> tuple[str, int] | None:
    """``(host, pid)`` that ``rank`` recorded, ``None`` if it never did; ``RuntimeError`` when the store is gone."""
    key = _PID_KEY.format(rank=rank)
    if not store.check([key]):
        return None
    host, pid = store.get(key).decode().split()
    return host, int(pid)


def _others(world: World) -> Iterator[tuple[Any, int, str, bool]]:
    """``(store, rank, host, same_host)`` of every other rank that registered; ``RuntimeError``/``ValueError`` when
    the store is gone (its host died)."""
    store, here = _store(), socket.gethostname()
    for rank in range(world.size):
        placed = None if rank == world.rank else _registered(store, rank)
        if placed is not None:
            yield store, rank, placed[0], placed[0] == here and _gone(placed[1])


def _poll(world: World, wait: float, look: Callable[[Any, int, str, bool], bool],
          until_found: bool) -> list[tuple[int, str]]:
    """``(rank, host)`` of the other registered ranks for which ``look(store, rank, host, gone_here)`` holds, polled
    every 0.1 s for up to ``wait`` s until some are found (``until_found``) or none are; ``[]`` without a store."""
    if _store() is None or not world.distributed:
        return []
    deadline = time.monotonic() + wait
    while True:
        try:
            found = [(rank, host) for store, rank, host, gone in _others(world) if look(store, rank, host, gone)]
        except (RuntimeError, ValueError):  # the store itself is gone (its host died): nothing to tell
            return []
        if bool(found) == until_found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def dead_ranks(world: World, wait: float = 2.0) -> list[int]:
    """The other ranks whose processes (on this host) have exited, waiting up to ``wait`` s for one to be seen.

    Ranks on other hosts cannot be checked this way (:func:`silent_ranks` names them); ranks that never
    registered are not listed.
    """
    return [rank for rank, _ in _poll(world, wait, lambda store, rank, host, gone: gone, until_found=True)]


_STOPPED_KEY = "featuredrop/stopped/{rank}"
"""Where a process that saw a collective fail records that it is alive and stopping (:func:`silent_ranks`)."""


def mark_stopping(world: World) -> None:
    """Record in the rendezvous store that this process is alive and stopping after a failed collective."""
    store = _store()
    if store is None or not world.distributed:
        return
    try:
        store.set(_STOPPED_KEY.format(rank=world.rank), "1")
    except (RuntimeError, ValueError):
        pass


def silent_ranks(world: World, wait: float = 2.0) -> list[tuple[int, str]]:
    """``(rank, host)`` of the ranks on other hosts that have not recorded :func:`mark_stopping` within ``wait``
    s: their process died or stopped answering (a survivor records itself as soon as its collective fails)."""
    here = socket.gethostname()

    def silent(store: Any, rank: int, host: str, gone: bool) -> bool:
        return host != here and not store.check([_STOPPED_KEY.format(rank=rank)])

    return _poll(world, wait, silent, until_found=False)


_PEER_LOST = re.compile(r"connection (closed|reset)|broken pipe|timed out|timeout|nccl|gloo|socket|peer",
                        re.IGNORECASE)


def peer_failure(err: BaseException, world: World, resume: str) -> str | None:
    """One line for a collective that failed because another process died, or ``None`` for any other error.

    ``resume``: the command that resumes the run (the last checkpoint is kept: rank 0 writes it between epochs).
    """
    if not world.distributed or not isinstance(err, RuntimeError):
        return None
    mark_stopping(world)
    dead = dead_ranks(world)
    if not dead and not _PEER_LOST.search(str(err)):
        return None  # not a lost peer: a bug keeps its traceback
    silent = [] if dead else silent_ranks(world)
    if dead:
        who = f"rank {', '.join(map(str, dead))} of the {world.size} processes died"
    elif silent:
        who = (f"rank {', '.join(str(r) for r, _ in silent)} of the {world.size} processes (on "
               f"{', '.join(sorted({h for _, h in silent}))}) died or stopped answering")
    else:
        who = f"another of the {world.size} processes died or stopped answering"
    reason = " ".join(str(err).split())[:160]
    return (f"rank {world.rank} stopped: {who} ({reason}); the last checkpoint is kept: resume with {resume}")


def close_world(world: World) -> None:
    """Leave the process group started by :func:`init_world` (nothing for one process)."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    """Wait for every process (nothing for one process)."""
    if world.distributed:
        dist.barrier()


@contextlib.contextmanager
def main_first(world: World) -> Iterator[None]:
    """Rank 0 runs the block before the others (it may repair files the others then read)."""
    if not world.is_main:
        barrier(world)
    yield
    if world.is_main:
        barrier(world)


def stream_name(stream: str, rank: int) -> str:
    """The name of random stream ``stream`` on process ``rank``: ``augment`` on rank 0, ``augment/rankR`` on
    rank ``R`` (:data:`PER_RANK_STREAMS`); shared streams keep their name. With one process nothing changes."""
    return f"{stream}/rank{rank}" if stream in PER_RANK_STREAMS and rank else stream


class ShardedBatches:
    """This process's rows of every global batch of ``batches``: rows ``rank * b .. (rank + 1) * b - 1``, ``b =
    batch_size / size`` (for a DataLoader or :class:`deep_experiments.data.DeviceLoader` with ``drop_last``).

    Every process iterates the same global batches (the shared ``data/order`` stream) and keeps its
    slice of each field, so the slices in rank order are the single-process batch.
    """

    def __init__(self, batches: Any, batch_size: int, world: World) -> None:
        self.batches = batches
        self.batch_size = batch_size
        self.local = world.local_batch(batch_size)
        self.start = world.rank * self.local

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for batch in self.batches:
            if len(batch[0]) != self.batch_size:
                raise ValueError(f"a global batch of {len(batch[0])} items, expected {self.batch_size} (drop_last)")
            yield tuple(t[self.start:self.start + self.local] for t in batch)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch of every process of ``group``.

    Each process computes its rows' mean and variance (in float32 at least), the per-process statistics are
    gathered with gradients (:func:`featuredrop.distributed.gather_with_grad`) and pooled; running
    statistics are updated with the pooled mean and unbiased variance, as ``BatchNorm`` does on the
    whole batch, so they stay equal on every process. Outside training, or with one process, it
    is ``BatchNorm`` itself. Input ``(N, C, ...)``; works on CPU (gloo) and CUDA (nccl).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, group: dist.ProcessGroup | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.group = group

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input of shape (N, C, ...), got {tuple(input.shape)}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or not (dist.is_available() and dist.is_initialized()) \
                or dist.get_world_size(self.group) == 1:
            return super().forward(input)
        self._check_input_dim(input)
        c = self.num_features
        dims = [0, *range(2, input.dim())]
        x = input.to(torch.promote_types(input.dtype, torch.float32))  # float32 statistics, float64 kept
        count = x.numel() // c
        local = torch.cat([x.mean(dims), x.var(dims, unbiased=False), x.new_full((1,), float(count))])
        stats = gather_with_grad(local[None], self.group)  # (processes, 2C + 1)
        n = stats[:, -1:].detach()
        total = n.sum()
        mean = (n * stats[:, :c]).sum(0) / total
        var = (n * (stats[:, c:2 * c] + (stats[:, :c] - mean).square())).sum(0) / total
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr]
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                unbiased = var * (total / (total - 1)) if total > 1 else var
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        shape = [1, c] + [1] * (input.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(input.dtype)


def global_batchnorm(module: nn.Module, group: dist.ProcessGroup | None = None) -> nn.Module:
    """``module`` with every ``BatchNorm1d/2d/3d`` replaced, in place, by a :class:`GlobalBatchNorm` that
    shares its parameters and buffers (optimizers and ``state_dict`` keys are unchanged)."""
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats, group)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        setattr(module, name, global_batchnorm(child, group))
    return module


def average_gradients(params: Iterable[torch.Tensor], group: dist.ProcessGroup | None = None) -> None:
    """Replace each parameter's gradient by its mean over the processes (one all-reduce per dtype).

    Parameters without a gradient are skipped; every process must have gradients for the same ones.
    """
    grads = [p.grad for p in params if p.grad is not None]
    size = dist.get_world_size(group)
    for dtype in dict.fromkeys(g.dtype for g in grads):
        same = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in same])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        flat.div_(size)
        for g, part in zip(same, flat.split([g.numel() for g in same])):
            g.copy_(part.view_as(g))


def _average_before_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """Optimizer step pre-hook: :func:`average_gradients` of the optimizer's parameters."""
    average_gradients(p for group in optimizer.param_groups for p in group["params"])


def data_parallel(comps: Any, world: World) -> None:
    """Turn ``comps`` (:class:`deep_experiments.run.components.Components`) into one replica of a data-parallel run.

    In place: global-batch BatchNorm in every trainable module (the encoder, and the hierarchical views'
    stage heads, whose BatchNorm would otherwise see one process's rows), the loss on gathered embeddings
    (``learner.process_group``), gradients averaged before every optimizer step, and every
    module's parameters and buffers broadcast from rank 0. Nothing for one process.
    """
    if not world.distributed:
        return
    for module in comps.modules().values():  # the encoder and what trains beside it (the hierarchical heads)
        global_batchnorm(module)
    comps.learner.process_group = dist.group.WORLD
    for optimizer in comps.optimizers().values():
        optimizer.register_step_pre_hook(_average_before_step)
    with torch.no_grad():
        for module in comps.modules().values():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor, src=0)


def generator_states(gens: Mapping[str, torch.Generator], world: World) -> dict[str, torch.Tensor]:
    """The checkpoint's ``generators``: every stream by :func:`stream_name`, per-process ones from every process.

    A collective (every process calls it); with one process ``{name: state}``.
    """
    states = {name: gen.get_state() for name, gen in gens.items() if name not in PER_RANK_STREAMS}
    for name in PER_RANK_STREAMS:
        if name not in gens:
            continue
        mine = gens[name].get_state()
        every: list[Any] = [mine]
        if world.distributed:
            every = [None] * world.size
            dist.all_gather_object(every, mine)
        states.update({stream_name(name, rank): state for rank, state in enumerate(every)})
    return states


def check_resume(state: Mapping[str, Any], world: World, path: Any) -> dict[str, torch.Tensor]:
    """The generator states this process resumes from (keys as in ``gens``).

    Raises:
        ValueError: the checkpoint was written by another number of processes (one line).
    """
    saved = int(state.get("world_size", 1))
    if saved != world.size:
        how = "without torchrun" if saved == 1 else f"with torchrun --nproc_per_node {saved}"
        raise ValueError(f"{path} was written by {saved} process(es), this run has {world.size}: resume it {how} "
                         f"(the per-process augmentation streams cannot be split another way)")
    generators = state["generators"]
    return {name: generators[stream_name(name, world.rank)] for name in generators if "/rank" not in name}
