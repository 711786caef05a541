"""Figure 8 (paper_figures.randbits): its table equals what the RandBit run folders say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deep_experiments.configs import PRESETS, build_config
from deep_experiments.run.folder import RunFolder
from featuredrop.config import save_json
from paper_figures import randbits
from paper_figures.io import load_table
from paper_figures.registry import FigureContext, default_registry, render


def _digits(bits: int, tau: float, p: float, seed: int) -> float:
    return round(0.9 - 0.02 * bits + tau + 0.1 * p + 0.001 * seed, 6)


def _bits(bits: int, p: float, seed: int) -> float:
    return round(0.99 - 0.2 * p - 0.001 * seed, 6)


def _write(root: Path, bits: int, tau: float, p: float, seed: int, dataset: str = "randbit",
           method: str | None = None) -> None:
    method = method or ("dropout" if p > 0 else "expert")
    config = build_config(PRESETS["randbits-colab"], {
        "data": {"dataset": dataset, "randbit_bits": bits},
        "train": {"temperature": tau, "seed": seed}, "views": {"kind": method, "dropout": {"p": p if p > 0 else 0.5}}})
    folder = RunFolder(root / f"b{bits}_t{tau:g}_p{p:g}" / ("" if method in ("expert", "dropout") else method) / f"seed{seed}")
    folder.root.mkdir(parents=True)
    save_json(folder.config, config)
    fast = {"converged": True, "task_a": _digits(bits, tau, p, seed), "task_b": None}
    if bits:
        fast["task_b_bits"] = _bits(bits, p, seed)
    save_json(folder.probe, {"epoch": 10, "fast": fast})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("randbits")
    for tau in (0.1, 0.2):
        for b in (0, 5, 20):
            _write(root, b, tau, 0.0, 0)
    _write(root, 5, 0.1, 0.0, 1)
    for p in (0.5, 0.9):
        _write(root, 5, 0.1, p, 0)
    _write(root, 20, 0.1, 0.5, 0)
    _write(root, 5, 0.2, 0.5, 0)  # another temperature: not in panel (b)
    _write(root, 5, 0.1, 0.25, 0, dataset="c+digits")  # not a RandBit run: ignored
    _write(root, 5, 0.1, 0.0, 2, method="hierarchical")  # not expert or dropout views: ignored
    (root / "b5_t0.1_p0.7" / "seed0").mkdir(parents=True)  # unfinished: ignored
    return root


def _render(results: Path, out: Path):
    return render(default_registry()["randbits"], FigureContext(out=out, quick=True, randbits=results))


def test_table_matches_run_folders(tree: Path, tmp_path: Path) -> None:
    outcome = _render(tree, tmp_path)
    assert outcome.status == "written", outcome.message
    rows = load_table(tmp_path / "randbits.json")
    table = {(r["bits"], r["temperature"]): r for r in rows if r["panel"] == "table"}
    assert sorted(table) == [(b, t) for b in (0, 5, 20) for t in (0.1, 0.2)]
    for (b, tau), row in table.items():
        seeds = (0, 1) if (b, tau) == (5, 0.1) else (0,)
        assert row["digits_mean"] == pytest.approx(np.mean([_digits(b, tau, 0.0, s) for s in seeds]))
        assert row["n_seeds"] == len(seeds)
        if b == 0:
            assert row["bits_mean"] is None  # no bits to probe
        else:
            assert row["bits_mean"] == pytest.approx(np.mean([_bits(b, 0.0, s) for s in seeds]))
    dropout = [r for r in rows if r["panel"] == "dropout"]
    assert [(r["bits"], r["dropout_p"]) for r in dropout] == [(5, 0.0), (5, 0.5), (5, 0.9), (20, 0.0), (20, 0.5)]
    for r in dropout:
        b = r["bits"]
        seeds = (0, 1) if (b, r["dropout_p"]) == (5, 0.0) else (0,)
        assert r["digits_mean"] == pytest.approx(np.mean([_digits(b, 0.1, r["dropout_p"], s) for s in seeds]))
        assert r["bits_mean"] == pytest.approx(np.mean([_bits(b, r["dropout_p"], s) for s in seeds]))
        assert r["digits_std"] == pytest.approx(np.std([_digits(b, 0.1, 0.0, s) for s in seeds], ddof=1)
                                                if len(seeds) > 1 else 0.0)
    ours = [r for r in rows if r["panel"] != "colab_reference"]
    assert all("c+digits" not in r["folders"] and r["epochs"] == "10" for r in ours)
    ref = {(r["bits"], r["temperature"]): r["digits_mean"] for r in rows if r["panel"] == "colab_reference"}
    assert ref == {k: v for k, v in randbits.COLAB_TABLE.items() if k[1] in (0.1, 0.2)}


def test_missing_runs_skip_with_the_command(tmp_path: Path) -> None:
    outcome = _render(tmp_path / "none", tmp_path / "out")
    assert outcome.status == "skipped" and "randbits_colab.py" in outcome.message
    assert not (tmp_path / "out" / "randbits.png").exists()
