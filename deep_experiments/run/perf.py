"""The runtime side of the fast-path switches (:class:`deep_experiments.configs.PerfConfig`).

Which optimizer kernel a device gets, whether a device can honour the switches at all, and the
encoder forward that the learner calls. The switches themselves are applied where their objects are
built: :func:`deep_experiments.run.components.build_components` (memory format, optimizer kernel,
compile), :class:`deep_experiments.run.learner.ContrastiveLearner` (autocast, input format) and
:class:`deep_experiments.data.DeviceLoader` (data kept on the device).

Optimizer kernels. ``fused=True`` (one kernel for all parameters) exists for SGD and Adam on CUDA
and, since torch 2.4, on CPU; older versions or other devices raise when it is asked for, some at
construction and some at the first step. Rather than keep a table of versions, :func:`optimizer_kernel`
builds the optimizer once on a one-element parameter of the device and steps it: ``fused`` when that
works, else ``foreach=True`` (one kernel per operation over all parameters; torch already picks it
by default on CUDA, so there the switch only adds ``fused``).
"""

from __future__ import annotations

import ctypes
import functools
import shutil

import torch

from deep_experiments.configs import PerfConfig

__all__ = ["optimizer_kernel", "check_perf", "bf16_supported", "retain_freed_memory", "NARROWEST_FAST_PATH",
           "RETAINED_BYTES"]


@functools.cache
def _fused_works(optimizer: type[torch.optim.Optimizer], device_type: str) -> bool:
    """Whether ``optimizer(fused=True)`` builds and steps on ``device_type`` with this torch."""
    param = torch.zeros(1, device=device_type, requires_grad=True)
    param.grad = torch.ones_like(param)
    try:
        optimizer([param], lr=0.1, fused=True).step()  # type: ignore[call-arg]
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def optimizer_kernel(optimizer: type[torch.optim.Optimizer], device: torch.device,
                     fused_optimizer: bool) -> dict[str, bool]:
    """Keyword arguments that pick the optimizer's kernel: ``{}`` (torch's default) when the switch is off,
    else ``{"fused": True}`` where this torch offers it on ``device``, else ``{"foreach": True}``."""
    if not fused_optimizer:
        return {}
    return {"fused": True} if _fused_works(optimizer, device.type) else {"foreach": True}


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs on ``device`` (CPU always; CUDA from compute capability 8.0)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


NARROWEST_FAST_PATH = 8
"""Below this encoder width ``channels_last`` (ResNet-18) and ``compile`` crash natively in torch's kernels
(a segmentation fault or a "double free" in the backward pass, an abort while compiling; reproduced with
plain torch, outside this package), so they are refused there with a message instead."""


def check_perf(perf: PerfConfig, device: torch.device, encoder: str = "resnet18", width: int = 64) -> None:
    """Refuse switches the device, this torch or the encoder's width cannot honour, before anything is written.

    Raises:
        ValueError: one line naming the switch.
    """
    narrow = width < NARROWEST_FAST_PATH
    if perf.channels_last and narrow and encoder == "resnet18":
        raise ValueError(f"train.perf.channels_last: a ResNet-18 of width {width} (< {NARROWEST_FAST_PATH}) crashes "
                         f"torch's channels-last kernels; drop channels_last from --perf or use --width >= "
                         f"{NARROWEST_FAST_PATH}")
    if perf.compile and narrow:
        raise ValueError(f"train.perf.compile: torch.compile aborts on encoders of width {width} (< "
                         f"{NARROWEST_FAST_PATH}); drop compile from --perf or use --width >= {NARROWEST_FAST_PATH}")
    if perf.bf16 and not bf16_supported(device):
        raise ValueError(f"train.perf.bf16: {device} has no bfloat16 support; drop bf16 from --perf")
    if perf.compile:
        if not hasattr(torch, "compile"):
            raise ValueError(f"train.perf.compile: torch {torch.__version__} has no torch.compile")
        if device.type == "cpu" and not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
            raise ValueError("train.perf.compile: torch.compile on CPU needs a C++ compiler (g++, c++ or clang++); "
                             "none is on PATH")


RETAINED_BYTES = 1 << 30
"""Blocks up to this size come from the heap, and up to this much freed memory stays in it (glibc, see
:func:`retain_freed_memory`)."""


def retain_freed_memory() -> bool:
    """Keep the CPU step's freed activations in the process's heap instead of returning them to the OS (glibc).

    glibc serves blocks above its mmap threshold (dynamic, 128 kB to 32 MB) with a fresh ``mmap`` and gives
    them back on ``free``; a ConvN step of batch 256 frees and reallocates ~20 such tensors (16 MB each), so
    every step faults their pages in again: about a quarter of the step's CPU time was system time on one
    thread. Serving blocks up to :data:`RETAINED_BYTES` from the heap and trimming the heap only past it makes
    the next step reuse the same pages. Only where memory comes from is changed, never a number: the
    allocator's 64-byte alignment stays, and ``scripts/reference_runs.py --check`` reproduces bit for bit.
    The cost is a resident size that stays at its peak. A process-wide setting, made by the entry points
    (the deep CLI, the step benchmark) before they train; returns False where there is no glibc ``mallopt``
    (macOS, musl), which then changes nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: glibc's when it runs on glibc
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, RETAINED_BYTES)) and bool(mallopt(m_trim_threshold, RETAINED_BYTES))
