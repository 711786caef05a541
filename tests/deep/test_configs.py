"""Typed configs: paper defaults, strict loading, validation, presets, derived schedules, old formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep_experiments.configs import (
    CONFIG_FORMAT,
    PRESETS,
    ProbeConfig,
    RunConfig,
    TrainConfig,
    build_config,
    migrate,
)
from deep_experiments.data import DATASETS, DataConfig
from deep_experiments.run.folder import RunFolder, find_runs
from deep_experiments.views import METHODS, VIEW_KINDS, ViewmakerConfig, ViewsConfig
from featuredrop.config import from_dict, to_dict

RESULTS = Path(__file__).resolve().parents[2] / "results"


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
        ({"views": {"kind": "byol"}}, "method"),
        ({"views": {"dropout": {"p": 1.5}}}, "dropout.p"),
        ({"views": {"dropout": {"q": 0.5}}}, "unknown DropoutConfig"),
        ({"train": {"method": "byol"}}, "method"),  # format 1, migrated
        ({"train": {"dropout_p": 1.5}}, "dropout.p"),
        ({"format": 3}, "format 3"),
        ({"train": {"temperature": 0.0}}, "temperature"),
        ({"train": {"probe_at": [0.0]}}, "probe_at"),
        ({"viewmaker": {"budget": -0.1}}, "budget"),
        ({"views": {"viewmaker": {"budget": -0.1}}}, "budget"),
        ({"views": {"viewmaker": {"width": 0}}}, "viewmaker.width"),
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


def test_views_config_has_one_section_per_registered_kind() -> None:
    views = ViewsConfig()
    assert views.kind == METHODS[0] and METHODS == tuple(VIEW_KINDS) == ("expert", "viewmaker", "dropout", "hierarchical", "deshared")
    for name, kind in VIEW_KINDS.items():
        assert isinstance(getattr(views, name), kind.config)
    assert build_config({"views": {"kind": "dropout", "dropout": {"p": 0.25}}}).views.selected().p == 0.25


def test_format_1_configs_migrate() -> None:
    old = {"train": {"method": "dropout", "dropout_p": 0.25, "epochs": 3}, "viewmaker": {"lr": 0.01}}
    assert migrate(old) == {"format": 2, "train": {"epochs": 3}, "views": {"kind": "dropout", "dropout": {"p": 0.25},
                                                              "viewmaker": {"lr": 0.01}}}
    assert old["train"]["method"] == "dropout"  # the input is left alone
    config = build_config(old)
    assert config.format == CONFIG_FORMAT and config.views.kind == "dropout" and config.views.dropout.p == 0.25
    assert config.views.viewmaker.lr == 0.01 and config.train.epochs == 3
    assert migrate(to_dict(config)) == to_dict(config)  # the current format passes unchanged
    assert to_dict(config)["format"] == CONFIG_FORMAT


@pytest.mark.parametrize("results", ["deep-cpu-smoke", "randbits-mnist-cpu"])
def test_committed_run_folders_load_in_the_current_format(results: str) -> None:
    """The committed results hold format-1 config.json files: each loads, with the same meaning."""
    runs = find_runs(RESULTS / results)
    assert len(runs) >= 10
    for run in runs:
        raw = json.loads(run.config.read_text())
        assert "format" not in raw
        config = run.load_config()
        assert config.views.kind == raw["train"]["method"] == run.read_probe().get("method", raw["train"]["method"])
        assert config.views.dropout.p == raw["train"]["dropout_p"]
        # fields added later (viewmaker.width) take their default, the value those runs used
        assert to_dict(config.views.viewmaker) == {**to_dict(ViewmakerConfig()), **raw["viewmaker"]}
        assert to_dict(config.data) == {**to_dict(DataConfig()), **raw["data"]}
        assert {k: v for k, v in to_dict(config.train).items() if k in raw["train"]} == {
            k: v for k, v in raw["train"].items() if k not in ("method", "dropout_p")}


def test_an_old_format_run_folder_resumes(tmp_path: Path) -> None:
    """prepare() accepts a format-1 config.json that means the same run (and leaves the file as it is)."""
    source = next(iter(find_runs(RESULTS / "deep-cpu-smoke")))
    folder = RunFolder(tmp_path / "run")
    folder.root.mkdir()
    text = source.config.read_text()
    folder.config.write_text(text)
    config = folder.load_config()
    folder.prepare(config, ["test"])
    assert folder.config.read_text() == text
    with pytest.raises(ValueError, match="different config"):
        folder.prepare(build_config(to_dict(config), {"views": {"kind": "viewmaker"}}), ["test"])
