"""Figure 3's numbers: the closed-form rows, the simulated rows against the run cache, and the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

import paper_figures.theory as theory
from linear_theory import critical_dropout
from paper_figures.theory import SpectralVsInfoNCEConfig, spectral_vs_infonce

CONFIG = SpectralVsInfoNCEConfig(rep_dims=(4, 6), dropouts=(0.0, 0.3), seeds=2, steps=5, closed_form_points=11,
                                 workers=1)


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace the InfoNCE training by a deterministic stand-in and record the runs (plumbing only)."""
    calls = []

    def fake(config, k, dropouts, seeds):
        calls.extend((k, p, seed) for p in dropouts for seed in seeds)
        return {(p, seed): {"probe_r2": [0.1 * k + p, 0.01 * seed + p], "captured_strength": [1.0, 2.0],
                            "final_loss": 3.0} for p in dropouts for seed in seeds}

    monkeypatch.setattr(theory, "_simulate_group", fake)
    return calls


def test_closed_form_rows_are_the_spectral_optimum(fake_runs):
    _, rows = spectral_vs_infonce(CONFIG)
    closed = [r for r in rows if r["source"] == "closed_form"]
    assert len(closed) == len(CONFIG.rep_dims) * CONFIG.closed_form_points
    for r in closed:
        model = CONFIG.model(r["rep_dim"], r["dropout"])
        np.testing.assert_allclose([r["probe_r2_task1"], r["probe_r2_task2"]], model.spectral_optimum().probe_r2)
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
    (path,) = tmp_path.glob("spectral_vs_infonce-*.json")
    cached = json.loads(path.read_text())
    assert cached["run_settings"]["steps"] == CONFIG.steps and len(cached["runs"]) == 8

    _, second = spectral_vs_infonce(CONFIG, cache=tmp_path)
    assert len(fake_runs) == n_calls  # everything came from the cache
    assert first == second

    grown = SpectralVsInfoNCEConfig(**{**CONFIG.__dict__, "dropouts": (0.0, 0.3, 0.5)})
    assert grown.run_key() == CONFIG.run_key()
    spectral_vs_infonce(grown, cache=tmp_path)
    assert len(fake_runs) == n_calls + 4  # only the new dropout value is simulated

    longer = SpectralVsInfoNCEConfig(**{**CONFIG.__dict__, "steps": 6})
    assert longer.run_key() != CONFIG.run_key()


@pytest.mark.parametrize("change", [{"seeds": 0}, {"dropouts": (0.0, 1.0)}, {"rep_dims": ()}, {"lr": 0.0}])
def test_config_rejects_bad_values(change):
    with pytest.raises(ValueError, match="SpectralVsInfoNCEConfig"):
        SpectralVsInfoNCEConfig(**change)
