"""scripts/deep_cpu_grid.py: which runs a grid holds (the sweeps and their seeds)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import deep_cpu_grid as g  # noqa: E402


def test_dropout_strength_sweep_runs_at_the_default_p_for_every_sweep_seed() -> None:
    runs = g.grid(["c+digits"], [0, 1, 2], [0.0, 1.0], [0.5], methods=("expert", "dropout"), sweep_seeds=[0, 2],
                  dropout_strengths=[0.25, 0.75])
    drops = {(r.overlay_strength, r.dropout_p, r.seed) for r in runs if r.method == "dropout"}
    assert drops == {(1.0, 0.5, s) for s in (0, 1, 2)} | {(o, 0.5, s) for o in (0.25, 0.75) for s in (0, 2)}
    assert len(runs) == len(set(runs))  # strength 1 / p 0.5 appears once per seed


def test_no_dropout_strength_sweep_by_default() -> None:
    runs = g.grid(["c+digits"], [0], [0.0, 0.5, 1.0], [0.25, 0.5])
    assert {r.overlay_strength for r in runs if r.method == "dropout"} == {1.0}


def test_the_flag_reaches_the_grid(monkeypatch) -> None:  # noqa: ANN001
    seen = []
    monkeypatch.setattr(g, "run_grid", lambda runs, root, jobs, report=None: seen.extend(runs) or [])
    import deep_experiments.device

    monkeypatch.setattr(deep_experiments.device, "resolve_device", lambda name: name)  # no GPU here: CUDA as if present
    g.main(["--out", "X", "--methods", "dropout", "--strengths", "1", "--dropouts", "0.5", "--dropout-strengths", "0.5"])
    folders = sorted(r.folder for r in seen if "/dropout/" in r.folder)
    assert folders == ["c+digits/dropout/os0.5_p0.5/seed0", "c+digits/dropout/os1_p0.5/seed0",
                       "c+digits/dropout/os1_p0.5/seed1"]


def test_device_flag_reaches_every_run(monkeypatch) -> None:  # noqa: ANN001
    seen = []
    monkeypatch.setattr(g, "run_grid", lambda runs, root, jobs, report=None: seen.extend(runs) or [])
    import deep_experiments.device

    monkeypatch.setattr(deep_experiments.device, "resolve_device", lambda name: name)  # no GPU here: CUDA as if present
    g.main(["--out", "X", "--methods", "expert", "--strengths", "1", "--seeds", "0", "--device", "cuda"])
    assert seen and all(r.flags[r.flags.index("--device") + 1] == "cuda" for r in seen)


def test_own_controls_run_the_method_without_the_overlay_for_the_sweep_seeds() -> None:
    runs = g.grid(["c+shapes"], [0, 1], [0.0, 1.0], [0.5], methods=("expert", "viewmaker"), sweep_seeds=[1],
                  own_controls=("viewmaker",))
    assert {(r.overlay_strength, r.seed) for r in runs if r.method == "viewmaker"} == {(1.0, 0), (1.0, 1), (0.0, 1)}
