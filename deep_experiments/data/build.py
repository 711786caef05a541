"""``build_dataset``: one split of the dataset a :class:`DataConfig` names, assembled by its recipe."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import replace

from deep_experiments.checks import one_of

from .config import DataConfig
from .dataset import TwoTaskDataset
from .recipes import dataset_recipe
from .spec import DatasetSpec

SPLITS: tuple[str, ...] = ("train", "test")

DatasetBuilder = Callable[[DataConfig, str, int], TwoTaskDataset]
"""``build_dataset`` or a replacement with its signature (tests): ``(data_config, split, seed)``."""

__all__ = ["SPLITS", "DatasetBuilder", "build_dataset", "dataset_spec"]


def dataset_spec(config: DataConfig) -> DatasetSpec:
    """The spec of the dataset ``config`` names (channels, sizes, class counts), loading no image.

    ``config.augmentation``, when set, replaces the recipe's expert augmentation policy; ``config.normalization``
    is the spec's.
    """
    spec = dataset_recipe(config.dataset).spec(config)
    if config.augmentation is not None:
        spec = replace(spec, expert_augmentation=config.augmentation)
    return replace(spec, normalization=config.normalization)


def build_dataset(config: DataConfig, split: str, seed: int = 0) -> TwoTaskDataset:
    """Build one split of the two-task dataset named by ``config`` (task A = base, task B = overlay).

    ``seed`` seeds base crops, randbit ids and (with epoch and index) every overlay draw; the
    split keeps the first ``config.train_size`` / ``config.test_size`` items. See
    :class:`DataConfig` for the sources (offline stand-ins or real torchvision files).

    Raises:
        ValueError: an unknown split or a seed out of range, naming it.
        FileNotFoundError: real data missing from ``data_dir`` (the message says how to get it).
    """
    one_of("split", split, SPLITS)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= 2**64 - 1:
        raise ValueError(f"seed must be an integer in [0, {2**64 - 1}], got {seed!r}")
    recipe = dataset_recipe(config.dataset)
    spec = dataset_spec(config)
    bases, overlay = recipe.parts(config, split, config.size(split), int(seed))
    return recipe.dataset(spec, bases, overlay, split=split, seed=int(seed),
                          overlay_strength=float(config.overlay_strength))

