"""The occlusion control: fast probes repeated on overlay-free and full-overlay images of the same bases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deep_experiments.configs import ProbeConfig, build_config
from deep_experiments.data import build_dataset
from deep_experiments.overlay_control import (
    OVERLAY_CONTROLS,
    ProbeSets,
    build_probe_sets,
    probe_with_controls,
)


def _config(strength: float, controls: bool = True):  # noqa: ANN202
    return build_config({"data": {"dataset": "c+shapes", "train_size": 16, "test_size": 8,
                                  "overlay_strength": strength},
                         "probe": {"overlay_controls": controls}, "train": {"seed": 3}})


def _splits(config):  # noqa: ANN001, ANN202
    return (build_dataset(config.data, "train", config.train.seed), build_dataset(config.data, "test", config.train.seed))


def test_controls_are_the_same_bases_at_fixed_strengths() -> None:
    """A run at strength 0.5 gets both controls: strength 0 shows the bare base image, strength 1 the overlay."""
    config = _config(0.5)
    own = _splits(config)
    sets = build_probe_sets(config, own)
    assert set(sets.controls) == set(OVERLAY_CONTROLS)
    base = own[0].with_base()
    for name, strength in OVERLAY_CONTROLS.items():
        train, test = sets.controls[name]
        assert train.overlay_strength == strength and test.overlay_strength == strength
        assert len(train) == len(own[0]) and len(test) == len(own[1])
    free, full = sets.controls["overlay_free"][0], sets.controls["full_overlay"][0]
    for i in range(len(free)):
        image, label_a, label_b = free[i]
        assert torch.equal(image, base[i][3]) and (label_a, label_b) == own[0][i][1:]
        assert not torch.equal(full[i][0], base[i][3])


@pytest.mark.parametrize(("strength", "reused"), [(0.0, "overlay_free"), (1.0, "full_overlay")])
def test_a_control_at_the_runs_own_strength_is_not_rebuilt(strength: float, reused: str) -> None:
    sets = build_probe_sets(_config(strength), _splits(_config(strength)))
    assert sets.controls[reused] is None
    assert all(split is not None for name, split in sets.controls.items() if name != reused)


def test_controls_off() -> None:
    config = _config(1.0, controls=False)
    assert build_probe_sets(config, _splits(config)).controls == {}


class _Items(torch.utils.data.Dataset):
    """Task A is channel 0's brightness; with ``scramble`` the images no longer follow label A."""

    def __init__(self, n: int, seed: int, scramble: bool = False) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = torch.randint(0, 2, (n,), generator=g)
        self.b = torch.randint(0, 2, (n,), generator=g)
        shown = torch.randint(0, 2, (n,), generator=g) if scramble else self.a
        self.images = 0.1 * torch.rand(n, 3, 8, 8, generator=g)
        self.images[:, 0] += 0.8 * shown.view(-1, 1, 1).float()
        self.images[:, 1] += 0.8 * self.b.view(-1, 1, 1).float()

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return self.images[i], int(self.a[i]), int(self.b[i])


class _MeanEncoder(nn.Module):
    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_each_control_is_fitted_and_tested_on_its_own_images() -> None:
    """Own images show task A (accuracy 1); the 'full_overlay' control hides it (chance); a reused control copies own."""
    own = (_Items(200, 0), _Items(100, 1))
    hidden = (_Items(200, 2, scramble=True), _Items(100, 3, scramble=True))
    sets = ProbeSets(own, {"full_overlay": hidden, "overlay_free": None})
    out = probe_with_controls(_MeanEncoder(), lambda x: x, sets, ProbeConfig(paper=False), torch.device("cpu"))
    assert out["task_a"] == 1.0 and out["task_b"] == 1.0
    assert out["overlay_free"] == {"task_a": out["task_a"], "task_b": out["task_b"]}
    assert out["full_overlay"]["task_b"] == 1.0
    assert 0.3 < out["full_overlay"]["task_a"] < 0.7


def test_augmentation_override_reaches_the_spec_and_rejects_unknown_policies() -> None:
    from deep_experiments.data import DataConfig, dataset_spec

    assert dataset_spec(DataConfig(dataset="c+letters")).expert_augmentation == "simclr"
    assert dataset_spec(DataConfig(dataset="c+letters", augmentation="crop_only")).expert_augmentation == "crop_only"
    assert dataset_spec(DataConfig(dataset="randbit")).expert_augmentation == "crop_only"
    with pytest.raises(ValueError, match="data.augmentation"):
        DataConfig(augmentation="none")


def test_test_overlay_redraws_are_new_overlays_on_the_same_bases() -> None:
    from deep_experiments.overlay_control import test_redraws

    config = _config(1.0)
    test = _splits(config)[1]
    copies = test_redraws(test, 3)
    assert [c.epoch for c in copies] == [1, 2] and test.epoch == 0
    bases = test.with_base()
    for copy in copies:
        for i in range(len(test)):
            image, label_a, _ = copy[i]
            assert label_a == test[i][1] and torch.equal(copy.with_base()[i][3], bases[i][3])
        assert any(not torch.equal(copy[i][0], test[i][0]) for i in range(len(test)))
    assert test_redraws(test, 1) == []


def test_probe_over_overlay_draws_is_the_mean_of_the_draws_and_draw_0_is_the_single_probe() -> None:
    """With k draws every accuracy is the mean of k scores of one fit; the first is the 1-draw probe's."""
    config = build_config({"data": {"dataset": "c+letters", "train_size": 64, "test_size": 64},
                           "probe": {"paper": False, "fast_max_iter": 50}, "train": {"seed": 1}})
    sets = build_probe_sets(config, _splits(config))
    torch.manual_seed(0)
    encoder = _MeanEncoder()
    single = probe_with_controls(encoder, lambda x: x, sets, config.probe, torch.device("cpu"))
    five = probe_with_controls(encoder, lambda x: x, sets, ProbeConfig(paper=False, fast_max_iter=50,
                                                                         test_overlay_draws=5), torch.device("cpu"))
    assert "draws" not in single
    for where in (five, five["overlay_free"], five["full_overlay"]):
        for task in ("task_a", "task_b"):
            assert len(where["draws"][task]) == 5
            assert where[task] == pytest.approx(sum(where["draws"][task]) / 5, abs=1e-12)
    assert five["draws"]["task_a"][0] == single["task_a"] and five["draws"]["task_b"][0] == single["task_b"]
    assert len(set(five["draws"]["task_b"])) > 1  # the letter differs between draws, so its score does
    assert len(set(five["overlay_free"]["draws"]["task_a"])) == 1  # no overlay: every draw is the same image
