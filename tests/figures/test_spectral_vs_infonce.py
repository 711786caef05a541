"""Figure 3's numbers: the closed-form rows, the simulated rows against the run cache, and the cache."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import linear_theory.infonce_runs as infonce_runs
from linear_theory import critical_dropout, spectral_optimum
from linear_theory.simulate import SimulationConfig
from paper_figures.spectral_vs_infonce import SpectralVsInfoNCEConfig, spectral_vs_infonce

CONFIG = SpectralVsInfoNCEConfig(rep_dims=(4, 6), dropouts=(0.0, 0.3), seeds=2, simulation=SimulationConfig(steps=5),
                                 closed_form_points=11, workers=1)


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace the InfoNCE training by a deterministic stand-in and record the runs (plumbing only)."""
    calls = []

    def fake(models, seeds, simulation, progress=False):
        calls.extend((m.rep_dim, m.blocks[0].dropout, seed) for m in models for seed in seeds)
        return {(m, seed): {"probe_r2": [0.1 * m.rep_dim + m.blocks[0].dropout, 0.01 * seed + m.blocks[0].dropout],
                            "captured_strength": [1.0, 2.0], "final_loss": 3.0} for m in models for seed in seeds}

    monkeypatch.setattr(infonce_runs, "train_batch", fake)
    return calls


def test_closed_form_rows_are_the_spectral_optimum(fake_runs):
    _, rows = spectral_vs_infonce(CONFIG)
    closed = [r for r in rows if r["source"] == "closed_form"]
    assert len(closed) == len(CONFIG.rep_dims) * CONFIG.closed_form_points
    for r in closed:
        model = CONFIG.setting.model(r["dropout"], r["rep_dim"])
        np.testing.assert_allclose([r["probe_r2_task1"], r["probe_r2_task2"]], spectral_optimum(model).probe_r2)
        assert r["p_star"] == pytest.approx(critical_dropout(model, 0, 1))


def test_simulated_rows_and_means(fake_runs):
    _, rows = spectral_vs_infonce(CONFIG)
    assert sorted(fake_runs) == sorted((k, p, s) for k in (4, 6) for p in (0.0, 0.3) for s in (0, 1))
    sim = [r for r in rows if r["source"] == "simulation" and r["seed"] != "mean"]
    assert len(sim) == 8
    for r in sim:
        assert r["probe_r2_task1"] == 0.1 * r["rep_dim"] + r["dropout"]
        assert r["probe_r2_task2"] == 0.01 * r["seed"] + r["dropout"]
    means = [r for r in rows if r["seed"] == "mean"]
    assert len(means) == 4
    for r in means:
        assert r["probe_r2_task2"] == pytest.approx(0.005 + r["dropout"])


def test_cache_is_reused_and_keyed_by_the_run_settings(fake_runs, tmp_path):
    _, first = spectral_vs_infonce(CONFIG, cache=tmp_path)
    n_calls = len(fake_runs)
    (path,) = tmp_path.glob("infonce-*.json")
    cached = json.loads(path.read_text())
    assert cached["run_settings"]["simulation"]["steps"] == CONFIG.simulation.steps and len(cached["runs"]) == 8

    _, second = spectral_vs_infonce(CONFIG, cache=tmp_path)
    assert len(fake_runs) == n_calls  # everything came from the cache
    assert first == second

    grown = replace(CONFIG, dropouts=(0.0, 0.3, 0.5))
    spectral_vs_infonce(grown, cache=tmp_path)
    assert len(fake_runs) == n_calls + 4  # only the new dropout value is simulated
    assert len(list(tmp_path.glob("infonce-*.json"))) == 1

    longer = replace(CONFIG, simulation=SimulationConfig(steps=6))
    spectral_vs_infonce(longer, cache=tmp_path)
    assert len(fake_runs) == n_calls + 4 + 8  # another training: a fresh cache file
    assert len(list(tmp_path.glob("infonce-*.json"))) == 2


@pytest.mark.parametrize("module", infonce_runs.TRAINER_MODULES, ids=lambda m: m.__name__)
def test_cache_key_changes_with_the_source_of_every_trainer_module(module, monkeypatch, tmp_path):
    """A fix to the simulator, the losses or the probe (any module in TRAINER_MODULES) starts a fresh cache."""
    before = infonce_runs.cache_settings(CONFIG.simulation)["trainer"]
    edited = tmp_path / "edited.py"
    edited.write_bytes(open(module.__file__, "rb").read() + b"\n# edited\n")
    monkeypatch.setattr(module, "__file__", str(edited))
    assert infonce_runs.cache_settings(CONFIG.simulation)["trainer"] != before


@pytest.mark.parametrize("change", [{"seeds": 0}, {"dropouts": (0.0, 1.0)}, {"rep_dims": ()}, {"closed_form_points": 0},
                                    {"simulation": SimulationConfig(loss="spectral")}])
def test_config_rejects_bad_values(change):
    with pytest.raises(ValueError, match="SpectralVsInfoNCEConfig"):
        SpectralVsInfoNCEConfig(**change)
