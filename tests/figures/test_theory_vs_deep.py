"""Figure 7 (paper_figures.theory_vs_deep): the calibration recovers a known linear model; the table is the runs'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paper_figures import theory_vs_deep as f7
from paper_figures.deep import find_runs
from paper_figures.io import load_table
from paper_figures.registry import FigureContext, default_registry, render
from tests.figures.test_deep_figures import _write_run

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
DROPOUTS = (0.1, 0.5, 0.9)
CONFIG = f7.TheoryVsDeepConfig(scale_points=80)


def _points(cal: f7.Calibration, xs, dropout: bool) -> list[f7.Point]:
    setting = CONFIG.setting
    out = []
    for task in f7.TASK_BLOCK:
        for x in xs:
            acc = cal.accuracy(setting, 1.0, x) if dropout else cal.accuracy(setting, x, 0.0)
            out.append(f7.Point(task, x, float(acc[task]), 0.01, 3))
    return out


@pytest.mark.parametrize(("scale", "rep_dim"), [(3.0, 4), (0.5, 6), (1.5, 2)])
def test_calibration_recovers_a_linear_model_and_predicts_its_dropout_curve(scale: float, rep_dim: int) -> None:
    """Deep points made by a known calibrated model are fitted exactly, and its dropout curve is predicted.

    The grid holds ``scale`` exactly (it is a grid point), so the fit must reach zero error; the
    prediction at unseen dropout values must then equal the true model's.
    """
    grid = CONFIG.scales()
    scale = float(grid[np.argmin(abs(grid - scale))])
    truth = f7.Calibration(scale, rep_dim, {"task_a": 0.3, "task_b": 0.1}, {"task_a": 0.5, "task_b": 0.8}, 0.0)
    fitted = f7.calibrate(_points(truth, STRENGTHS, dropout=False), CONFIG)
    assert fitted.fit_rmse < 1e-9
    for point in _points(truth, np.linspace(0.0, 0.95, 20), dropout=True):
        assert float(fitted.accuracy(CONFIG.setting, 1.0, point.x)[point.task]) == pytest.approx(point.mean, abs=1e-6)
    for o in np.linspace(0.0, 1.0, 9):  # panel (c): dropout 0.5 at every overlay strength
        want, got = truth.accuracy(CONFIG.setting, o, 0.5), fitted.accuracy(CONFIG.setting, o, 0.5)
        for task in f7.TASK_BLOCK:
            assert float(got[task]) == pytest.approx(float(want[task]), abs=1e-6)


def test_calibration_needs_a_strength_sweep() -> None:
    truth = f7.Calibration(1.0, 4, {"task_a": 0.3, "task_b": 0.1}, {"task_a": 0.5, "task_b": 0.8}, 0.0)
    with pytest.raises(ValueError, match="three overlay strengths"):
        f7.calibrate(_points(truth, (0.0, 1.0), dropout=False), CONFIG)


def _add_overlay_free(folder: Path, value: float) -> None:
    """Give a fake run the overlay-control probe (task A on overlay-free test images)."""
    import json

    probe = json.loads((folder / "probe.json").read_text())
    probe["fast"]["overlay_free"] = {"task_a": value, "task_b": 0.1}
    (folder / "probe.json").write_text(json.dumps(probe))


def test_table_holds_the_runs_the_calibration_and_its_prediction(tmp_path: Path) -> None:
    root = tmp_path / "r"
    free = {}
    for os_ in STRENGTHS:
        for seed in (0, 1):
            folder = _write_run(root, "expert", os_, 0.5, seed)
            free[("expert", os_, seed)] = 0.6 - 0.1 * os_ + 0.01 * seed
            _add_overlay_free(folder, free[("expert", os_, seed)])
    for p in DROPOUTS:
        folder = _write_run(root, "dropout", 1.0, p, 0)
        free[("dropout", p, 0)] = 0.55 + 0.05 * p
        _add_overlay_free(folder, free[("dropout", p, 0)])
    out = tmp_path / "out"
    outcome = render(default_registry()["theory_vs_deep"], FigureContext(out=out, quick=True, results=root))
    assert outcome.status == "written", outcome.message
    rows = load_table(out / "theory_vs_deep.json")
    runs = {(r.method, r.overlay_strength if r.method == "expert" else r.dropout_p, r.seed): r for r in find_runs(root)}
    deep_rows = [r for r in rows if r["source"] == "deep"]
    assert len(deep_rows) == 2 * (len(STRENGTHS) + len(DROPOUTS))
    for row in deep_rows:
        method = "expert" if row["panel"] == "overlay" else "dropout"
        seeds = (0, 1) if method == "expert" else (0,)
        if row["task"] == "task_a":  # read on the overlay-free images
            expected = [free[(method, row["x"], s)] for s in seeds]
        else:
            expected = [runs[(method, row["x"], s)].accuracy("fast", "task_b") for s in seeds]
        assert row["mean"] == pytest.approx(np.mean(expected)) and row["n_seeds"] == len(seeds)
    (cal_row,) = [r for r in rows if r["source"] == "calibration"]
    cal = f7.Calibration(cal_row["scale"], cal_row["rep_dim"], {t: cal_row[f"floor_{t}"] for t in f7.TASK_BLOCK},
                         {t: cal_row[f"gain_{t}"] for t in f7.TASK_BLOCK}, cal_row["fit_rmse"])
    config = f7._config(quick=True)
    for row in (r for r in rows if r["source"] == "prediction"):
        assert row["accuracy"] == pytest.approx(float(cal.accuracy(config.setting, 1.0, row["x"])[row["task"]]))
    measured = {(r["task"], r["x"]): r["mean"] for r in deep_rows if r["panel"] == "dropout"}
    for task in f7.TASK_BLOCK:
        pred = [float(cal.accuracy(config.setting, 1.0, p)[task]) for p in DROPOUTS]
        rmse = np.sqrt(np.mean([(measured[(task, p)] - q) ** 2 for p, q in zip(DROPOUTS, pred)]))
        assert cal_row[f"prediction_rmse_{task}"] == pytest.approx(rmse)


def test_runs_without_the_overlay_control_are_named(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for os_ in STRENGTHS:
        _write_run(root, "expert", os_, 0.5, 0)
    outcome = render(default_registry()["theory_vs_deep"], FigureContext(out=tmp_path / "o", quick=True, results=root))
    assert outcome.status == "skipped" and "overlay-free" in outcome.message


def test_config_rejects_bad_values() -> None:
    for bad in ({"scale_range": (1.0, 0.5)}, {"sem_floor": 0.0}, {"task_a_images": "both"}, {"points": 1}):
        with pytest.raises(ValueError):
            f7.TheoryVsDeepConfig(**bad)


def test_panel_c_predicts_dropout_across_overlay_strengths(tmp_path: Path) -> None:
    """Dropout runs at p 0.5 over several overlay strengths give panel (c): its deep rows are their means,
    its prediction RMSE is that of the calibrated model at (o, 0.5), its null the expert mean at o."""
    root = tmp_path / "r"
    expert_free = {}
    for os_ in STRENGTHS:
        for seed in (0, 1):
            expert_free[(os_, seed)] = 0.6 - 0.1 * os_ + 0.01 * seed
            _add_overlay_free(_write_run(root, "expert", os_, 0.5, seed), expert_free[(os_, seed)])
    drop_free = {}
    for os_ in (0.25, 0.5, 1.0):
        for seed in (0, 1):
            drop_free[(os_, seed)] = 0.62 - 0.05 * os_ + 0.01 * seed
            _add_overlay_free(_write_run(root, "dropout", os_, 0.5, seed), drop_free[(os_, seed)])
    out = tmp_path / "out"
    outcome = render(default_registry()["theory_vs_deep"], FigureContext(out=out, quick=True, results=root))
    assert outcome.status == "written", outcome.message
    rows = load_table(out / "theory_vs_deep.json")
    panel = {r["x"]: r for r in rows if r["source"] == "deep" and r["panel"] == "dropout_strength" and r["task"] == "task_a"}
    assert sorted(panel) == [0.25, 0.5, 1.0]
    for os_, row in panel.items():
        assert row["mean"] == pytest.approx(np.mean([drop_free[(os_, s)] for s in (0, 1)])) and row["n_seeds"] == 2
    (cal_row,) = [r for r in rows if r["source"] == "calibration"]
    cal = f7.Calibration(cal_row["scale"], cal_row["rep_dim"], {t: cal_row[f"floor_{t}"] for t in f7.TASK_BLOCK},
                         {t: cal_row[f"gain_{t}"] for t in f7.TASK_BLOCK}, cal_row["fit_rmse"])
    setting = f7._config(quick=True).setting
    pred = [float(cal.accuracy(setting, o, 0.5)["task_a"]) for o in sorted(panel)]
    rmse = np.sqrt(np.mean([(panel[o]["mean"] - q) ** 2 for o, q in zip(sorted(panel), pred)]))
    null = np.sqrt(np.mean([(panel[o]["mean"] - np.mean([expert_free[(o, s)] for s in (0, 1)])) ** 2 for o in panel]))
    assert cal_row["strength_prediction_rmse_task_a"] == pytest.approx(rmse)
    assert cal_row["strength_null_rmse_task_a"] == pytest.approx(null)
