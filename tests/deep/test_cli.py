"""CLI: bad options fail fast with one line and status 2; layering of preset, file and flags; a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deep_experiments.cli import build_parser, config_from_args, main

REPO = Path(__file__).resolve().parents[2]


def _fails_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str], match: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def test_unknown_option_in_a_subprocess_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "deep_experiments", "train", "--out", str(tmp_path / "r"), "--bogus", "1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--bogus" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "--out", "X", "--epochs", "-1"], "epochs"),
        (["train", "--out", "X", "--epochs", "abc"], "--epochs"),
        (["train", "--out", "X", "--method", "simsiam"], "method"),
        (["train", "--out", "X", "--dataset", "mnist"], "dataset"),
        (["train", "--out", "X", "--dropout-p", "2"], "dropout.p"),
        (["train", "--out", "X", "--device", "tpu"], "device"),
        (["train", "--out", "X", "--preset", "huge"], "preset"),
        (["train", "--out", "X", "--probe-at", "a,b"], "--probe-at"),
        (["train", "--out", "X", "--stop-after", "0"], "stop_after"),
        (["train", "--epochs", "1"], "--out"),
        (["train", "--out", "X", "--epoch", "1"], "--epoch"),  # no abbreviations
        (["fit", "--out", "X"], "fit"),
        (["probe", "--run", "NOPE"], "not a run folder"),
        (["probe", "--run", "NOPE", "--dataset", "c+digits"], "--dataset"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str], match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _fails_with_one_line(argv, capsys, match)
    assert not (tmp_path / "X").exists()


def test_config_file_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"epochs": 2, "warmup": 5}}))
    _fails_with_one_line(["train", "--out", str(tmp_path / "r"), "--config", str(bad)], capsys, "warmup")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    _fails_with_one_line(["train", "--out", str(tmp_path / "r"), "--config", str(broken)], capsys, "invalid JSON")
    _fails_with_one_line(["train", "--out", str(tmp_path / "r"), "--config", str(tmp_path / "none.json")], capsys,
                         "no such file")


def test_preset_then_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"epochs": 7, "width": 16}, "data": {"dataset": "c+letters"}}))
    args = build_parser().parse_args(
        ["train", "--out", "r", "--preset", "smoke", "--config", str(path), "--width", "4", "--probe-at", "0.5,1",
         "--no-paper-probe", "--download"]
    )
    config = config_from_args(args)
    assert (config.train.epochs, config.train.width, config.data.dataset) == (7, 4, "c+letters")
    assert config.data.train_size == 512 and config.train.probe_at == (0.5, 1.0)
    assert config.probe.paper is False and config.data.download is True


def test_run_command_trains_probes_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["run", "--dataset", "c+digits", "--method", "dropout", "--epochs", "1", "--train-size", "16",
            "--test-size", "16", "--batch-size", "8", "--width", "4", "--probe-epochs", "1", "--device", "cpu",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trained 1/1 epochs" in printed and "paper: task_a" in printed
    probe = json.loads((out / "probe.json").read_text())
    assert probe["method"] == "dropout" and probe["probe_config"]["epochs"] == 1
    saved = json.loads((out / "config.json").read_text())
    assert saved["views"] == {**saved["views"], "kind": "dropout", "dropout": {"p": 0.5}} and saved["format"] == 2
    assert main(["probe", "--run", str(out), "--no-paper-probe", "--device", "cpu", "--no-progress"]) == 0
    assert "paper" not in json.loads((out / "probe.json").read_text())
    assert len((out / "command.txt").read_text().splitlines()) == 3  # train, probe (of run), probe


@pytest.mark.parametrize(("extra", "config_file", "expected"), [
    ([], None, 0.1),                                          # the preset's NT-Xent temperature
    (["--loss", "decoupled"], None, 1.0),                     # Chen et al.'s decoupled recipe
    (["--loss", "decoupled", "--temperature", "0.3"], None, 0.3),
    (["--loss", "decoupled"], {"train": {"temperature": 0.5}}, 0.5),
    ([], {"train": {"loss": "decoupled"}}, 1.0),
    (["--loss", "swd"], None, 0.1),
])
def test_decoupled_loss_takes_the_recipe_temperature_unless_one_is_given(tmp_path: Path, extra, config_file,
                                                                          expected) -> None:
    """``--loss decoupled`` runs at tau = 1 (Chen et al.) unless --temperature or --config sets one."""
    argv = ["train", "--out", "r", "--preset", "cpu", *extra]
    if config_file is not None:
        path = tmp_path / "c.json"
        path.write_text(json.dumps(config_file))
        argv += ["--config", str(path)]
    assert config_from_args(build_parser().parse_args(argv)).train.temperature == expected


def test_choices_come_from_the_registries() -> None:
    """``--method`` lists the registered kinds of views, ``--dataset`` the dataset recipes."""
    from deep_experiments.data import DATASETS
    from deep_experiments.views import METHODS

    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    choices = {a.option_strings[0]: a.choices for a in train._actions if a.option_strings}
    assert tuple(choices["--method"]) == METHODS and tuple(choices["--dataset"]) == DATASETS
    args = build_parser().parse_args(["train", "--out", "r", "--method", "viewmaker", "--viewmaker-lr", "0.01"])
    config = config_from_args(args)
    assert config.views.kind == "viewmaker" and config.views.viewmaker.lr == 0.01


def test_a_resumed_or_finished_run_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "run")
    tiny = ["run", "--preset", "smoke", "--train-size", "16", "--test-size", "16", "--batch-size", "8", "--epochs", "2",
            "--width", "4", "--no-paper-probe", "--device", "cpu", "--no-progress", "--out", out]
    assert main([*tiny, "--stop-after", "1"]) == 0
    assert "epochs done before" not in capsys.readouterr().out  # a new run
    assert main(tiny) == 0
    assert "1/2 epochs done before this call (resuming)" in capsys.readouterr().out
    assert main(tiny) == 0
    text = capsys.readouterr().out
    assert "2/2 epochs done before this call (already complete)" in text and "final probe (fast probe only)" in text


@pytest.mark.parametrize("argv", [
    ["--method", "expert", "--dropout-p", "0"],  # the grids pass their p to every kind (see cli._APPLIES_TO)
    ["--method", "expert", "--viewmaker-lr", "0.001"],  # restates the value every run has
    ["--method", "dropout", "--dropout-p", "0.3"],
    ["--method", "viewmaker", "--viewmaker-lr", "0.01"],
    ["--dataset", "randbit", "--randbit-bits", "3"],
])
def test_an_option_is_taken_where_it_applies_or_where_it_changes_nothing(tmp_path: Path, argv: list[str]) -> None:
    """The refusal of options a run does not read (tests/test_bad_inputs.py) leaves the grids' commands alone."""
    args = build_parser().parse_args(["run", "--preset", "smoke", "--out", str(tmp_path / "r"), *argv])
    config = config_from_args(args)
    assert config.views.kind in ("expert", "dropout", "viewmaker")
