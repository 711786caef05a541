"""The augmentation ladder: rows per step (paired by seed, Holm over the table), the figure, the table mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep_experiments.configs import build_config
from featuredrop.config import to_dict
from paper_figures.deep import DeepRun
from paper_figures.ladder import LadderConfig, ladder_rows, ladder_runs, read_shortcut
from tests.scripts import load_script


def _run(step: str, method: str, strength: float, seed: int, full: float, task_b: float = 0.2) -> DeepRun:
    fast = {"task_a": full, "task_b": task_b, "full_overlay": {"task_a": full, "task_b": task_b},
            "overlay_free": {"task_a": 0.8, "task_b": 0.04}}
    return DeepRun(Path(f"/r/{step}/c+letters/{method}/os{strength:g}_p0.5/seed{seed}"), "c+letters", method, strength,
                   0.5, seed, {"fast": fast}, step, "convn-32")


def test_rows_pair_by_seed_within_each_step_and_order_the_steps() -> None:
    runs = []
    for step, (control, expert, dropout) in {"simclr": (0.78, 0.78, 0.80), "crop_only": (0.76, 0.71, 0.79)}.items():
        for seed in range(3):
            runs += [_run(step, "expert", 0, seed, control + 0.01 * seed), _run(step, "expert", 1, seed, expert),
                     _run(step, "dropout", 1, seed, dropout + 0.002 * seed)]
    rows = ladder_rows(runs, LadderConfig())
    assert [r["step"] for r in rows] == ["crop_only", "simclr"]  # ladder order, not alphabetical
    crop = rows[0]
    assert crop["suppression"]["mean"] == pytest.approx(0.06)  # control (0.76, 0.77, 0.78) - expert 0.71
    assert crop["rescue"]["mean"] == pytest.approx(0.082)  # dropout (0.79, 0.792, 0.794) - expert 0.71
    assert crop["suppression"]["ci_low"] < 0.06 < crop["suppression"]["ci_high"]
    assert crop["rescue"]["significant"]  # tiny spread: survives Holm over the 4 differences
    assert rows[1]["suppression"]["mean"] == pytest.approx(0.01)
    assert all(r["suppression"]["p_holm"] >= r["suppression"]["p_value"] for r in rows)


def test_a_seed_twice_in_a_step_is_an_error() -> None:
    runs = [_run("crop_only", "expert", 1, 0, 0.7), _run("crop_only", "expert", 1, 0, 0.71)]
    with pytest.raises(ValueError, match="two runs"):
        ladder_rows(runs, LadderConfig())


def _write(root: Path, step: str, method: str, strength: float, seed: int, full: float) -> None:
    folder = root / step / "c+letters" / method / f"os{strength:g}_p0.5" / f"seed{seed}"
    folder.mkdir(parents=True)
    config = build_config({"data": {"dataset": "c+letters", "overlay_strength": strength, "augmentation": step},
                           "views": {"kind": method}, "train": {"seed": seed}})
    (folder / "config.json").write_text(json.dumps(to_dict(config)))
    fast = {"task_a": full, "task_b": 0.1, "full_overlay": {"task_a": full, "task_b": 0.1},
            "overlay_free": {"task_a": 0.8, "task_b": 0.04}}
    (folder / "probe.json").write_text(json.dumps({"fast": fast}))


def test_table_mode_reads_step_folders_and_the_shortcut_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    for seed, (c, e, d) in enumerate([(0.76, 0.70, 0.79), (0.77, 0.72, 0.80)]):
        _write(tmp_path, "crop_only", "expert", 0, seed, c)
        _write(tmp_path, "crop_only", "expert", 1, seed, e)
        _write(tmp_path, "crop_only", "dropout", 1, seed, d)
    _write(tmp_path, "crop_jitter", "expert", 1, 0, 0.75)
    (tmp_path / "overlay_shortcut.json").write_text(json.dumps({"rows": [{"policy": "crop_only", "retrieval": 0.77}]}))
    assert read_shortcut(tmp_path) == {"crop_only": 0.77}
    assert {r.augmentation for r in ladder_runs(tmp_path)} == {"crop_only", "crop_jitter"}
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+letters", "--ladder"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["| crop_only", "| crop_jitter"]
    assert rows[0][1] == "0,1" and rows[0][-1] == "0.770 |" and rows[1][-1] == "— |"
    assert rows[0][5].startswith("+0.055 [") and rows[0][6].startswith("+0.085 [")  # (0.06, 0.05), (0.09, 0.08)
    assert rows[1][5] == "—" and rows[1][3] == "0.750 (1 seed)"


def test_the_figure_is_drawn_with_its_table(tmp_path: Path) -> None:
    from paper_figures.registry import FigureContext, default_registry, render

    for seed, (c, e, d) in enumerate([(0.76, 0.70, 0.79), (0.77, 0.72, 0.80)]):
        for step in ("crop_only", "simclr"):
            _write(tmp_path / "res", step, "expert", 0, seed, c)
            _write(tmp_path / "res", step, "expert", 1, seed, e)
            _write(tmp_path / "res", step, "dropout", 1, seed, d)
    ctx = FigureContext(out=tmp_path / "figs", results=tmp_path / "res")
    outcome = render(default_registry()["deep_ladder"], ctx)
    assert outcome.status == "written", outcome.message
    table = json.loads(outcome.files["json"].read_text())
    records = [dict(zip(table["columns"], row)) for row in table["rows"]]
    assert [r["step"] for r in records] == ["crop_only", "simclr"]
    assert records[0]["suppression_mean"] == pytest.approx(0.055) and records[0]["rescue_mean"] == pytest.approx(0.085)
    empty = FigureContext(out=tmp_path / "figs2", results=tmp_path / "nothing")
    assert render(default_registry()["deep_ladder"], empty).status == "skipped"
