"""End-to-end: tiny train + probe runs for every registered kind of views and dataset, resume, NaN stop, backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deep_experiments.configs import RunConfig, build_config
from deep_experiments.data import DATASETS, build_dataset
from deep_experiments.guards import NonFiniteLossError
from deep_experiments.run.checkpoint import load_backbone
from deep_experiments.run.probe_run import probe_run
from deep_experiments.run.train import train
from deep_experiments.views import METHODS
from deep_experiments.views.deshared import DESHARED_DATASETS
from featuredrop.config import to_dict
from tests.deep.audio_data import audio_data_dir


def tiny(dataset: str = "c+digits", method: str = "expert", epochs: int = 1, size: int = 16, **train: object) -> RunConfig:
    """``size`` (16) train and test images, batch 8 (2 steps per epoch), width 4, a 1-epoch paper probe."""
    return build_config({
        "data": {"dataset": dataset, "train_size": size, "test_size": size,
                 **({"data_dir": audio_data_dir()} if dataset == "audio" else {})},
        "train": {"epochs": epochs, "batch_size": 8, "width": 4, "probe_at": [1.0], **train},
        "views": {"kind": method},
        "probe": {"epochs": 1, "batch_size": 8, "fast_max_iter": 50},
    })


def _records(records: list[dict]) -> list[dict]:
    """Metric records without wall-clock times."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


_PAIRS = [(d, m) for d in DATASETS for m in METHODS if m != "deshared" or d in DESHARED_DATASETS]
"""Every (dataset, method) a config accepts (de-shared overlays need a C+* dataset)."""


@pytest.mark.parametrize(("dataset", "method"), _PAIRS)
def test_train_and_probe_every_method_and_dataset(tmp_path: Path, dataset: str, method: str) -> None:
    records = train(tiny(dataset, method), tmp_path, device="cpu", progress=False, argv=["test"])
    kinds = [(r["kind"], r["epoch"]) for r in records]
    assert kinds == [("train", 1), ("fast_probe", 1)]
    assert records[0]["steps"] == 2 and ("viewmaker_loss" in records[0]) == (method == "viewmaker")
    result = probe_run(tmp_path, device="cpu", progress=False, argv=["test"])
    for protocol in ("fast", "paper"):
        assert set(result[protocol]) >= {"task_a", "task_b"}
        assert all(0 <= result[protocol][t] <= 1 for t in ("task_a", "task_b"))
    assert json.loads((tmp_path / "probe.json").read_text())["paper"] == result["paper"]
    assert {p.name for p in tmp_path.iterdir()} >= {"config.json", "command.txt", "metrics.jsonl", "checkpoint.pt",
                                                     "backbone.pt", "probe.json"}


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tiny("c+shapes", "viewmaker", epochs=2, size=8, probe_at=[0.5, 1.0])
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["test"])
    part = train(config, tmp_path / "cut", device="cpu", progress=False, stop_after=1, argv=["test"])
    assert [r["epoch"] for r in part] == [1, 1] and not (tmp_path / "cut" / "backbone.pt").exists()
    with (tmp_path / "cut" / "metrics.jsonl").open("a") as f:  # a record written after the last checkpoint
        f.write(json.dumps({"kind": "train", "epoch": 2, "loss": 0.0}) + "\n")
    resumed = train(config, tmp_path / "cut", device="cpu", progress=False, argv=["test"])
    assert _records(resumed) == _records(full)
    assert [r["kind"] for r in full] == ["train", "fast_probe", "train", "fast_probe"]
    a, b = load_backbone(tmp_path / "full" / "backbone.pt"), load_backbone(tmp_path / "cut" / "backbone.pt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert len((tmp_path / "cut" / "command.txt").read_text().splitlines()) == 2


def test_loader_workers_do_not_change_results(tmp_path: Path) -> None:
    """Items are seeded per (seed, split, epoch, index) and the order by one generator: 0 or 2 workers agree."""
    runs = []
    for workers in (0, 2):
        config = build_config(to_dict(tiny("c+digits", "dropout")), {"data": {"num_workers": workers}})
        runs.append(_records(train(config, tmp_path / str(workers), device="cpu", progress=False, argv=["test"])))
    assert runs[0] == runs[1]


def test_rerun_of_a_finished_run_changes_nothing_and_other_configs_are_refused(tmp_path: Path) -> None:
    config = tiny()
    first = train(config, tmp_path, device="cpu", progress=False, argv=["test"])
    assert train(config, tmp_path, device="cpu", progress=False, argv=["test"]) == first
    with pytest.raises(ValueError, match="different config"):
        train(tiny(epochs=2), tmp_path, device="cpu", progress=False, argv=["test"])


def test_backbone_round_trip(tmp_path: Path) -> None:
    train(tiny("randbit"), tmp_path, device="cpu", progress=False, argv=["test"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    model = load_backbone(tmp_path / "backbone.pt")
    assert not model.training and model.in_channels == 6 and model.width == 4
    for key, value in model.state_dict().items():
        assert torch.equal(value, state["modules"]["encoder"][key]), key
    meta = torch.load(tmp_path / "backbone.pt", weights_only=True)
    assert meta["normalization"] == {"mean": [0.5], "std": [0.5], "shared_channels": 5}
    with torch.no_grad():
        assert model(torch.rand(2, 6, 28, 28)).shape == (2, 128)


class _NaNImages(torch.utils.data.Dataset):
    """A dataset whose images are all NaN (same interface as TwoTaskDataset for the expert method)."""

    def __init__(self, dataset) -> None:  # noqa: ANN001
        self.dataset, self.spec = dataset, dataset.spec

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):  # noqa: ANN204
        image, a, b = self.dataset[i]
        return torch.full_like(image, float("nan")), a, b

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def at_strength(self, overlay_strength: float) -> _NaNImages:
        return _NaNImages(self.dataset.at_strength(overlay_strength))


def test_non_finite_loss_stops_the_run_naming_the_step(tmp_path: Path) -> None:
    def poisoned(*args: object, **kwargs: object) -> _NaNImages:
        return _NaNImages(build_dataset(*args, **kwargs))  # type: ignore[arg-type]

    with pytest.raises(NonFiniteLossError, match="epoch 1 step 1"):
        train(tiny(), tmp_path, device="cpu", progress=False, argv=["test"], dataset_builder=poisoned)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_train_size_must_cover_a_batch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch size"):
        train(tiny(batch_size=32), tmp_path, device="cpu", progress=False, argv=["test"])


def test_timings_say_where_the_time_went_and_change_no_number(tmp_path: Path) -> None:
    """Every part of a run's time is counted (each > 0), within the call's wall time; the records equal an untimed run's."""
    import time

    from deep_experiments.run.train import Timings

    times = Timings()
    started = time.perf_counter()
    timed = train(tiny(epochs=2), tmp_path / "timed", device="cpu", progress=False, timings=times)
    wall = time.perf_counter() - started
    parts = [times.startup, times.data, times.views, times.steps, times.probes, times.checkpoints]
    assert all(part > 0 for part in parts) and sum(parts) <= wall
    assert times.line().startswith("time: startup ") and times.line().endswith(f"; total {sum(parts):.1f} s")
    times.extra["final probe"] = 1.25
    assert "checkpoints" in times.line() and ", final probe 1.2 s; total" in times.line()
    plain = train(tiny(epochs=2), tmp_path / "plain", device="cpu", progress=False)
    assert _records(timed) == _records(plain)
