"""scripts/deep_cpu_table.py on hand-written run folders: means and paired differences with t intervals, the
Holm-corrected * mark (intervals computed here by scipy's t distribution, independently of the script)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from deep_experiments.configs import build_config
from featuredrop.config import to_dict
from tests.scripts import load_script


def _write(root: Path, dataset: str, runs: dict[tuple[str, int], list[float]], p: float = 0.5) -> None:
    for (method, strength), accs in runs.items():
        for seed, acc in enumerate(accs):
            folder = root / dataset / method / f"os{strength}_p{p:g}" / f"seed{seed}"
            folder.mkdir(parents=True)
            config = build_config({"data": {"dataset": dataset, "overlay_strength": float(strength)},
                                   "views": {"kind": method, "dropout": {"p": p}}, "train": {"seed": seed}})
            (folder / "config.json").write_text(json.dumps(to_dict(config)))
            fast = {"task_a": acc, "task_b": 0.9, "full_overlay": {"task_a": acc, "task_b": 0.99},
                    "overlay_free": {"task_a": 0.8, "task_b": 0.33}}
            (folder / "probe.json").write_text(json.dumps({"fast": fast}))


def _interval(values: list[float]) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    sem = float(np.std(values, ddof=1)) / np.sqrt(len(values))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * sem
    return mean, mean - half, mean + half


def _ci(values: list[float]) -> str:
    """An accuracy cell: mean [95 % t interval of the mean]."""
    return "{:.3f} [{:.3f}, {:.3f}]".format(*_interval(values))


def _diff(diffs: list[float], star: bool = False) -> str:
    """A difference cell: mean [paired 95 % t interval], `` *`` when it survives Holm."""
    return "{:+.3f} [{:+.3f}, {:+.3f}]".format(*_interval(diffs)) + (" *" if star else "")


def _rows(out: str) -> dict[str, list[str]]:
    return {line.split(" | ")[0]: line.split(" | ") for line in out.splitlines()[2:]}


def test_audio_table_pairs_runs_by_seed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "audio", {("expert", 0): [0.60, 0.62], ("expert", 1): [0.64, 0.65], ("dropout", 1): [0.75, 0.76]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "audio"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["| no-overlay control (expert)"][3] == _ci([0.60, 0.62])
    expert = rows["| expert"]
    # suppression (-0.04, -0.03): t = 7 on 1 degree of freedom, p = 0.09: not significant even before Holm
    assert expert[6] == _diff([-0.04, -0.03]) and expert[7] == "+0.000 [+0.000, +0.000]" and expert[8] == "—"
    # rescue (0.11, 0.11): no spread, p ~ 0, significant after Holm over the table's 5 differences;
    # dropout's suppression (-0.15, -0.14) has p = 0.02 but 4 x 0.02 > 0.05 after Holm: no mark
    assert rows["| dropout p 0.5"][8] == _diff([0.11, 0.11], star=True)
    assert rows["| dropout p 0.5"][6] == _diff([-0.15, -0.14])


def test_viewmaker_rows_carry_its_own_no_overlay_control(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+shapes", {("expert", 0): [0.77, 0.78], ("expert", 1): [0.72, 0.74],
                                  ("viewmaker", 1): [0.80, 0.81], ("viewmaker", 0): [0.83, 0.85]})
    _write(tmp_path, "c+letters", {("expert", 0): [0.1]})  # another dataset: not tabled
    _write(tmp_path, "c+shapes", {("dropout", 1): [0.79]})  # one seed: no spread shown
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+shapes"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"| no-overlay control (expert)", "| expert", "| dropout p 0.5", "| viewmaker",
                         "| viewmaker, no overlay"}
    vm = rows["| viewmaker"]
    assert vm[8] == _diff([0.08, 0.07])  # rescue: (0.80 - 0.72, 0.81 - 0.74); p 0.04 fails Holm
    assert vm[9] == _diff([0.03, 0.04]) + " |"  # own-views suppression: (0.83 - 0.80, 0.85 - 0.81)
    assert rows["| viewmaker, no overlay"][3] == _ci([0.83, 0.85]) and rows["| viewmaker, no overlay"][9] == "— |"
    assert rows["| dropout p 0.5"][3] == "0.790 (1 seed)" and rows["| dropout p 0.5"][8] == "+0.070 (1 seed)"


def _stamp(root: Path, revision: str) -> None:
    """Give every run under ``root`` a provenance.json naming ``revision`` (as collect_runs.py writes it)."""
    for probe in root.rglob("probe.json"):
        (probe.parent / "provenance.json").write_text(json.dumps({"code_revision": revision}))


def test_added_roots_join_the_main_table_only_at_one_code_revision(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """--add: the viewmaker's runs in their own root give the same table as one root holding everything, and
    roots of two revisions, an unstamped run, a seed twice or another mode are refused."""
    one, base, extra = tmp_path / "one", tmp_path / "base", tmp_path / "extra"
    plain = {("expert", 0): [0.77, 0.78], ("expert", 1): [0.72, 0.74]}
    vm = {("viewmaker", 1): [0.80, 0.81], ("viewmaker", 0): [0.83, 0.85]}
    _write(one, "c+shapes", {**plain, **vm})
    _write(base, "c+shapes", plain)
    _write(extra, "c+shapes", vm)
    script = load_script("deep_cpu_table")
    assert script.main([str(one), "--dataset", "c+shapes"]) == 0
    whole = capsys.readouterr().out
    assert script.main([str(base), "--add", str(extra), "--dataset", "c+shapes"]) == 1  # no revision recorded
    assert "provenance.json" in capsys.readouterr().err
    _stamp(base, "abc1234")
    _stamp(extra, "abc1234")
    assert script.main([str(base), "--add", str(extra), "--dataset", "c+shapes"]) == 0
    assert capsys.readouterr().out == whole and "| viewmaker, no overlay" in whole
    _stamp(extra, "def5678")
    assert script.main([str(base), "--add", str(extra), "--dataset", "c+shapes"]) == 1
    err = capsys.readouterr().err
    assert "2 code revisions" in err and "abc1234" in err and "def5678" in err
    _stamp(extra, "abc1234")
    _write(extra, "c+shapes", {("expert", 0): [0.5]}, p=0.9)  # seed 0 of the control again, in the added root
    _stamp(extra, "abc1234")
    assert script.main([str(base), "--add", str(extra), "--dataset", "c+shapes"]) == 1
    assert "two runs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main([str(base), "--add", str(extra), "--dataset", "c+shapes", "--sweeps"])


def test_added_roots_need_a_readable_revision_in_every_tabled_run(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Provenance files without a revision never pass as "one revision"; a corrupt one is named (exit 2); runs of
    another dataset, which the table does not read, do not block it."""
    base, extra = tmp_path / "base", tmp_path / "extra"
    _write(base, "c+shapes", {("expert", 0): [0.77, 0.78], ("expert", 1): [0.72, 0.74]})
    _write(extra, "c+shapes", {("viewmaker", 1): [0.80, 0.81]})
    script = load_script("deep_cpu_table")
    argv = [str(base), "--add", str(extra), "--dataset", "c+shapes"]
    for probe in tmp_path.rglob("probe.json"):
        (probe.parent / "provenance.json").write_text(json.dumps({"python": "3.11"}))
    assert script.main(argv) == 1
    assert "no code_revision" in capsys.readouterr().err
    _stamp(base, "abc1234")
    _stamp(extra, "abc1234")
    bad = next(extra.rglob("provenance.json"))
    for text, code in (("{not json", 2), ("[1, 2]", 2), (json.dumps({"code_revision": None}), 1)):
        bad.write_text(text)
        assert script.main(argv) == code
        assert "provenance.json" in capsys.readouterr().err
    _stamp(extra, "abc1234")
    _write(extra, "c+letters", {("expert", 0): [0.5]})
    _stamp(extra / "c+letters", "def5678")  # another dataset at another revision: not in this table
    assert script.main(argv) == 0
    with pytest.raises(SystemExit):
        script.main([str(base), "--add", str(base), "--dataset", "c+shapes"])


def test_no_runs_of_the_dataset_is_one_line_and_exit_1(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "audio", {("expert", 0): [0.6]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+digits"]) == 1
    assert capsys.readouterr().err.startswith("deep_cpu_table: ")


def test_sweeps_table_rows_per_cell_and_rescue_paired_at_the_same_strength(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+digits", {("expert", 0): [0.70, 0.72], ("expert", 1): [0.74, 0.75],
                                  ("dropout", 1): [0.78, 0.81], ("viewmaker", 1): [0.9]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+digits", "--sweeps"]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split(" | ")[:4] for line in lines] == [["| expert", "0", "—", "0,1"], ["| expert", "1", "—", "0,1"],
                                                          ["| dropout", "1", "0.5", "0,1"]]  # no viewmaker row
    assert lines[0].split(" | ")[4] == _ci([0.70, 0.72]) and lines[0].endswith("| — |")
    assert lines[2].endswith(f"| {_diff([0.04, 0.06])} |")  # (0.78 - 0.74, 0.81 - 0.75): p 0.13


def test_sweeps_order_partial_pairing_and_strengths_without_expert(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+digits", {("expert", 1): [0.74, 0.75], ("expert", 0.5): [0.70]})
    _write(tmp_path, "c+digits", {("dropout", 1): [0.80, 0.80, 0.81], ("dropout", 0.5): [0.72],
                                  ("dropout", 0.25): [0.7]}, p=0.5)
    _write(tmp_path, "c+digits", {("dropout", 1): [0.76]}, p=0.9)
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+digits", "--sweeps"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[:3] for r in rows] == [["| expert", "0.5", "—"], ["| expert", "1", "—"], ["| dropout", "0.25", "0.5"],
                                     ["| dropout", "0.5", "0.5"], ["| dropout", "1", "0.5"], ["| dropout", "1", "0.9"]]
    assert rows[2][-1] == "— |"  # no expert run at strength 0.25
    assert rows[3][-1] == "+0.020 (1 seed) |"  # paired with seed 0 of the expert runs at 0.5 (p 0.5 folder)
    assert rows[4][-1] == f"{_diff([0.06, 0.05])} (n=2) |"  # seed 2 has no expert run: two pairs of three


def test_sweeps_refuse_two_runs_of_one_cell_and_seed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Expert views ignore dropout p: expert runs at one strength in two p folders are one cell, and a seed
    there twice is an error (one line, exit 1), not averaged twice."""
    _write(tmp_path, "c+digits", {("expert", 0.5): [0.70]})
    _write(tmp_path, "c+digits", {("expert", 0.5): [0.90]}, p=0.9)
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+digits", "--sweeps"]) == 1
    assert "two runs of one sweep cell and seed" in capsys.readouterr().err


def test_versus_expert_pairs_both_image_kinds_and_uses_per_bit_task_b(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+digits", {("expert", 0): [0.70], ("expert", 1): [0.74, 0.75], ("hierarchical", 1): [0.73, 0.71]})
    _write(tmp_path, "randbit", {("expert", 1): [0.80, 0.84], ("viewmaker", 1): [0.70, 0.70, 0.9]})
    for folder in (tmp_path / "randbit").rglob("probe.json"):  # per-bit accuracy beside the pattern accuracy
        probe = json.loads(folder.read_text())
        probe["fast"]["task_b_bits"] = 0.5
        probe["fast"]["overlay_free"]["task_a"] = 0.9 if "viewmaker" in str(folder) else 0.95
        folder.write_text(json.dumps(probe))
    script = load_script("deep_cpu_table")
    assert script.main([str(tmp_path), "--dataset", "c+digits", "randbit", "--versus-expert"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[:3] for r in rows] == [["| c+digits", "no-overlay control (expert)", "0"], ["| c+digits", "expert", "0,1"],
                                     ["| c+digits", "hierarchical", "0,1"], ["| randbit", "expert", "0,1"],
                                     ["| randbit", "viewmaker", "0,1,2"]]
    assert rows[0][5:] == ["—", "—", "— |"]
    assert rows[2][6] == _diff([-0.01, -0.04]) and rows[2][7] == "+0.000 [+0.000, +0.000] |"  # (0.73-0.74, 0.71-0.75)
    assert rows[2][5] == "0.990 [0.990, 0.990]"  # images' task B without a per-bit accuracy
    viewmaker = rows[4]
    assert viewmaker[5] == "0.500 [0.500, 0.500]"  # per bit, not the pattern accuracy 0.99
    # seed 2 has no expert run; (0.70 - 0.80, 0.70 - 0.84) has p 0.13; overlay-free (-0.05, -0.05) has no
    # spread (p ~ 0) and survives Holm
    assert viewmaker[6] == f"{_diff([-0.10, -0.14])} (n=2)" and viewmaker[7] == f"{_diff([-0.05, -0.05], True)} (n=2) |"


def test_several_datasets_need_versus_expert(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+digits", "randbit"])
    assert exit_info.value.code == 2


def test_versus_expert_refuses_a_seed_twice_and_probes_without_controls(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+digits", {("expert", 1): [0.74], ("dropout", 1): [0.80]})
    _write(tmp_path, "c+digits", {("expert", 1): [0.70]}, p=0.9)  # expert seed 0 again, under another unused p
    _write(tmp_path, "c+digits", {("dropout", 1): [0.5]}, p=0.9)  # dropout off p 0.5: not in this table
    script = load_script("deep_cpu_table")
    assert script.main([str(tmp_path), "--dataset", "c+digits", "--versus-expert"]) == 1
    assert "two runs of one method and seed" in capsys.readouterr().err
    _write(tmp_path / "b", "c+digits", {("expert", 1): [0.74], ("dropout", 1): [0.80]})
    _write(tmp_path / "b", "c+digits", {("dropout", 1): [0.5]}, p=0.9)
    assert script.main([str(tmp_path / "b"), "--dataset", "c+digits", "--versus-expert"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows[1][1] == "dropout p 0.5" and rows[1][6] == "+0.060 (1 seed)"
    probe = next((tmp_path / "b").rglob("probe.json"))
    probe.write_text(json.dumps({"fast": {"task_a": 0.7, "task_b": 0.9}}))  # a run probed without overlay controls
    assert script.main([str(tmp_path / "b"), "--dataset", "c+digits", "--versus-expert"]) == 1
    assert "without overlay controls" in capsys.readouterr().err


def test_contrasts_pair_each_kind_of_run_by_seed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+letters", {("expert", 0): [0.76, 0.77, 0.75], ("expert", 1): [0.71, 0.72, 0.71],
                                   ("deshared", 1): [0.80, 0.79, 0.80], ("dropout", 1): [0.78, 0.79, 0.78]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+letters", "--contrasts"]) == 0
    rows = {r.split(" | ")[1]: r.split(" | ") for r in capsys.readouterr().out.splitlines()[2:]}
    assert rows["suppression"][3] == _diff([0.05, 0.05, 0.04], star=True)  # control - expert
    assert rows["sharing"][3] == _diff([0.09, 0.07, 0.09], star=True)  # deshared - expert
    assert rows["presence"][3] == _diff([-0.04, -0.02, -0.05])  # control - deshared: p 0.04 fails Holm
    assert rows["dropout beyond de-sharing"][3] == _diff([-0.02, 0.0, -0.02])
    assert rows["overlay-free gap"][3] == "+0.000 [+0.000, +0.000]" and rows["rescue"][4] == "0,1,2 |"


def test_headline_states_the_regime_from_the_configs_and_the_contrasts(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+letters", {("expert", 0): [0.76, 0.77, 0.75], ("expert", 1): [0.71, 0.72, 0.71],
                                   ("deshared", 1): [0.80, 0.79, 0.80], ("dropout", 1): [0.78, 0.79, 0.78]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+letters", "--headline"]) == 0
    text = capsys.readouterr().out
    _, low, high = _interval([0.05, 0.05, 0.04])
    assert text.startswith("On C+Letters (photo-crop base, simclr views, a ResNet-18 of width 64 and 200 epochs)")
    assert f"+4.7 points (95 % CI {low * 100:+.1f} to {high * 100:+.1f}, n = 3, significant after Holm)" in text


def test_headline_refuses_runs_of_different_regimes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "c+letters", {("expert", 1): [0.71, 0.72]})
    config = tmp_path / "c+letters/expert/os1_p0.5/seed1/config.json"
    data = json.loads(config.read_text())
    data["train"]["width"] = 16
    config.write_text(json.dumps(data))
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+letters", "--headline"]) == 1
    assert "no single regime" in capsys.readouterr().err


def test_draw_spread_reads_only_runs_with_several_draws() -> None:
    """Runs probed with one draw beside runs probed with several: the spread uses the latter, says so, and
    does not fail on the former (whichever comes first)."""
    from paper_figures.deep import DeepRun

    def run(draws: list[float] | None) -> DeepRun:
        full = {"task_a": 0.7, "task_b": 0.1} | ({"draws": {"task_a": draws, "task_b": draws}} if draws else {})
        return DeepRun(Path("/r"), "c+letters", "expert", 1.0, 0.5, 0, {"fast": {"full_overlay": full}})

    script = load_script("deep_cpu_table")
    text = script.draw_spread([run(None), run([0.70, 0.72]), run([0.70, 0.70, 0.73])])
    assert "2 runs' probe numbers are means over 2 or 3 draws" in text and "(1 runs: one draw)" in text
    assert f"{np.mean([np.std([0.70, 0.72], ddof=1), np.std([0.70, 0.70, 0.73], ddof=1)]):.4f}" in text
    assert script.draw_spread([run(None)]) == ""


@pytest.mark.parametrize("mode", [[], ["--sweeps"], ["--contrasts"], ["--headline"], ["--versus-expert"], ["--theory"]])
def test_a_corrupt_run_is_one_line_naming_it_and_exit_2_in_every_mode(tmp_path: Path, capsys, mode) -> None:  # noqa: ANN001
    """A table of record never drops a seed silently: one unreadable run refuses the table, naming its file."""
    _write(tmp_path, "c+letters", {("expert", 0): [0.77, 0.78], ("expert", 1): [0.72, 0.74], ("dropout", 1): [0.8, 0.81]})
    bad = tmp_path / "c+letters" / "dropout" / "os1_p0.5" / "seed1" / "config.json"
    bad.write_text("{garbage")
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "c+letters", *mode]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and str(bad) in captured.err
