"""Test helper: build a dataset split from keyword arguments (a DataConfig plus split, size and seed)."""

from __future__ import annotations

from typing import Any

from deep_experiments.data import DataConfig, TwoTaskDataset, build_dataset
from tests.deep.audio_data import audio_data_dir


def make_dataset(name: str, split: str, *, size: int | None = None, seed: int = 0, **data: Any) -> TwoTaskDataset:
    """``build_dataset`` of ``DataConfig(dataset=name, **data)`` with both splits capped at ``size``.

    The audio dataset reads a synthetic file (:mod:`tests.deep.audio_data`) unless ``data_dir`` is given.
    """
    if name == "audio" and "data_dir" not in data:
        data["data_dir"] = audio_data_dir()
    return build_dataset(DataConfig(dataset=name, train_size=size, test_size=size, **data), split, seed)
