"""The sweep CLI: files, the phase structure in its CSV, and one-line errors on bad input."""

import csv
import json

import numpy as np
import pytest

from featuredrop.config import from_dict
from linear_theory import FeatureBlock, LinearModel, critical_dropout
from linear_theory.sweep import SweepConfig, closed_form_sweep, main


def _read(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_sweep_csv_shows_suppression_and_rescue(tmp_path, capsys):
    """Without dropout the weak task gets R^2 = 0; above p* it gets its full share, below it none."""
    assert main(["--ratio", "0.1:1:5", "--dropout", "0:0.9:19", "--out", str(tmp_path), "--no-progress"]) == 0
    rows = _read(tmp_path / "sweep.csv")
    assert len(rows) == 5 * 19
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["ratio"] == [0.1, 1.0, 5]
    for row in rows:
        ratio, p, p_star = float(row["ratio"]), float(row["dropout"]), float(row["p_star"])
        # independent recomputation through the scalar model API
        model = LinearModel((FeatureBlock(4, 3.0), FeatureBlock(4, 3.0 * ratio, aug_noise=0.5)), 4, 0.1)
        assert p_star == pytest.approx(critical_dropout(model, 0, 1), rel=1e-8)
        r2_weak = float(row["probe_r2_1"])
        if p == 0 or p < p_star - 1e-9:
            assert r2_weak == 0.0
        elif p > p_star + 1e-9:
            assert r2_weak == pytest.approx(9 * ratio**2 / (9 * ratio**2 + 0.01), rel=1e-8)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--ratio", "1:2"],
        ["--ratio", "0:1:5"],
        ["--dropout", "0:1.5:3"],
        ["--rep-dim", "0"],
        ["--dims", "4"],
        ["--noise", "nan"],
        ["--loss", "mse"],
        ["--unknown-flag", "1"],
        ["--input-dim", "3"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main([*argv, "--out", str(tmp_path / "x")])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not (tmp_path / "x").exists()


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown SweepConfig option"):
        from_dict(SweepConfig, {"ratios": [0.1, 1, 3]})


def test_closed_form_sweep_shapes_and_accuracy_range():
    res = closed_form_sweep(SweepConfig(ratio=(0.1, 1, 3), dropout=(0, 0.5, 4)))
    assert res["probe_r2"].shape == (3, 4, 2) and res["p_star"].shape == (3, 4)
    assert np.all((res["probe_accuracy"] >= 0.5) & (res["probe_accuracy"] <= 1))


def test_infonce_sweep_writes_simulated_rows_that_follow_the_phases(tmp_path):
    """The InfoNCE branch trains at every point: without dropout the weak task stays near 0, at
    p = 0.6 (well above p* ~ 0.2) it is learned — a short run of docs/linear-theory.md's setting."""
    argv = ["--loss", "infonce", "--ratio", "0.34", "--dropout", "0:0.6:2", "--steps", "300",
            "--init-scale", "1.0", "--input-dim", "16", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    rows = [r for r in _read(tmp_path / "sweep.csv") if r["method"] == "infonce_simulation"]
    assert len(rows) == 2
    by_p = {float(r["dropout"]): float(r["probe_r2_1"]) for r in rows}
    assert by_p[0.0] < 0.2 and by_p[0.6] > 0.7


def test_existing_out_same_config_is_rewritten_another_needs_overwrite(tmp_path, capsys):
    """The sweep's answer to an existing --out (README: 'Existing output folders and bad input')."""
    out = str(tmp_path / "s")
    assert main(["--ratio", "0.5", "--dropout", "0:0.5:3", "--out", out, "--no-progress"]) == 0
    csv_before = (tmp_path / "s" / "sweep.csv").read_bytes()
    assert main(["--ratio", "0.5", "--dropout", "0:0.5:3", "--out", out, "--no-progress"]) == 0
    assert (tmp_path / "s" / "sweep.csv").read_bytes() == csv_before
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["--ratio", "0.7", "--dropout", "0:0.5:3", "--out", out, "--no-progress"])
    assert exc.value.code == 2 and "different config" in capsys.readouterr().err
    assert (tmp_path / "s" / "sweep.csv").read_bytes() == csv_before
    assert main(["--ratio", "0.7", "--dropout", "0:0.5:3", "--out", out, "--no-progress", "--overwrite"]) == 0
    assert json.loads((tmp_path / "s" / "config.json").read_text())["config"]["ratio"] == [0.7, 0.7, 1]


def test_infonce_summary_says_what_was_computed(tmp_path, capsys):
    argv = ["--loss", "infonce", "--ratio", "0.34", "--dropout", "0:0.6:2", "--steps", "20", "--batch-size", "16",
            "--input-dim", "16", "--seeds", "2", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "spectral closed form:" in out and "infonce_simulation (mean of 2 seed(s)):" in out


TINY_INFONCE = ["--loss", "infonce", "--ratio", "0.3:0.9:3", "--dropout", "0:0.5:2", "--steps", "5", "--batch-size", "8",
                "--input-dim", "16"]


def test_a_killed_infonce_sweep_resumes_from_its_cache_and_names_each_block(tmp_path, capsys, monkeypatch):
    """Blocks of 2 models (3 blocks for 6 points): a kill in block 2 keeps block 1; the rerun trains blocks 2 and 3
    only, says which block it is on, and writes the same CSV as an uninterrupted sweep."""
    import linear_theory.infonce_runs as runs

    monkeypatch.setattr(runs, "MAX_BATCH", 2)
    real, calls = runs.train_batch, []

    def killed_in_block_2(models, seeds, simulation, progress=False):  # noqa: ANN001, ANN202
        calls.append(len(models))
        if len(calls) == 2:
            raise KeyboardInterrupt  # what a kill leaves: block 1 cached, nothing written after
        return real(models, seeds, simulation, progress)

    monkeypatch.setattr(runs, "train_batch", killed_in_block_2)
    with pytest.raises(KeyboardInterrupt):
        main([*TINY_INFONCE, "--out", str(tmp_path / "sweep")])
    assert not (tmp_path / "sweep" / "sweep.csv").exists() and len(list((tmp_path / "sweep" / "cache").iterdir())) == 1
    calls.clear()
    monkeypatch.setattr(runs, "train_batch", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    capsys.readouterr()
    assert main([*TINY_INFONCE, "--out", str(tmp_path / "sweep")]) == 0
    assert calls == [2, 2]  # blocks 2 and 3; block 1 came from the cache
    err = capsys.readouterr().err
    assert "InfoNCE block 2/2 (2 runs)" in err  # of the blocks left to train
    assert main([*TINY_INFONCE, "--out", str(tmp_path / "straight"), "--no-progress"]) == 0
    assert (tmp_path / "sweep" / "sweep.csv").read_text() == (tmp_path / "straight" / "sweep.csv").read_text()


def test_a_corrupt_infonce_cache_is_trained_again(tmp_path, capsys):
    assert main([*TINY_INFONCE, "--out", str(tmp_path), "--no-progress"]) == 0
    before = (tmp_path / "sweep.csv").read_text()
    (cache,) = (tmp_path / "cache").iterdir()
    cache.write_text('{"runs": {"k=4 d=16": "garbage"')  # truncated
    capsys.readouterr()
    assert main([*TINY_INFONCE, "--out", str(tmp_path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: the InfoNCE cache") and str(cache) in err and len(err.splitlines()) == 1
    assert (tmp_path / "sweep.csv").read_text() == before and json.loads(cache.read_text())["runs"]
