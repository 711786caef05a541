"""Typed configs: paper defaults, strict loading, validation, presets, derived schedules."""

from __future__ import annotations

import pytest

from deep_experiments.configs import (
    PRESETS,
    DataConfig,
    ProbeConfig,
    RunConfig,
    TrainConfig,
    ViewmakerConfig,
    build_config,
)
from deep_experiments.data import DATASETS
from featuredrop.config import from_dict, to_dict


def test_defaults_are_the_papers() -> None:
    tc = TrainConfig()
    assert (tc.batch_size, tc.epochs, tc.lr, tc.momentum, tc.weight_decay) == (256, 200, 0.03, 0.9, 1e-4)
    assert (tc.temperature, tc.loss_variant, tc.width, tc.out_dim) == (0.07, "symmetric", 64, 128)
    vc = ViewmakerConfig()
    assert (vc.lr, vc.num_res_blocks, vc.adversary_weight, vc.budget) == (1e-3, 3, 1.0, None)
    assert RunConfig() == build_config(PRESETS["paper"])


def test_dataset_names_match_the_data_package() -> None:
    for name in DATASETS:
        assert DataConfig(dataset=name).dataset == name  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dataset"):
        from_dict(DataConfig, {"dataset": "cifar100"})


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_round_trip_through_json(preset: str) -> None:
    config = build_config(PRESETS[preset])
    assert from_dict(RunConfig, to_dict(config)) == config


def test_probe_epochs_schedule() -> None:
    assert TrainConfig().probe_epochs() == (10, 80, 200)
    assert TrainConfig(epochs=2).probe_epochs() == (1, 2)
    assert TrainConfig(epochs=1, probe_at=(0.05, 1.0)).probe_epochs() == (1,)


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        ({"train": {"learning_rate": 0.1}}, "unknown TrainConfig"),
        ({"optim": {}}, "unknown RunConfig"),
        ({"train": {"epochs": "ten"}}, "epochs"),
        ({"train": {"epochs": 0}}, "epochs"),
        ({"train": {"batch_size": 1}}, "batch_size"),
        ({"train": {"method": "byol"}}, "method"),
        ({"train": {"dropout_p": 1.5}}, "dropout_p"),
        ({"train": {"temperature": 0.0}}, "temperature"),
        ({"train": {"probe_at": [0.0]}}, "probe_at"),
        ({"viewmaker": {"budget": -0.1}}, "budget"),
        ({"probe": {"milestones": [1.2]}}, "milestones"),
        ({"data": {"overlay_strength": -1.0}}, "overlay_strength"),
        ({"data": {"num_workers": -1}}, "num_workers"),
        ({"data": {"train_size": 0}}, "train_size"),
    ],
)
def test_invalid_configs_raise_naming_the_field(layer: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_config(layer)


def test_layers_merge_later_wins() -> None:
    config = build_config(PRESETS["smoke"], {"train": {"epochs": 3}}, {"data": {"dataset": "randbit"}})
    assert config.train.epochs == 3 and config.train.width == 8 and config.data.dataset == "randbit"
    assert config.probe == ProbeConfig(epochs=5)
