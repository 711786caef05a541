"""Resumable checkpoints and the stand-alone backbone export.

``checkpoint.pt`` (written atomically after every epoch; the one before it is kept as
``checkpoint.prev.pt``, the fallback when the latest is unreadable) holds::

    kind           "checkpoint" (files written before kinds existed are told apart by their keys)
    format         int, CHECKPOINT_FORMAT
    epoch          completed epochs
    modules        {"encoder": state_dict, ["viewmaker": state_dict]}
    optimizers     {"encoder": state_dict, ["viewmaker": state_dict]}
    schedule       state_dict of the encoder's learning-rate schedule
    generators     {"order": CPU state, "augment": state of the device generator}; a data-parallel
                   run adds every other process's augment stream, "augment/rankR"
    augment_device "cpu" or "cuda" (a CUDA generator state cannot seed a CPU generator)
    world_size     the number of data-parallel processes that wrote it (1; absent in older files:
                   1); a run resumes with the same number only (deep_experiments.run.distributed)
    config         the resolved RunConfig as a dict
    online_head    {"heads", "optimizer", "schedule"} of the colab's online read-out; only in runs with
                   probe.online_head (deep_experiments.run.online_head)

``backbone.pt`` holds only what is needed to use the encoder elsewhere::

    kind ("backbone"), format, encoder {"name", "in_channels", "out_dim", "width", "image_size"} (the arguments of
    :func:`deep_experiments.models.build_encoder`), state_dict,
    normalization {"mean", "std", "shared_channels"}, dataset

Both load with ``torch.load(weights_only=True)`` (tensors and plain Python values only). A
truncated, corrupt or wrong-kind file (a backbone copied over a checkpoint) is a ``ValueError``
naming the file, and so is a checkpoint whose parameters or buffers are not finite.
:func:`load_backbone` rebuilds the encoder of ``backbone.pt``, :func:`load_viewmaker` the
viewmaker of a checkpoint (with the run's config), :func:`resume_state` picks the state a run
resumes from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from deep_experiments.configs import RunConfig
from deep_experiments.data import dataset_spec
from deep_experiments.models import Encoder, build_encoder, encoder_args
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.normalize import Normalize
from deep_experiments.views import build_viewmaker
from featuredrop.atomic import atomic_open

CHECKPOINT_FORMAT = 2
BACKBONE_FORMAT = 2

__all__ = ["save_checkpoint", "load_checkpoint", "previous_checkpoint", "resume_state", "non_finite",
           "export_backbone", "load_backbone", "load_viewmaker"]

_KIND_TEXT = {"checkpoint": "a training checkpoint (checkpoint.pt)", "backbone": "an exported backbone (backbone.pt)"}


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`featuredrop.atomic.atomic_open`: a crash never leaves half a file."""
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def _read(path: str | Path, kind: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load`` a file of ``kind``; ``ValueError`` naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, IndexError... on bad bytes
        raise ValueError(f"{path}: not a readable {kind} file, truncated or corrupt ({type(err).__name__})") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a featuredrop {kind} file (holds a {type(state).__name__})")
    found = state.get("kind") or ("checkpoint" if "modules" in state else
                                  "backbone" if "state_dict" in state and "encoder" in state else None)
    if found != kind:
        what = _KIND_TEXT.get(str(found), "not a featuredrop file")
        raise ValueError(f"{path}: holds {what}, not {_KIND_TEXT[kind]}")
    return state


def non_finite(states: dict[str, dict[str, Any]]) -> str:
    """The floating-point tensors of ``{module: state_dict}`` holding NaN or inf, as ``"module.key, ..."``.

    At most three names (then ``...``); ``""`` when every tensor is finite.
    """
    bad = [f"{name}.{key}" for name, state in states.items() for key, value in state.items()
           if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())]
    return ", ".join(bad[:3]) + (" ..." if len(bad) > 3 else "")


def previous_checkpoint(path: str | Path) -> Path:
    """Where the checkpoint before ``path`` is kept (``checkpoint.pt`` -> ``checkpoint.prev.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a full training state (see the module docstring for the keys), keeping the previous one.

    The current file becomes :func:`previous_checkpoint` first; the new state is then written
    atomically. A crash in between leaves the previous checkpoint, from which the run resumes.
    """
    path = Path(path)
    if path.exists():
        os.replace(path, previous_checkpoint(path))
    _atomic_save({"kind": "checkpoint", "format": CHECKPOINT_FORMAT, **state}, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU (callers move states to their device via ``load_state_dict``).

    Raises:
        ValueError: the file is unreadable, not a checkpoint, of another format, or holds
            non-finite parameters or buffers (the message names the file).
    """
    state = _read(path, "checkpoint")
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: unsupported checkpoint format {state.get('format')!r}")
    bad = non_finite(state.get("modules", {}))
    if bad:
        raise ValueError(f"{path}: non-finite values in {bad}")
    return state


def resume_state(path: str | Path) -> dict[str, Any] | None:
    """The state a run resumes from: ``path``, else the previous checkpoint when ``path`` is missing or bad.

    An unreadable latest checkpoint is renamed ``NAME.corrupt`` (kept for inspection; the next
    save then keeps the good previous one) and a one-line warning goes to stderr.

    Returns:
        ``None`` when there is no checkpoint at all (a fresh run).

    Raises:
        ValueError: the latest checkpoint is bad and there is no good previous one (names the file).
    """
    path, prev = Path(path), previous_checkpoint(path)
    if not path.exists():
        return load_checkpoint(prev) if prev.exists() else None
    try:
        return load_checkpoint(path)
    except ValueError as err:
        if not prev.exists():
            raise
        problem = str(err)
    try:
        state = load_checkpoint(prev)
    except ValueError:
        raise ValueError(f"{problem} (and the previous checkpoint {prev} is unreadable too)") from None
    os.replace(path, path.with_name(path.name + ".corrupt"))
    sys.stderr.write(f"warning: {problem}; resuming from {prev} (epoch {state['epoch']}), "
                     f"the bad file is kept as {path.name}.corrupt\n")
    return state


def export_backbone(path: str | Path, encoder: Encoder, normalize: Normalize, dataset: str) -> None:
    """Save the encoder alone, with its constructor arguments and input normalization."""
    state = {
        "kind": "backbone",
        "format": BACKBONE_FORMAT,
        "encoder": encoder_args(encoder),
        "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "normalization": {
            "mean": list(normalize.mean),
            "std": list(normalize.std),
            "shared_channels": normalize.shared_channels,
        },
        "dataset": dataset,
    }
    _atomic_save(state, Path(path))


def load_backbone(path: str | Path, map_location: str | torch.device = "cpu") -> Encoder:
    """Rebuild an exported encoder, in eval mode; its ``features`` give the probes' inputs.

    Inputs must be normalized as recorded in the file (``torch.load(path)["normalization"]``).
    """
    state = _read(path, "backbone", map_location)
    if state.get("format") != BACKBONE_FORMAT or "encoder" not in state:
        raise ValueError(f"{path}: not a featuredrop backbone of format {BACKBONE_FORMAT} "
                         f"(format {state.get('format')!r})")
    model = build_encoder(**state["encoder"])
    model.load_state_dict(state["state_dict"])
    return model.to(map_location).eval()


def export_viewmaker(checkpoint: str | Path, out: str | Path) -> None:
    """Write the viewmaker of ``checkpoint`` alone to ``out`` (atomically), readable by :func:`load_viewmaker`.

    A viewmaker run's full checkpoint carries the encoder and both optimizers' states (megabytes);
    the export keeps what the viewmaker figures need (the CPU protocol's viewmaker: ~150 kB).

    Raises:
        ValueError: the checkpoint is unreadable or holds no viewmaker.
    """
    state = load_checkpoint(checkpoint)
    if "viewmaker" not in state.get("modules", {}):
        raise ValueError(f"{checkpoint}: no viewmaker in this checkpoint")
    _atomic_save({"kind": "checkpoint", "format": CHECKPOINT_FORMAT, "epoch": state.get("epoch"),
                  "modules": {"viewmaker": state["modules"]["viewmaker"]}}, Path(out))


def initial_viewmaker(config: RunConfig) -> Viewmaker:
    """The viewmaker of a run of ``config`` as built before its first step (on the CPU, in train mode).

    Seeded like the run's own (the same :func:`deep_experiments.views.build_viewmaker` call), leaving the
    global RNG alone.
    """
    return build_viewmaker(config.views.viewmaker, dataset_spec(config.data), config.train.seed)


def load_viewmaker(path: str | Path, config: RunConfig) -> Viewmaker:
    """The viewmaker of checkpoint ``path`` (``modules["viewmaker"]``), rebuilt from ``config``, in eval mode.

    Raises:
        ValueError: the checkpoint holds no viewmaker (a run of another kind of views).
    """
    modules = load_checkpoint(path)["modules"]
    if "viewmaker" not in modules:
        raise ValueError(f"{path}: no viewmaker in this checkpoint (views {config.views.kind!r})")
    viewmaker = initial_viewmaker(config)
    viewmaker.load_state_dict(modules["viewmaker"])
    return viewmaker.eval()
