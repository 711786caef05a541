"""Nothing lost: a process killed inside any result-file write leaves the old file or the new one, whole.

Each writer runs in a forked child that is killed with SIGKILL (no cleanup, no ``finally``) at a
chosen moment of :mod:`featuredrop.atomic`: inside the write (at the fsync of the finished bytes)
or just before the rename. The parent then reads what is on disk. And a corrupt latest checkpoint
falls back to the one before it and resumes to the same final metrics as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest
import torch

import featuredrop.atomic
from deep_experiments.run.checkpoint import (
    export_backbone,
    load_backbone,
    previous_checkpoint,
    resume_state,
    save_checkpoint,
)
from deep_experiments.run.folder import RunFolder
from deep_experiments.run.train import train
from featuredrop.atomic import atomic_open, atomic_write, check_output_dir
from featuredrop.config import save_json
from linear_theory.sweep import SweepConfig, run_sweep_rows, sweep_rows
from tests.deep.test_train import _records, tiny

matplotlib.use("Agg")


def killed_at(step: str, nth: int, write: Callable[[], None]) -> None:
    """Run ``write`` in a forked child that SIGKILLs itself at the ``nth`` ``os.fsync``/``os.replace`` call."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            calls = {"n": 0}
            real = getattr(os, step)

            def bomb(*args: object) -> object:
                calls["n"] += 1
                if calls["n"] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(*args)

            setattr(featuredrop.atomic.os, step, bomb)
            write()
        finally:
            os._exit(3)  # the write finished without reaching the kill: the parent's assertion fails
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended with {status}"


MOMENTS = [("fsync", 1), ("replace", 1)]  # inside the write (bytes written, not yet durable) / before the rename


def _assert_no_partial(folder: Path, target: str) -> None:
    """Besides the target only a hidden temporary file of the killed write may be there."""
    assert all(p.name == target or p.name.startswith(f".{target}.tmp-") for p in folder.iterdir())


@pytest.mark.parametrize("step,nth", MOMENTS)
def test_config_and_probe_json(tmp_path: Path, step: str, nth: int) -> None:
    path = tmp_path / "probe.json"
    save_json(path, {"fast": {"task_a": 0.5}})
    old = path.read_bytes()
    killed_at(step, nth, lambda: save_json(path, {"fast": {"task_a": 0.9}, "big": list(range(100000))}))
    assert path.read_bytes() == old
    _assert_no_partial(tmp_path, "probe.json")


@pytest.mark.parametrize("step,nth", MOMENTS)
def test_metrics_rewrite_on_resume(tmp_path: Path, step: str, nth: int) -> None:
    folder = RunFolder(tmp_path)
    log = folder.open_metrics()
    for epoch in range(1, 6):
        log.write({"kind": "train", "epoch": epoch, "loss": 1.0 / epoch})
        log.write({"kind": "fast_probe", "epoch": epoch, "task_a": 0.1 * epoch})
    log.close()
    old = folder.read_metrics()
    killed_at(step, nth, lambda: folder.truncate_metrics(3))
    assert folder.read_metrics() == old  # all 10 records: nothing lost
    folder.truncate_metrics(3)
    assert folder.read_metrics() == old[:6]


def test_metrics_are_not_rewritten_when_nothing_is_dropped(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    log = folder.open_metrics()
    log.write({"kind": "train", "epoch": 1})
    log.close()
    before = folder.metrics.stat().st_mtime_ns, folder.metrics.stat().st_ino
    folder.truncate_metrics(1)
    assert (folder.metrics.stat().st_mtime_ns, folder.metrics.stat().st_ino) == before


@pytest.mark.parametrize("step,nth", MOMENTS)
def test_checkpoint_keeps_the_previous_one(tmp_path: Path, step: str, nth: int) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1, "modules": {"encoder": {"w": torch.ones(3)}}})
    killed_at(step, nth, lambda: save_checkpoint(path, {"epoch": 2, "modules": {"encoder": {"w": torch.ones(99999)}}}))
    state = resume_state(path)  # the latest write died: the run resumes from epoch 1, not from scratch
    assert state is not None and state["epoch"] == 1


@pytest.mark.parametrize("step,nth", MOMENTS)
def test_backbone(tmp_path: Path, step: str, nth: int) -> None:
    from deep_experiments.models import build_encoder
    from deep_experiments.normalize import Normalize

    path = tmp_path / "backbone.pt"
    encoder, normalize = build_encoder("resnet18", 3, 8, 4, 32), Normalize(3)
    export_backbone(path, encoder, normalize, "c+digits")
    old = path.read_bytes()
    with torch.no_grad():
        next(encoder.parameters()).add_(1.0)
    killed_at(step, nth, lambda: export_backbone(path, encoder, normalize, "c+digits"))
    assert path.read_bytes() == old
    load_backbone(path)


@pytest.mark.parametrize("step,nth", [("fsync", 1), ("replace", 1), ("replace", 2)])
def test_sweep_csv_and_config(tmp_path: Path, step: str, nth: int) -> None:
    """Killed while writing the CSV or the config: config.json is there only beside the CSV it describes."""
    old_config, new_config = SweepConfig(ratio=(0.5, 0.5, 1)), SweepConfig(ratio=(0.1, 1.0, 40))
    run_sweep_rows(old_config, sweep_rows(old_config), tmp_path)
    old_csv = (tmp_path / "sweep.csv").read_bytes()
    rows = sweep_rows(new_config)
    killed_at(step, nth, lambda: run_sweep_rows(new_config, rows, tmp_path))
    csv_now = (tmp_path / "sweep.csv").read_bytes()
    assert csv_now == old_csv or len(csv_now.splitlines()) == 1 + 40 * 20  # whole, old or new
    if (tmp_path / "config.json").exists():
        saved = json.loads((tmp_path / "config.json").read_text())["config"]
        assert (saved["ratio"], csv_now == old_csv) in (([0.5, 0.5, 1], True), ([0.1, 1.0, 40], False))


@pytest.mark.parametrize("step,nth", [("fsync", 1), ("replace", 3), ("replace", 4)])
def test_figure_files(tmp_path: Path, step: str, nth: int) -> None:
    from matplotlib.figure import Figure

    from paper_figures.io import load_table, save_figure

    def fig() -> Figure:
        f = Figure()
        f.add_subplot().plot([0, 1], [0, 1])
        return f

    save_figure(fig(), [{"x": 1.0}], tmp_path, "demo")
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("demo.")}
    killed_at(step, nth, lambda: save_figure(fig(), [{"x": float(i)} for i in range(5000)], tmp_path, "demo"))
    for name, data in old.items():  # every file is whole: the old one or the new one
        now = (tmp_path / name).read_bytes()
        if now != data:
            assert name.endswith((".png", ".pdf", ".csv")) or len(load_table(tmp_path / name)) == 5000
    assert len(load_table(tmp_path / "demo.json")) in (1, 5000)


@pytest.mark.parametrize("step,nth", MOMENTS)
def test_infonce_run_cache(tmp_path: Path, step: str, nth: int) -> None:
    """The linear InfoNCE cache (figures/cache) is a result file too: whole, fsynced, old or new."""
    from linear_theory.infonce_runs import RunCache
    from linear_theory.simulate import SimulationConfig
    from linear_theory.two_block import TwoBlock

    model = TwoBlock().model(0.0, 4)
    cache = RunCache(tmp_path, SimulationConfig(steps=5))
    entry = {"probe_r2": [0.5, 0.5], "captured_strength": [1.0, 0.0], "final_loss": 1.0}  # a whole run's numbers
    cache.put_many({(model, 0): entry})
    assert cache.path is not None
    old = cache.path.read_bytes()
    big = {"probe_r2": [0.1] * 2, "captured_strength": [0.1] * 2, "final_loss": 0.1, "padding": [0.1] * 999}
    killed_at(step, nth, lambda: cache.put_many({(model, s): big for s in range(1, 50)}))
    assert cache.path.read_bytes() == old
    _assert_no_partial(tmp_path, cache.path.name)
    assert RunCache(tmp_path, SimulationConfig(steps=5)).get(model, 0) == entry


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.json"
    atomic_write(path, "old\n")
    path.chmod(0o640)

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(featuredrop.atomic.os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, "new\n")
    monkeypatch.undo()
    with pytest.raises(RuntimeError):
        with atomic_open(path) as fh:
            fh.write("half")
            raise RuntimeError("crash inside the block")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["config.json"]
    atomic_write(path, "new\n")
    assert path.read_text() == "new\n" and path.stat().st_mode & 0o777 == 0o640  # permissions kept


def test_check_output_dir(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "x", "--run")


def test_corrupt_latest_checkpoint_falls_back_and_resumes_to_the_same_metrics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny("c+shapes", "expert", epochs=3, size=8, probe_at=[0.34, 1.0])
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["test"])
    cut = tmp_path / "cut"
    train(config, cut, device="cpu", progress=False, stop_after=2, argv=["test"])
    latest = cut / "checkpoint.pt"
    assert torch.load(previous_checkpoint(latest), weights_only=True)["epoch"] == 1
    latest.write_bytes(latest.read_bytes()[:1000])  # a torn write of epoch 2 (e.g. a full disk)
    capsys.readouterr()
    resumed = train(config, cut, device="cpu", progress=False, argv=["test"])
    warning = capsys.readouterr().err
    assert "checkpoint.pt" in warning and "resuming from" in warning and "epoch 1" in warning
    assert _records(resumed) == _records(full)
    assert (cut / "checkpoint.pt.corrupt").exists()
    assert [line.split(":")[0] for line in (cut / "command.txt").read_text().splitlines()] == ["train", "resume"]
    final = {k: v for k, v in torch.load(cut / "backbone.pt", weights_only=True)["state_dict"].items()}
    expected = torch.load(tmp_path / "full" / "backbone.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(final[k], expected[k]) for k in expected)
