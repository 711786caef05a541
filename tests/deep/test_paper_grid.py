"""scripts/paper_grid.py: calls with a time budget stop between epochs and the next call continues."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from deep_experiments.cli import main as cli_main
from deep_experiments.run.folder import RunFolder

from ..scripts import load_script

TINY = ["--epochs", "3", "--preset", "smoke", "--device", "cpu", "--datasets", "c+digits", "--methods", "expert",
        "--seeds", "0", "--extra", "--train-size", "16", "--test-size", "16", "--width", "4", "--batch-size", "8",
        "--no-paper-probe"]
EPOCH_S, PROBE_S = 10.0, 5.0


@pytest.fixture()
def grid(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The script with a fake clock: a call costs 10 s per epoch it trains and 5 s per probe; the CLI runs
    in this process (the real training, resume and probe of a tiny run)."""
    module = load_script("paper_grid")
    now = [0.0]
    calls: list[list[str]] = []

    def execute(command: Sequence[str], log: Path, timeout: float) -> int | None:
        args = list(command[3:])  # after "python -m deep_experiments"
        calls.append(args)
        folder = RunFolder(args[args.index("--out" if "--out" in args else "--run") + 1])
        before = module.done_epochs(folder)
        try:
            code = cli_main(args)
        except SystemExit as stop:
            code = stop.code
        now[0] += PROBE_S if args[0] == "probe" else EPOCH_S * (module.done_epochs(folder) - before)
        return code

    monkeypatch.setattr(module, "clock", lambda: now[0])
    monkeypatch.setattr(module, "execute", execute)
    module.calls, module.now = calls, now
    return module


def test_two_budgeted_calls_continue_where_the_first_stopped(grid, tmp_path: Path,  # noqa: ANN001
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = RunFolder(tmp_path / "c+digits" / "expert" / "seed0")
    assert grid.main(["--out", str(tmp_path), "--time-budget", "25", *TINY]) == 0
    out = capsys.readouterr().out
    # one epoch to measure (10 s), then one more fits in the 15 s left, a third does not
    assert [c[-1] for c in grid.calls] == ["1", "1"] and grid.now[0] == 20.0
    assert "time budget spent" in out and "c+digits/expert/seed0" in out and "2/3" in out
    assert grid.done_epochs(run) == 2 and run.checkpoint.exists() and not run.probe.exists()
    assert json.loads((tmp_path / "grid_timing.json").read_text()) == {"c+digits/expert": {"epoch_s": 10.0}}

    assert grid.main(["--out", str(tmp_path), "--time-budget", "100", *TINY]) == 0
    out = capsys.readouterr().out
    assert [c[0] for c in grid.calls[2:]] == ["train", "probe"] and grid.calls[2][-1] == "1"
    assert run.probe.exists() and "1/1 runs done" in out and "3/3" in out
    assert [r["epoch"] for r in run.read_metrics() if r["kind"] == "train"] == [1, 2, 3]
    labels = [line.split(":")[0] for line in run.command.read_text().splitlines()]
    assert labels == ["train", "resume", "resume", "probe"]

    assert grid.main(["--out", str(tmp_path), "--time-budget", "100", *TINY]) == 0  # nothing left to do
    assert len(grid.calls) == 4


def test_a_budget_too_small_for_a_known_epoch_starts_nothing(grid, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "grid_timing.json").write_text(json.dumps({"c+digits/expert": {"epoch_s": 30.0}}))
    assert grid.main(["--out", str(tmp_path), "--time-budget", "20", *TINY]) == 0
    assert grid.calls == []


def test_status_prints_the_table_and_bad_flags_are_refused(grid, tmp_path: Path,  # noqa: ANN001
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert grid.main(["--out", str(tmp_path), "--status", *TINY]) == 0
    assert "c+digits/expert/seed0  0/3     not started" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        grid.main(["--out", str(tmp_path), *TINY, "--lr", "-1"])
    assert stop.value.code == 2 and grid.calls == []


def test_a_relative_out_is_the_folder_under_the_callers_directory(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The calls run from the repository root, so a relative --out must reach them as an absolute path (it
    wrote into the repository's own folder before)."""
    module = load_script("paper_grid")
    commands: list[list[str]] = []
    monkeypatch.setattr(module, "execute", lambda command, log, timeout: commands.append(list(command)))  # "killed"
    monkeypatch.chdir(tmp_path)
    module.main(["--out", "grid", "--time-budget", "100", *TINY])
    out = commands[0][commands[0].index("--out") + 1]
    assert Path(out).is_absolute() and Path(out).is_relative_to(tmp_path / "grid"), out
