"""Test helper: build a dataset split from keyword arguments (a DataConfig plus split, size and seed)."""

from __future__ import annotations

from typing import Any

from deep_experiments.data import DataConfig, TwoTaskDataset, build_dataset


def make_dataset(name: str, split: str, *, size: int | None = None, seed: int = 0, **data: Any) -> TwoTaskDataset:
    """``build_dataset`` of ``DataConfig(dataset=name, **data)`` with both splits capped at ``size``."""
    return build_dataset(DataConfig(dataset=name, train_size=size, test_size=size, **data), split, seed)
