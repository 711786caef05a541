"""The deep arm's ``--loss``: NT-Xent by default (old configs unchanged), or a generalized loss of Chen et al. 2021."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.cli import main
from deep_experiments.configs import RunConfig, TrainConfig
from deep_experiments.models.resnet import ResNet18
from deep_experiments.run.folder import RunFolder
from deep_experiments.run.learner import ContrastiveLearner
from deep_experiments.seeds import seeded_init
from deep_experiments.views import ExpertViews
from featuredrop.config import from_dict, to_dict
from featuredrop.losses import generalized_contrastive, nt_xent
from paper_figures.randbits import RandBitsRun


def test_default_is_nt_xent_and_old_configs_load() -> None:
    """A train section written before the field existed loads with loss = nt_xent (today's behaviour)."""
    old = to_dict(TrainConfig())
    del old["loss"], old["loss_weight"]
    assert from_dict(TrainConfig, old) == TrainConfig() and TrainConfig().loss == "nt_xent"
    with pytest.raises(ValueError, match="loss"):
        from_dict(TrainConfig, {"loss": "barlow"})
    with pytest.raises(ValueError, match="loss_weight"):
        TrainConfig(loss="swd", loss_weight=-1.0)


@pytest.mark.parametrize("family", ["nt_xent", "decoupled", "swd"])
def test_learner_uses_the_family_and_its_step_lowers_the_loss(family: str) -> None:
    with seeded_init(1):
        encoder = ResNet18(3, 16, 4)
    opt = torch.optim.SGD(encoder.parameters(), lr=1e-3, momentum=0.9)
    learner = ContrastiveLearner(encoder, ExpertViews(ExpertAugment(3, 16)), opt, 0.5, "symmetric", family)
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))

    def loss_at(seed: int) -> float:
        with torch.no_grad():
            return float(learner.loss(x, None, torch.Generator().manual_seed(seed)))

    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # the same views and draws, by hand
        v1, v2 = learner.views(x, None, g), learner.views(x, None, g)
        z1, z2 = encoder(torch.cat([v1, v2])).chunk(2)
        want = nt_xent(z1, z2, 0.5) if family == "nt_xent" else generalized_contrastive(
            z1, z2, family, temperature=0.5, generator=g)
    before = loss_at(5)
    assert before == pytest.approx(float(want), rel=1e-5)
    learner.step(x, None, torch.Generator().manual_seed(5))
    assert loss_at(5) < before


def test_cli_loss_flag_smoke_run(tmp_path: Path) -> None:
    """``--loss swd`` trains a tiny run end to end and is saved in config.json."""
    out = tmp_path / "run"
    argv = ["run", "--dataset", "randbit", "--method", "expert", "--epochs", "1", "--train-size", "16",
            "--test-size", "16", "--batch-size", "8", "--width", "4", "--no-paper-probe", "--device", "cpu",
            "--no-progress", "--loss", "swd", "--loss-weight", "2", "--out", str(out)]
    assert main(argv) == 0
    saved = from_dict(RunConfig, {k: v for k, v in json.loads((out / "config.json").read_text()).items()})
    assert (saved.train.loss, saved.train.loss_weight) == ("swd", 2.0)
    assert RandBitsRun.read(RunFolder(out)) is None  # figure 8 (the colab's NT-Xent table) leaves it out


def test_randbits_grid_script_passes_the_loss() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from randbits_colab import runs

    grid = runs([5], [0.1], [0.5], [5], 0.1, [0], 10, ".data", "decoupled")
    assert all(r.flags[-2:] == ("--loss", "decoupled") for r in grid)
    assert "--loss" not in runs([5], [0.1], [0.5], [5], 0.1, [0], 10, ".data")[0].flags


def test_randbits_grid_script_passes_the_online_head_and_it_resolves(tmp_path: Path) -> None:
    """--online-head reaches every run's flags, and each run's flags build a config with the head on (the data
    folder only has to exist: a fresh clone has no .data)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from randbits_colab import runs

    from deep_experiments.run.grid import check_runs

    grid = runs([0, 5], [0.1], [0.5], [5], 0.1, [0], 10, str(tmp_path), "nt_xent", online_head=True)
    assert grid and all("--online-head" in r.flags for r in grid)
    assert not any("--online-head" in r.flags for r in runs([5], [0.1], [0.5], [5], 0.1, [0], 10, ".data"))
    check_runs(grid)  # the deep CLI accepts them (a refused flag raises ValueError)


def test_randbits_grid_script_passes_the_colab_recipe_options(tmp_path: Path) -> None:
    """--convn-padding, --batchnorm, --view-forwards, --normalization and --data-order reach every run's flags and
    build configs with them (defaults add no flag)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import randbits_colab

    from deep_experiments.cli import build_parser, config_from_args

    calls: list[list] = []
    argv = ["--data-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--bits", "5", "--temperatures", "0.1",
            "--dropouts", "0.5", "--dropout-bits", "5", "--convn-padding", "valid", "--batchnorm", "keras",
            "--view-forwards", "separate", "--normalization", "none", "--data-order", "fixed"]
    original = randbits_colab.run_grid
    randbits_colab.run_grid = lambda grid, out, jobs, report: calls.append(grid) or []
    try:
        assert randbits_colab.main(argv) == 0
        assert randbits_colab.main(argv[:12]) == 0  # the defaults
    finally:
        randbits_colab.run_grid = original
    changed, plain = calls
    assert changed and len(changed) == len(plain)
    for run in changed:
        config = config_from_args(build_parser().parse_args(["run", *run.flags, "--out", "x"]))
        assert (config.train.convn_padding, config.train.batchnorm, config.train.view_forwards,
                config.data.normalization, config.train.data_order) == ("valid", "keras", "separate", "none", "fixed")
    for run in plain:
        assert not {"--convn-padding", "--batchnorm", "--view-forwards", "--normalization", "--data-order"} & set(run.flags)


def test_randbits_grid_script_defaults_are_the_package_defaults() -> None:
    """Each recipe option of the script has the package's default and exactly the config's choices, so leaving a
    flag out runs what the package runs."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import randbits_colab

    from deep_experiments.configs import COLAB_RECIPE_OPTIONS, option_default

    script = randbits_colab.build_parser()
    for section, name in COLAB_RECIPE_OPTIONS:
        flag = f"--{name.replace('_', '-')}"
        assert script.get_default(name) == option_default(section, name), flag
