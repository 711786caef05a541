"""Figure deep_suppression: suppression against the no-overlay control (occlusion cancels) and rescue."""

from __future__ import annotations

from pathlib import Path

import pytest

from paper_figures.deep import DeepRun
from paper_figures.suppression import SuppressionConfig, suppression_rows


def _run(dataset: str, method: str, strength: float, seed: int, full: float, free: float, p: float = 0.5,
         controls: bool = True) -> DeepRun:
    fast: dict = {"task_a": full if strength == 1 else free, "task_b": 0.5}
    if controls:
        fast |= {"full_overlay": {"task_a": full, "task_b": 0.5}, "overlay_free": {"task_a": free, "task_b": 0.1}}
    folder = Path(f"/r/{dataset}/{method}/os{strength:g}_p{p:g}/seed{seed}")
    return DeepRun(folder, dataset, method, strength, p, seed, {"fast": fast})


def _rows(runs):  # noqa: ANN001, ANN202
    return {(r["dataset"], r["method"], r["quantity"]): r for r in suppression_rows(runs, SuppressionConfig())}


def test_suppression_is_paired_by_seed_against_the_no_overlay_encoder() -> None:
    runs = [_run("c+letters", "expert", 0, s, full=0.70 + 0.01 * s, free=0.80) for s in range(3)]
    runs += [_run("c+letters", "expert", 1, s, full=0.60 + 0.02 * s, free=0.79) for s in range(3)]
    runs += [_run("c+letters", "dropout", 1, s, full=0.75, free=0.80) for s in range(3)]
    rows = _rows(runs)
    sup = rows[("c+letters", "expert", "suppression")]
    # per seed: (0.70 - 0.60), (0.71 - 0.62), (0.72 - 0.64)
    assert sup["mean"] == pytest.approx(0.09) and sup["std"] == pytest.approx(0.01)
    assert sup["n_seeds"] == 3 and sup["significant"] and sup["ci_low"] < 0.09 < sup["ci_high"]
    assert sup["p_holm"] >= sup["p_value"]
    assert rows[("c+letters", "expert", "overlay_free_gap")]["mean"] == pytest.approx(0.01)
    rescue = rows[("c+letters", "dropout", "rescue")]  # 0.75 - (0.60, 0.62, 0.64)
    assert rescue["mean"] == pytest.approx(0.13) and rescue["significant"]
    assert ("c+letters", "expert", "rescue") not in rows
    assert rows[("c+letters", "dropout", "suppression")]["mean"] == pytest.approx(0.71 - 0.75)


def test_noise_is_reported_as_noise_and_unpaired_seeds_are_left_out() -> None:
    runs = [_run("c+shapes", "expert", 0, s, full=0.70, free=0.80) for s in (0, 1, 2)]
    runs += [_run("c+shapes", "expert", 1, s, full=f, free=0.8) for s, f in ((0, 0.69), (1, 0.72), (3, 0.1))]
    sup = _rows(runs)[("c+shapes", "expert", "suppression")]
    assert sup["seeds"] == "0,1" and not sup["significant"]


def test_a_control_of_another_dataset_is_not_used_and_old_runs_are_ignored() -> None:
    """Each dataset occludes with its own overlay: another dataset's no-overlay run is no control."""
    runs = [_run("c+letters", "expert", 0, 0, full=0.7, free=0.8)]
    runs += [_run("c+digits", "expert", 1, 0, full=0.5, free=0.8)]
    runs += [_run("c+digits", "dropout", 1, 0, full=0.9, free=0.8, controls=False)]
    rows = _rows(runs)
    assert not any(key[2] in ("suppression", "overlay_free_gap") for key in rows)
    assert not any(key[1] == "dropout" for key in rows)


def test_own_views_suppression_pairs_the_viewmaker_with_its_own_no_overlay_run() -> None:
    """A viewmaker that is simply a better view (higher with and without the overlay) rescues against
    expert views, yet its own-views suppression shows what the overlay still costs it."""
    runs = [_run("c+shapes", "expert", 0, s, full=0.77, free=0.80) for s in range(3)]
    runs += [_run("c+shapes", "expert", 1, s, full=0.73, free=0.80) for s in range(3)]
    runs += [_run("c+shapes", "viewmaker", 0, s, full=0.84 + 0.01 * s, free=0.85) for s in range(2)]
    runs += [_run("c+shapes", "viewmaker", 1, s, full=0.81, free=0.83) for s in range(3)]
    rows = _rows(runs)
    own = rows[("c+shapes", "viewmaker", "own_views_suppression")]
    assert own["seeds"] == "0,1" and own["mean"] == pytest.approx(0.035)  # (0.84 - 0.81, 0.85 - 0.81)
    assert rows[("c+shapes", "viewmaker", "rescue")]["mean"] == pytest.approx(0.08)
    assert rows[("c+shapes", "viewmaker", "suppression")]["mean"] == pytest.approx(-0.04)
    assert not any(key[2] == "own_views_suppression" and key[1] == "expert" for key in rows)
