"""A grid never passes off a finished run of another config as the run it asked for."""

from __future__ import annotations

from pathlib import Path

from deep_experiments.cli import main
from deep_experiments.run.grid import GridRun, run_grid

FLAGS = ("--dataset", "c+shapes", "--method", "expert", "--epochs", "1", "--train-size", "16", "--test-size", "16",
         "--batch-size", "8", "--width", "4", "--no-paper-probe", "--device", "cpu")


def test_a_finished_folder_of_another_config_is_not_skipped_as_done(tmp_path: Path) -> None:
    assert main(["run", *FLAGS, "--no-progress", "--out", str(tmp_path / "cell")]) == 0
    same, other = run_grid([GridRun("cell", FLAGS)], tmp_path)[0], run_grid([GridRun("cell", (*FLAGS, "--loss", "swd"))],
                                                                           tmp_path)[0]
    assert same.status.startswith("skipped") and same.probe is not None
    assert other.probe is None and other.status.startswith("FAILED") and "another config" in other.status
