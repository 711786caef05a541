"""scripts/gpu_check.py: steps teed to logs, one step's failure or timeout keeps the others, a summary, the
run-folder verification; and its CPU smoke mode end to end with the slow steps left out."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from deep_experiments.configs import build_config
from deep_experiments.run.train import train

from ..scripts import load_script


@pytest.fixture(scope="module")
def check():  # noqa: ANN201
    return load_script("gpu_check")


def _py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_steps_are_teed_and_a_failure_or_timeout_keeps_the_others(check, tmp_path: Path) -> None:  # noqa: ANN001
    steps = [check.Step("first", _py("print('hello'); raise SystemExit(3)"), 30),
             check.Step("slow", _py("import time; print('started', flush=True); time.sleep(60)"), 1.5),
             check.Step("absent", None, 0, "nothing to run"),
             check.Step("last", _py("print('still ran')"), 30)]
    started = time.monotonic()
    outcomes = [check.run_step(s, i, tmp_path, started + 60, dict(os.environ)) for i, s in enumerate(steps, 1)]
    assert [o.status for o in outcomes] == ["failed", "timeout", "skipped", "ok"]
    assert outcomes[0].exit_code == 3 and outcomes[1].seconds < 30
    assert "hello" in (tmp_path / "01-first.log").read_text()
    assert "started" in (tmp_path / "02-slow.log").read_text()
    assert "nothing to run" in (tmp_path / "03-absent.log").read_text()
    assert "still ran" in (tmp_path / "04-last.log").read_text()
    assert not check.write_summary(tmp_path, outcomes, started, "test")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not summary["ok"] and [s["status"] for s in summary["steps"]] == ["failed", "timeout", "skipped", "ok"]
    assert "FAILED" in (tmp_path / "summary.txt").read_text()


def test_a_step_without_budget_left_is_skipped(check, tmp_path: Path) -> None:  # noqa: ANN001
    outcome = check.run_step(check.Step("late", _py("print(1)"), 30), 1, tmp_path, time.monotonic() + 2, {})
    assert outcome.status == "skipped" and "budget" in outcome.note


def test_steps_skip_an_absent_benchmark_and_use_the_cpu_in_smoke_mode(check, tmp_path: Path,  # noqa: ANN001
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    steps = {s.name: s for s in check.build_steps(tmp_path, True, 0)}
    assert tuple(steps) == check.STEPS
    assert steps["train"].command == steps["resume"].command and "--stop-after" in steps["train"].command
    assert all("cuda" not in s.command for s in steps.values() if s.command and s.name != "tests")
    monkeypatch.setattr(check, "ROOT", tmp_path)
    bench = {s.name: s for s in check.build_steps(tmp_path, False, 1)}["bench"]
    assert bench.command is None and "does not exist" in bench.note
    assert "gloo" in {s.name: s for s in check.build_steps(tmp_path, False, 1)}["torchrun"].note


def _tiny_run(folder: Path, stop_after: int | None, label: str) -> None:
    config = build_config({"data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
                           "train": {"epochs": 2, "batch_size": 8, "width": 4, "probe_at": [1.0]},
                           "probe": {"fast_max_iter": 50, "paper": False}})
    train(config, folder, device="cpu", progress=False, stop_after=stop_after, argv=[label])


def test_verify_reports_an_unfinished_run_and_passes_a_resumed_one(check, tmp_path: Path,  # noqa: ANN001
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_run(tmp_path, 1, "first")
    assert check.verify(tmp_path, 2) == 1
    out = capsys.readouterr().out
    assert "train epochs recorded [1], expected 1..2" in out and "no backbone.pt" in out
    _tiny_run(tmp_path, None, "again")
    (tmp_path / "probe.json").write_text("{}")
    assert check.verify(tmp_path, 2) == 0


def test_cpu_smoke_mode_writes_versions_and_a_summary(check, tmp_path: Path) -> None:  # noqa: ANN001
    """The script end to end in its CPU mode, with the steps that train or test left out (slow here)."""
    code = check.main([str(tmp_path), "--cpu-smoke", "--skip", "tests,distributed,bench,train,resume,verify,torchrun"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(s["name"], s["status"]) for s in summary["steps"]] == [("versions", "ok")] + [
        (name, "skipped") for name in check.STEPS[1:]]
    assert code == 0 and summary["ok"] and summary["mode"] == "cpu-smoke"
    assert sorted(p.name for p in tmp_path.glob("0*.log")) == [f"{i:02d}-{n}.log" for i, n in enumerate(check.STEPS, 1)]
    versions = json.loads((tmp_path / "versions.json").read_text())
    assert versions["torch"] and "cuda_available" in versions


def test_a_users_files_under_folder_are_never_deleted(check, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """FOLDER/train holding a user's file is refused with one line (exit 2) and kept; a skipped step's
    folder is not touched; a previous check's run folder is replaced."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("mine")
    only_versions = ["--cpu-smoke", "--skip", "tests,distributed,bench,resume,verify,torchrun"]
    with pytest.raises(SystemExit) as exc:
        check.main([str(tmp_path), *only_versions])
    assert exc.value.code == 2 and "notes.txt" in capsys.readouterr().err
    assert (tmp_path / "train" / "notes.txt").read_text() == "mine"
    all_but_versions = ["--cpu-smoke", "--skip", "tests,distributed,bench,train,resume,verify,torchrun"]
    assert check.main([str(tmp_path), *all_but_versions]) == 0  # train skipped: its folder is left alone
    assert (tmp_path / "train" / "notes.txt").exists()
    (tmp_path / "train" / "notes.txt").unlink()
    (tmp_path / "train" / "config.json").write_text("{}")  # a previous check's run
    (tmp_path / "torchrun").mkdir()
    (tmp_path / "torchrun" / "metrics.jsonl").write_text("OLD")
    check.main([str(tmp_path), "--cpu-smoke", "--skip", "tests,distributed,bench,train,resume,verify"])
    metrics = tmp_path / "torchrun" / "metrics.jsonl"
    assert not metrics.exists() or metrics.read_text() != "OLD"  # started afresh


def test_a_link_under_folder_is_never_followed(check, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """FOLDER/train as a symbolic link (to a user's folder) is refused, and what it points to is kept."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text("{}")  # looks like a run folder, but is reached through a link
    folder = tmp_path / "check"
    folder.mkdir()
    (folder / "train").symlink_to(mine)
    with pytest.raises(SystemExit) as exc:
        check.main([str(folder), "--cpu-smoke", "--skip", "tests,distributed,bench,resume,verify,torchrun"])
    assert exc.value.code == 2 and "train" in capsys.readouterr().err
    assert (mine / "config.json").exists()


def test_a_relative_folder_is_the_folder_under_the_callers_directory(check, tmp_path: Path,  # noqa: ANN001
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps run from the repository root, so a relative FOLDER must reach them as an absolute path (the
    steps wrote into the repository's own folder before)."""
    commands = []

    def fake(step, index, folder, deadline, env):  # noqa: ANN001, ANN202
        commands.append(step.command)
        return check.Outcome(step.name, "ok", 0, 0.0, "log")

    monkeypatch.setattr(check, "run_step", fake)
    monkeypatch.chdir(tmp_path)
    assert check.main(["gc", "--cpu-smoke"]) == 0
    paths = [Path(arg) for command in commands if command for arg in command if "gc" in Path(arg).parts]
    assert paths and all(p.is_absolute() and p.is_relative_to(tmp_path / "gc") for p in paths), paths
