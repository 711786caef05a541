"""scripts/compare_runs.py: the same command run twice is the same run; a changed loss or probe is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep_experiments.configs import PRESETS, build_config
from deep_experiments.run.probe_run import probe_run
from deep_experiments.run.train import train
from tests.scripts import load_script

compare_runs = load_script("compare_runs")


def _tiny(online: bool):  # noqa: ANN202
    return build_config(PRESETS["randbits-colab"], {
        "data": {"digit_source": "sklearn", "train_size": 16, "test_size": 16, "randbit_bits": 3},
        "train": {"epochs": 2, "batch_size": 8, "width": 4, "probe_at": [0.5, 1.0]},
        "probe": {"fast_max_iter": 50, "online_head": online}})


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same run without and with the online head (which never changes the encoder)."""
    root = tmp_path_factory.mktemp("compare")
    for name, online in (("old", False), ("new", True)):
        train(_tiny(online), root / name, device="cpu", progress=False, argv=["t"])
        probe_run(root / name, device="cpu", progress=False, argv=["t"])
    return root / "old", root / "new"


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("metrics.jsonl", "probe.json"):
        (dst / name).write_text((src / name).read_text())
    return dst


def test_the_same_run_twice_is_identical(pair: tuple[Path, Path], capsys) -> None:  # noqa: ANN001
    """Same command, one with --online-head: training and probes identical, the head's records named as one-sided."""
    assert compare_runs.main([str(pair[0]), str(pair[1])]) == 0
    out = capsys.readouterr().out
    assert "training identical: 2 epochs" in out and "probes identical" in out and "online_head" in out


def test_a_changed_loss_is_a_training_difference(pair: tuple[Path, Path], tmp_path: Path) -> None:
    new = _copy(pair[1], tmp_path / "new")
    records = [json.loads(line) for line in (new / "metrics.jsonl").read_text().splitlines()]
    last = max(i for i, r in enumerate(records) if r["kind"] == "train")
    records[last]["loss"] = records[last]["loss"] * (1 + 1e-15) + 1e-300  # the last bit
    (new / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    code, lines = compare_runs.compare(pair[0], new)
    assert code == 3 and "epoch 2: loss" in lines[0]


def test_a_changed_probe_is_reported_with_its_size(pair: tuple[Path, Path], tmp_path: Path) -> None:
    new = _copy(pair[1], tmp_path / "new")
    probe = json.loads((new / "probe.json").read_text())
    probe["fast"]["task_a"] += 0.0625
    (new / "probe.json").write_text(json.dumps(probe))
    code, lines = compare_runs.compare(pair[0], new)
    assert code == 1 and lines[0].startswith("training identical")
    assert "largest difference 0.0625 (probe.json fast, task_a" in lines[-1]


def _edit_records(folder: Path, edit) -> None:  # noqa: ANN001
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in edit(records)))


def test_a_nan_probe_against_a_number_is_a_difference(pair: tuple[Path, Path], tmp_path: Path) -> None:
    new = _copy(pair[1], tmp_path / "new")
    probe = json.loads((new / "probe.json").read_text())
    probe["fast"]["task_a"] = float("nan")
    (new / "probe.json").write_text(json.dumps(probe))
    code, lines = compare_runs.compare(pair[0], new)
    assert code == 1 and "largest difference inf" in lines[-1]


def test_missing_or_shifted_probe_records_are_a_difference(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """Probes are paired by epoch: one fewer, or the same values logged at other epochs, is not "identical"."""
    fewer = _copy(pair[1], tmp_path / "fewer")
    _edit_records(fewer, lambda rs: [r for r in rs if not (r["kind"] == "fast_probe" and r["epoch"] == 1)])
    shifted = _copy(pair[1], tmp_path / "shifted")
    _edit_records(shifted, lambda rs: [{**r, "epoch": r["epoch"] + 7} if r["kind"] == "fast_probe" else r for r in rs])
    for folder in (fewer, shifted):
        code, lines = compare_runs.compare(pair[0], folder)
        assert code == 1 and "fast_probe records at epochs" in lines[-1]


def test_probes_with_no_number_in_common_are_not_identical(pair: tuple[Path, Path], tmp_path: Path) -> None:
    new = _copy(pair[1], tmp_path / "new")
    probe = json.loads((new / "probe.json").read_text())
    probe["fast"] = {"renamed": probe["fast"]["task_a"]}
    (new / "probe.json").write_text(json.dumps(probe))
    code, lines = compare_runs.compare(pair[0], new)
    assert code == 1 and "no number in common in probe.json fast" in lines[-1]


def test_a_folder_without_probe_is_refused(pair: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as stop:
        compare_runs.main([str(pair[0]), str(tmp_path)])
    assert stop.value.code == 2 and "not a finished run folder" in capsys.readouterr().err
