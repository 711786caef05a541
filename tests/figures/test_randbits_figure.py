"""Figure 8 (paper_figures.randbits): its table equals what the RandBit run folders say."""

from __future__ import annotations

import json
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


def _online(bits: int, tau: float, seed: int) -> float:
    return round(0.7 - 0.03 * bits - tau + 0.01 * seed, 6)


def _write(root: Path, bits: int, tau: float, p: float, seed: int, dataset: str = "randbit",
           method: str | None = None, online: bool = False, loss: str = "nt_xent", digits: float | None = None) -> None:
    method = method or ("dropout" if p > 0 else "expert")
    config = build_config(PRESETS["randbits-colab"], {
        "data": {"dataset": dataset, "randbit_bits": bits},
        "train": {"temperature": tau, "seed": seed, "loss": loss},
        "views": {"kind": method, "dropout": {"p": p if p > 0 else 0.5}}})
    folder = RunFolder(root / f"b{bits}_t{tau:g}_p{p:g}" / ("" if method in ("expert", "dropout") else method) / f"seed{seed}")
    folder.root.mkdir(parents=True)
    save_json(folder.config, config)
    fast = {"converged": True, "task_a": _digits(bits, tau, p, seed) if digits is None else digits, "task_b": None}
    if bits:
        fast["task_b_bits"] = _bits(bits, p, seed)
    record = {"epoch": 10, "fast": fast}
    if online:
        record["online_head"] = {"task_a": _online(bits, tau, seed), "task_b": None, "task_b_bits": 0.5 + 0.01 * seed}
    save_json(folder.probe, record)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("randbits")
    for tau in (0.1, 0.2):
        for b in (0, 5, 20):
            _write(root, b, tau, 0.0, 0)
    _write(root, 5, 0.1, 0.0, 1, online=True)
    _write(root, 5, 0.1, 0.0, 2, online=True)
    for p in (0.5, 0.9):
        _write(root, 5, 0.1, p, 0)
    _write(root, 20, 0.1, 0.5, 0)
    _write(root, 5, 0.2, 0.5, 0)  # another temperature: not in panel (b)
    _write(root, 5, 0.1, 0.25, 0, dataset="c+digits")  # not a RandBit run: ignored
    _write(root, 5, 0.1, 0.0, 2, method="hierarchical")  # not expert or dropout views: ignored
    (root / "b5_t0.1_p0.7" / "seed0").mkdir(parents=True)  # unfinished: ignored
    return root


def _t_cell(values: list[float]) -> str:
    """A table cell: mean [95 % interval of the mean by scipy's t distribution]."""
    from scipy import stats

    m, se = np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))
    half = stats.t.ppf(0.975, len(values) - 1) * se
    return f"{m:.3f} [{m - half:.3f}, {m + half:.3f}]"


def _render(results: Path, out: Path):
    return render(default_registry()["randbits"], FigureContext(out=out, quick=True, randbits=results))


def test_table_matches_run_folders(tree: Path, tmp_path: Path) -> None:
    outcome = _render(tree, tmp_path)
    assert outcome.status == "written", outcome.message
    rows = load_table(tmp_path / "randbits.json")
    table = {(r["bits"], r["temperature"]): r for r in rows if r["panel"] == "table"}
    assert sorted(table) == [(b, t) for b in (0, 5, 20) for t in (0.1, 0.2)]
    for (b, tau), row in table.items():
        seeds = (0, 1, 2) if (b, tau) == (5, 0.1) else (0,)
        assert row["digits_mean"] == pytest.approx(np.mean([_digits(b, tau, 0.0, s) for s in seeds]))
        if (b, tau) == (5, 0.1):  # the online head: seeds 1 and 2 only (seed 0 ran without it)
            assert row["n_online"] == 2
            assert row["online_digits_mean"] == pytest.approx(np.mean([_online(5, 0.1, s) for s in (1, 2)]))
            assert row["online_digits_std"] == pytest.approx(np.std([_online(5, 0.1, s) for s in (1, 2)], ddof=1))
        else:
            assert row["online_digits_mean"] is None and row["n_online"] == 0
        assert row["n_seeds"] == len(seeds)
        if b == 0:
            assert row["bits_mean"] is None  # no bits to probe
        else:
            assert row["bits_mean"] == pytest.approx(np.mean([_bits(b, 0.0, s) for s in seeds]))
    dropout = [r for r in rows if r["panel"] == "dropout"]
    assert [(r["bits"], r["dropout_p"]) for r in dropout] == [(5, 0.0), (5, 0.5), (5, 0.9), (20, 0.0), (20, 0.5)]
    for r in dropout:
        b = r["bits"]
        seeds = (0, 1, 2) if (b, r["dropout_p"]) == (5, 0.0) else (0,)
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


def test_table_script_prints_both_read_outs_with_t_intervals(tree: Path, capsys) -> None:  # noqa: ANN001
    """scripts/randbits_table.py: a cell's fast probe and online head over its seeds, interval by scipy's t."""
    from tests.scripts import load_script

    assert load_script("randbits_table").main([str(tree)]) == 0
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): [c.strip() for c in line.split("|")[1:-1]]
            for line in capsys.readouterr().out.splitlines()[2:]}

    row = rows[("5", "0.1", "0")]
    assert row[3] == "0,1,2 (online head: 1,2)"
    assert row[4] == _t_cell([_digits(5, 0.1, 0.0, s) for s in (0, 1, 2)])
    assert row[5] == _t_cell([_online(5, 0.1, s) for s in (1, 2)])
    assert row[7] == f"{randbits.COLAB_TABLE[(5, 0.1)]:.3f}"
    assert rows[("20", "0.2", "0")][4:6] == [f"{_digits(20, 0.2, 0.0, 0):.3f}", "—"]


def test_loss_table_compares_losses_at_equal_temperature_with_intervals(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """--losses: NT-Xent from ROOT and from LOSSROOT (another τ) in one table; several seeds give mean [t interval]
    (n); a seed of one cell found twice refuses the table (exit 2, one line)."""
    from tests.scripts import load_script

    root, losses = tmp_path / "ntxent", tmp_path / "losses"
    _write(root, 5, 0.1, 0.0, 0, digits=0.93)
    _write(losses / "nt_xent", 5, 1.0, 0.0, 0, digits=0.40)
    _write(losses / "nt_xent", 5, 1.0, 0.0, 1, digits=0.50)
    for seed, acc in enumerate((0.60, 0.62, 0.67)):
        _write(losses / "decoupled", 5, 0.1, 0.0, seed, loss="decoupled", digits=acc)
    _write(losses / "decoupled", 0, 0.1, 0.0, 0, loss="decoupled", digits=0.98)
    assert load_script("randbits_table").main([str(root), "--losses", str(losses)]) == 0
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): [c.strip() for c in line.split("|")[3:-1]]
            for line in capsys.readouterr().out.splitlines()[2:]}

    assert rows[("NT-Xent", "0.1")] == ["–", "0.930", "–"]
    assert rows[("NT-Xent", "1")] == ["–", _t_cell([0.40, 0.50]) + " (n = 2)", "–"]
    assert rows[("decoupled NT-Xent", "0.1")] == ["0.980", _t_cell([0.60, 0.62, 0.67]) + " (n = 3)", "–"]
    _write(losses / "again", 5, 0.1, 0.0, 0, digits=0.95)  # NT-Xent tau 0.1 b 5 seed 0 is also in ROOT
    assert load_script("randbits_table").main([str(root), "--losses", str(losses)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed 0" in err[0] and "again" in err[0]


def test_several_roots_take_each_cell_from_the_first_root_that_has_it(tmp_path: Path) -> None:
    """Roots ``new old``: a cell in both comes whole from ``new`` (never a mix of the two roots' seeds), a cell only
    in ``old`` comes from ``old``; a missing root adds nothing."""
    new, old = tmp_path / "new", tmp_path / "old"
    _write(new, 5, 0.1, 0.0, 0, online=True, digits=0.5)
    _write(old, 5, 0.1, 0.0, 0, digits=0.9)
    _write(old, 5, 0.1, 0.0, 1, digits=0.9)  # a seed the new root lacks: still not mixed into the cell
    _write(old, 5, 0.1, 0.5, 0)
    runs = randbits.find_randbits_runs([new, old, tmp_path / "missing"])
    cells = {(r.bits, r.temperature, r.dropout_p, r.seed): r for r in runs}
    assert set(cells) == {(5, 0.1, 0.0, 0), (5, 0.1, 0.5, 0)}
    assert cells[(5, 0.1, 0.0, 0)].digits == 0.5 and cells[(5, 0.1, 0.0, 0)].folder.is_relative_to(new)
    assert cells[(5, 0.1, 0.5, 0)].folder.is_relative_to(old)
    assert {r.folder.parent for r in randbits.find_randbits_runs([old, new])} == {old / "b5_t0.1_p0",
                                                                                 old / "b5_t0.1_p0.5"}
    assert _render((new, old), tmp_path / "fig").status == "written"
    rows = load_table(tmp_path / "fig" / "randbits.json")
    row = next(r for r in rows if r["panel"] == "table" and r["bits"] == 5 and r["temperature"] == 0.1)
    assert row["n_seeds"] == 1 and row["digits_mean"] == 0.5 and row["n_online"] == 1


def test_nested_roots_a_seed_twice_and_two_recipes_are_refused(tmp_path: Path) -> None:
    """One table or figure counts each seed of a cell once and is one recipe: a root inside another, a cell with a
    seed twice (one root holding two copies) and runs of the colab's recipe options beside the package's are errors."""
    old = tmp_path / "old"
    _write(old, 5, 0.1, 0.0, 0)
    _write(old / "online", 5, 0.1, 0.0, 0, online=True)
    with pytest.raises(ValueError, match="inside the other"):
        randbits.find_randbits_runs([old, old / "online"])
    with pytest.raises(ValueError, match="a second run of b = 5"):
        randbits.find_randbits_runs(old)
    mixed = tmp_path / "mixed"
    _write(mixed, 5, 0.1, 0.0, 0)
    config_path = mixed / "b5_t0.1_p0" / "seed0" / "config.json"
    _write(mixed / "colab", 10, 0.1, 0.0, 0)
    colab = mixed / "colab" / "b10_t0.1_p0" / "seed0" / "config.json"
    config = json.loads(colab.read_text())
    config["train"]["convn_padding"], config["data"]["normalization"] = "valid", "none"
    colab.write_text(json.dumps(config))
    assert json.loads(config_path.read_text())["train"]["convn_padding"] == "same"
    with pytest.raises(ValueError, match="different recipes.*normalization none, convn_padding valid"):
        randbits.find_randbits_runs(mixed)
    (runs,) = [randbits.find_randbits_runs(mixed / "colab")]
    assert runs[0].recipe == "normalization none, convn_padding valid"


def test_recipes_table_puts_each_root_on_its_own_rows(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """``--recipes``: one row per root and expert cell, named by the root's recipe, with both read-outs."""
    from tests.scripts import load_script

    package, colab = tmp_path / "package", tmp_path / "colab"
    for seed in (0, 1):
        _write(package, 5, 0.1, 0.0, seed, online=True)
        _write(colab, 5, 0.1, 0.0, seed, online=True, digits=0.7 + 0.01 * seed)
        path = colab / "b5_t0.1_p0" / f"seed{seed}" / "config.json"
        config = json.loads(path.read_text())
        config["train"]["convn_padding"] = "valid"
        path.write_text(json.dumps(config))
    _write(package, 5, 0.1, 0.5, 0)  # dropout: not a row of this table
    assert load_script("randbits_table").main([str(package), str(colab), "--recipes"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| package") or
            line.startswith("| convn_padding")]
    assert len(rows) == 2
    assert rows[0].startswith("| package | 5 | 0.1 | 0,1 | " + _t_cell([_digits(5, 0.1, 0, s) for s in (0, 1)]))
    assert rows[1].startswith("| convn_padding valid | 5 | 0.1 | 0,1 | " + _t_cell([0.7, 0.71]))
    assert _t_cell([_online(5, 0.1, s) for s in (0, 1)]) in rows[1] and rows[1].endswith("| 0.612 |")
