"""Resumable checkpoints and the stand-alone backbone export.

``checkpoint.pt`` (written atomically after every epoch) holds::

    format         int, CHECKPOINT_FORMAT
    epoch          completed epochs
    modules        {"encoder": state_dict, ["viewmaker": state_dict]}
    optimizers     {"encoder": state_dict, ["viewmaker": state_dict]}
    schedule       state_dict of the encoder's learning-rate schedule
    generators     {"order": CPU state, "augment": state of the device generator}
    augment_device "cpu" or "cuda" (a CUDA generator state cannot seed a CPU generator)
    config         the resolved RunConfig as a dict

``backbone.pt`` holds only what is needed to use the encoder elsewhere::

    format, encoder {"name", "in_channels", "out_dim", "width", "image_size"} (the arguments of
    :func:`deep_experiments.models.build_encoder`), state_dict,
    normalization {"mean", "std", "shared_channels"}, dataset

Both load with ``torch.load(weights_only=True)`` (tensors and plain Python values only).
:func:`load_backbone` rebuilds the encoder of ``backbone.pt``, :func:`load_viewmaker` the
viewmaker of a checkpoint (with the run's config).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from deep_experiments.configs import RunConfig
from deep_experiments.data import dataset_spec
from deep_experiments.models import Encoder, build_encoder, encoder_args
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.normalize import Normalize
from deep_experiments.seeds import seeded_init
from deep_experiments.views import build_viewmaker

CHECKPOINT_FORMAT = 2
BACKBONE_FORMAT = 2

__all__ = ["save_checkpoint", "load_checkpoint", "export_backbone", "load_backbone", "load_viewmaker"]


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a full training state (see the module docstring for the keys)."""
    _atomic_save({"format": CHECKPOINT_FORMAT, **state}, Path(path))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU (callers move states to their device via ``load_state_dict``)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: unsupported checkpoint format {state.get('format')!r}")
    return state


def export_backbone(path: str | Path, encoder: Encoder, normalize: Normalize, dataset: str) -> None:
    """Save the encoder alone, with its constructor arguments and input normalization."""
    state = {
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
    state = torch.load(Path(path), map_location=map_location, weights_only=True)
    if state.get("format") != BACKBONE_FORMAT or "encoder" not in state:
        raise ValueError(f"{path}: not a featuredrop backbone of format {BACKBONE_FORMAT} "
                         f"(format {state.get('format')!r})")
    model = build_encoder(**state["encoder"])
    model.load_state_dict(state["state_dict"])
    return model.to(map_location).eval()


def load_viewmaker(path: str | Path, config: RunConfig) -> Viewmaker:
    """The viewmaker of checkpoint ``path`` (``modules["viewmaker"]``), rebuilt from ``config``, in eval mode.

    Raises:
        ValueError: the checkpoint holds no viewmaker (a run of another kind of views).
    """
    modules = load_checkpoint(path)["modules"]
    if "viewmaker" not in modules:
        raise ValueError(f"{path}: no viewmaker in this checkpoint (views {config.views.kind!r})")
    with seeded_init(config.train.seed, "init/viewmaker"):  # leaves the global RNG alone
        viewmaker = build_viewmaker(config.views.viewmaker, dataset_spec(config.data))
    viewmaker.load_state_dict(modules["viewmaker"])
    return viewmaker.eval()
