"""Figure 7 (paper_figures.theory_vs_deep, paper_figures.occlusion_fit): the calibration finds a model
that is in its family, the bounded read-out is the best bounded one, the table's verdicts follow from
its own per-seed errors, and the rows are the runs'."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deep_experiments.configs import PRESETS, build_config
from deep_experiments.run.folder import RunFolder
from featuredrop.config import save_json
from paper_figures import occlusion_fit as of
from paper_figures import theory_vs_deep as f7
from paper_figures.io import load_table
from paper_figures.registry import FigureContext, default_registry, render

STRENGTHS = (0.25, 0.5, 0.75, 1.0)
CONFIG = of.FitConfig(scale_points=12, overlap_points=6)
COMMITTED = Path(__file__).resolve().parents[2] / "results" / "claim5-cpu"


def _truth(overlap: float, scale_index: int, rep_dim: int) -> of.Fit:
    """A model of the family whose parameters are grid points of CONFIG (so that a zero-error fit exists)."""
    scale = float(CONFIG.scales()[scale_index])
    return of.Fit("synthetic", "occlusion", scale, overlap, rep_dim, {"a": 0.2, "b": 0.05}, {"a": 0.7, "b": 0.9},
                  {}, {}, {}, 0.0, 0.0, 0, 7, (), ())


def _measure(truth: of.Fit, cells: list[of.Cell], seeds=(0, 1, 2), noise: float = 0.0,
             rng: np.random.Generator | None = None) -> list[of.Measurement]:
    acc = truth.predict(CONFIG, cells)
    out = []
    for i, cell in enumerate(cells):
        for j, obs in enumerate(of.OBSERVABLES):
            jitter = (rng.normal(0, noise, len(seeds)) if rng is not None else np.zeros(len(seeds)))
            out.append(of.Measurement("synthetic", cell, obs, {s: float(acc[i, j] + e) for s, e in zip(seeds, jitter)}))
    return out


@pytest.mark.parametrize(("overlap", "scale_index", "rep_dim"), [(0.2, 1, 6), (0.4, 2, 5), (0.4, 0, 7)])
def test_calibration_finds_a_model_of_its_family_and_the_orthogonal_model_cannot(overlap, scale_index, rep_dim) -> None:
    """Measurements made by an occlusion model on the search grid are fitted with zero error; the fitted
    model reproduces every calibration cell. Where that model puts task A lower on overlaid than on
    overlay-free images, the orthogonal model (overlap 0: both probes read the same R^2) cannot fit it."""
    truth = _truth(overlap, scale_index, rep_dim)
    cells = [of.Cell("expert", o) for o in STRENGTHS]
    ms = _measure(truth, cells)
    fitted = of.fit(ms, CONFIG)
    assert fitted.rmse < 1e-9
    np.testing.assert_allclose(fitted.predict(CONFIG, cells), truth.predict(CONFIG, cells), atol=1e-8)
    acc = truth.predict(CONFIG, cells)
    gap = acc[:, 1] - acc[:, 0]  # a_free - a_overlaid
    assert gap.max() > 0.01, "the chosen truth shows no occlusion gap: pick another"
    orthogonal = of.fit(ms, CONFIG, orthogonal=True)
    assert orthogonal.overlap == 0.0 and orthogonal.n_params == 6
    assert orthogonal.rmse > 0.25 * float(np.sqrt(np.mean(gap**2)))


def test_a_noisy_model_is_fitted_within_its_noise_and_its_profile_holds_the_truth() -> None:
    """With seed noise, the fit is within a few noise units and the 95 % profile interval of the overlap
    contains the true overlap (chi-square profile, weights 1/sem^2)."""
    truth = _truth(0.4, 2, 5)
    cells = [of.Cell("expert", o) for o in STRENGTHS]
    ms = _measure(truth, cells, seeds=tuple(range(5)), noise=0.004, rng=np.random.default_rng(3))
    fitted = of.fit(ms, CONFIG)
    assert fitted.rmse < 0.006
    (overlap,) = [p for p in fitted.profiles if p.parameter == "overlap"]
    low, high = overlap.interval()
    assert low <= 0.4 <= high


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=8), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.1, 0.4]))
def test_the_bounded_readout_is_the_best_bounded_affine_map(xs: list[float], seed: int, low: float) -> None:
    """Theorem (bounded least squares). The read-out minimizes the weighted squared error over all
    ``(floor, gain)`` with ``floor >= low`` (chance), ``gain >= 0``, ``floor + gain <= 1`` (checked
    against a dense grid of that triangle), and satisfies those bounds."""
    rng = np.random.default_rng(seed)
    x = np.asarray(xs)
    y = np.clip(rng.uniform(-0.3, 1.3) + rng.uniform(-1.5, 1.5) * x + rng.normal(0, 0.05, x.size), -0.5, 1.5)
    w = rng.uniform(0.5, 2.0, x.size)
    floor, gain, chi2 = (float(v) for v in of._readout(x, y, w, low=low))
    assert floor >= low - 1e-12 and gain >= -1e-12 and floor + gain <= 1 + 1e-12
    f, g = np.meshgrid(np.linspace(low, 1, 201), np.linspace(0, 1, 201))
    ok = f + g <= 1
    brute = (w * (y - f[ok][:, None] - g[ok][:, None] * x) ** 2).sum(-1).min()
    assert chi2 <= brute + 1e-9
    assert chi2 == pytest.approx(float((w * (y - floor - gain * x) ** 2).sum()), abs=1e-9)


def _recomputed_verdicts(rows: list[dict]) -> list[str]:
    """Verdicts from the per-seed errors in the table alone: scipy's t test of the differences, then
    Holm's step-down written out here (not the project's helpers)."""
    p_values = []
    diffs = []
    for row in rows:
        model = np.array([float(v) for v in str(row["model_by_seed"]).split()])
        null = np.array([float(v) for v in str(row["null_by_seed"]).split()])
        d = model - null
        diffs.append(d.mean())
        if d.size < 2:
            p_values.append(math.nan)
        elif d.std() == 0:  # identical differences: the t statistic is 0/0 or infinite
            p_values.append(1.0 if d.mean() == 0 else 0.0)
        else:
            p_values.append(float(stats.ttest_1samp(d, 0.0).pvalue))
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(rows)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        adjusted[i] = running
    out = []
    for d, p in zip(diffs, adjusted):
        out.append("n/a" if math.isnan(p) else "tie" if p > 0.05 else "beats" if d < 0 else "worse")
    return out


def _run(root: Path, dataset: str, cell: of.Cell, seed: int, fast: dict) -> Path:
    """A finished run folder (config.json + probe.json in the formats the figures read)."""
    p = cell.dropout if cell.kind == "dropout" else 0.5
    config = build_config(PRESETS["smoke"], {"data": {"dataset": dataset, "overlay_strength": cell.strength},
                                             "train": {"seed": seed}, "views": {"kind": cell.kind, "dropout": {"p": p}}})
    folder = RunFolder(root / dataset / cell.kind / f"os{cell.strength:g}_p{p:g}" / f"seed{seed}")
    folder.root.mkdir(parents=True)
    save_json(folder.config, config)
    save_json(folder.probe, {"epoch": 1, "dataset": dataset, "method": cell.kind, "fast": fast})
    return folder.root


def _fake_tree(root: Path, truth: of.Fit, seeds=(0, 1, 2)) -> None:
    """Runs of two datasets whose probes are the truth's accuracies plus a per-seed offset."""
    cells = [of.Cell("expert", o) for o in (0.0, *STRENGTHS)] + [of.Cell("dropout", 1.0, p) for p in (0.25, 0.5, 0.75)]
    cells.append(of.Cell("deshared", 1.0))
    acc = truth.predict(CONFIG, cells)
    for ds, shift in (("c+letters", 0.0), ("c+shapes", 0.02)):
        for i, cell in enumerate(cells):
            for seed in seeds:
                a_over, a_free, b = (float(v) + shift + 0.003 * (seed - 1) + 0.001 * seed**2 for v in acc[i])
                _run(root, ds, cell, seed, {"task_a": a_over, "task_b": b,
                                            "full_overlay": {"task_a": a_over, "task_b": b},
                                            "overlay_free": {"task_a": a_free, "task_b": 0.04}})


def test_table_holds_the_runs_both_fits_and_verdicts_that_follow_from_it(tmp_path: Path) -> None:
    """The rendered table: deep means are the runs' probe values, both models are calibrated per dataset,
    every target is scored against both nulls, and every verdict is what the table's own per-seed
    errors give (recomputed independently)."""
    root = tmp_path / "r"
    _fake_tree(root, _truth(0.4, 2, 5))
    out = tmp_path / "out"
    outcome = render(default_registry()["theory_vs_deep"], FigureContext(out=out, quick=True, results=root))
    assert outcome.status == "written", outcome.message
    rows = load_table(out / "theory_vs_deep.json")
    cals = [r for r in rows if r["source"] == "calibration"]
    assert {(r["dataset"], r["model"]) for r in cals} == {(d, m) for d in ("c+letters", "c+shapes")
                                                          for m in ("occlusion", "orthogonal")}
    deep = {(r["dataset"], r["cell"], r["observable"]): r for r in rows if r["source"] == "deep"}
    row = deep[("c+shapes", "dropout p=0.25", "a_overlaid")]
    assert row["n_seeds"] == 3 and row["seeds"] == "0 1 2"
    mean = np.mean([json.loads((root / "c+shapes" / "dropout" / "os1_p0.25" / f"seed{s}" / "probe.json").read_text())
                    ["fast"]["full_overlay"]["task_a"] for s in (0, 1, 2)])
    assert row["mean"] == pytest.approx(mean)
    verdict_rows = [r for r in rows if r["source"] == "verdict"]
    assert {(r["dataset"], r["target"], r["null"]) for r in verdict_rows} >= {
        ("c+letters", t, n) for t in ("control", "dropout", "deshared") for n in ("nothing_changes", "orthogonal")}
    assert {r["fitted_on"] for r in verdict_rows if r["target"] == "other_dataset" and r["dataset"] == "c+letters"} \
        == {"c+shapes"}
    assert [r["verdict"] for r in verdict_rows] == _recomputed_verdicts(verdict_rows)


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="results/claim5-cpu is not in this checkout")
def test_the_committed_verdicts_follow_from_the_committed_table(tmp_path: Path) -> None:
    """Figure 7 drawn from the committed runs: each verdict is what its own per-seed errors give."""
    outcome = render(default_registry()["theory_vs_deep"], FigureContext(out=tmp_path, quick=True, results=COMMITTED))
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    assert outcome.status == "written", outcome.message
    verdict_rows = [r for r in load_table(tmp_path / "theory_vs_deep.json") if r["source"] == "verdict"]
    assert verdict_rows
    assert [r["verdict"] for r in verdict_rows] == _recomputed_verdicts(verdict_rows)


def test_measurements_refuse_a_seed_twice_and_a_run_without_the_overlay_probes(tmp_path: Path) -> None:
    from paper_figures.deep import find_runs

    root = tmp_path / "r"
    _run(root, "c+letters", of.Cell("expert", 1.0), 0, {"task_a": 0.5, "task_b": 0.1})
    with pytest.raises(ValueError, match="no fast.full_overlay probe"):
        of.measurements(find_runs(root), find_runs(root)[0].dataset)
    run = find_runs(root)[0]
    twice = [run, type(run)(run.folder, run.dataset, run.method, run.overlay_strength, 0.25, run.seed,
                            {"fast": {"full_overlay": {"task_a": 0.5, "task_b": 0.1},
                                      "overlay_free": {"task_a": 0.5, "task_b": 0.1}}})]
    twice[0] = type(run)(run.folder, run.dataset, run.method, run.overlay_strength, 0.5, run.seed, twice[1].probe)
    with pytest.raises(ValueError, match="two runs"):
        of.measurements(twice, run.dataset)


def test_calibration_needs_three_strengths_and_expert_cells() -> None:
    truth = _truth(0.4, 2, 5)
    with pytest.raises(ValueError, match="three or more"):
        of.fit(_measure(truth, [of.Cell("expert", o) for o in (0.5, 1.0)]), CONFIG)
    with pytest.raises(ValueError, match="expert cells"):
        of.fit(_measure(truth, [of.Cell("expert", o) for o in STRENGTHS] + [of.Cell("dropout", 1.0, 0.5)]), CONFIG)


def test_configs_reject_bad_values() -> None:
    for bad in ({"scale_range": (1.0, 0.5)}, {"sem_floor": 0.0}, {"scale_points": 1}, {"test_strength": 0.0}):
        with pytest.raises(ValueError):
            of.FitConfig(**bad)
    for bad in ({"protocol": "slow"}, {"points": 1}):
        with pytest.raises(ValueError):
            f7.TheoryVsDeepConfig(**bad)
    with pytest.raises(TypeError):
        of.FitConfig(overlap=0.5)  # unknown key


def test_chance_and_opacity_come_from_the_dataset(tmp_path: Path) -> None:
    """The read-out's lowest floor is 1 / classes of each task (C+Letters: 10 garment classes, 26 letters);
    the overlay's alpha at strength 1 is C+Shapes' 180/255 and 1 for the opaque letters."""
    from paper_figures.deep import find_runs

    _run(tmp_path, "c+letters", of.Cell("expert", 1.0), 0, {"task_a": 0.5, "task_b": 0.1})
    assert of.chance_levels(find_runs(tmp_path), "c+letters") == pytest.approx({"a": 0.1, "b": 1 / 26})
    assert of.peak_opacity("c+shapes") == pytest.approx(180 / 255) and of.peak_opacity("c+letters") == 1.0
    with pytest.raises(ValueError, match="peak_opacity"):
        of.r2_grid(CONFIG, [of.Cell("expert", 1.0)], [0.0], [1.0], [1], peak_opacity=0.0)
