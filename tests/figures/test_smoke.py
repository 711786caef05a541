"""Every theory figure renders in quick mode through the CLI: four files each, with provenance."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from linear_theory.infonce_runs import RunCache, run_key
from paper_figures.__main__ import main
from paper_figures.io import FORMATS, load_table
from paper_figures.spectral_vs_infonce import SpectralVsInfoNCEConfig, spectral_vs_infonce

THEORY_FIGURES = ("phase_diagram", "learning_curves", "spectral_vs_infonce")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    assert main(["--out", str(out), "--quick", "--results", str(out / "no-runs")]) == 0
    return out


@pytest.mark.parametrize("name", THEORY_FIGURES)
def test_quick_figure_files_and_provenance(quick_run, name):
    for ext in FORMATS:
        path = quick_run / f"{name}.{ext}"
        assert path.is_file() and path.stat().st_size > 0, path
    record = json.loads((quick_run / f"{name}.json").read_text())
    prov = record["provenance"]
    assert prov["command"].startswith("python -m paper_figures --out ") and "--quick" in prov["command"]
    assert prov["config"]["quick"] is True and prov["config"]["figure"]
    stamps = json.loads((quick_run / "stamps.json").read_text())[name]
    assert stamps["git_revision"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", stamps["git_revision"])
    with (quick_run / f"{name}.csv").open() as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == len(record["rows"]) > 0


def test_quick_infonce_rows_come_from_the_cache(quick_run):
    config = SpectralVsInfoNCEConfig.quick()
    cache = RunCache(quick_run / "cache", config.simulation).path  # figure 3's file (other figures have theirs)
    runs = json.loads(cache.read_text())["runs"]
    assert len(runs) == len(config.rep_dims) * len(config.dropouts) * config.seeds
    sim = [r for r in load_table(quick_run / "spectral_vs_infonce.json")
           if r["source"] == "simulation" and r["seed"] != "mean"]
    for r in sim:
        entry = runs[run_key(config.setting.model(r["dropout"], r["rep_dim"]), r["seed"])]
        # the figure's table rounds to paper_figures.io.DIGITS significant digits
        assert [r["probe_r2_task1"], r["probe_r2_task2"]] == pytest.approx(entry["probe_r2"], rel=1e-7, abs=1e-12)
        assert all(0.0 <= x <= 1.0 + 1e-9 for x in entry["probe_r2"])


@pytest.mark.slow
def test_infonce_phase_structure_at_theory_settings(tmp_path):
    """docs/linear-theory.md: k = 4 goes from (0.89, 0.00) at p = 0 to about (0.00, 0.87) at p = 0.3; k = 6 from
    (0.92, 0.45) to (0.45, 0.91). Tolerances cover seed-to-seed spread (0.1)."""
    config = SpectralVsInfoNCEConfig(dropouts=(0.0, 0.3, 0.5))
    _, rows = spectral_vs_infonce(config, cache=tmp_path)
    mean = {(r["rep_dim"], r["dropout"]): np.array([r["probe_r2_task1"], r["probe_r2_task2"]])
            for r in rows if r["seed"] == "mean"}
    np.testing.assert_allclose(mean[4, 0.0], [0.95, 0.0], atol=0.1)
    np.testing.assert_allclose(mean[4, 0.5], [0.0, 0.95], atol=0.1)
    assert mean[4, 0.3][1] > 0.75
    np.testing.assert_allclose(mean[6, 0.0], [0.95, 0.5], atol=0.1)
    np.testing.assert_allclose(mean[6, 0.5], [0.5, 0.95], atol=0.1)
