"""scripts/deep_cpu_table.py on hand-written run folders: means, paired differences, the * mark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def _rows(out: str) -> dict[str, list[str]]:
    return {line.split(" | ")[0]: line.split(" | ") for line in out.splitlines()[2:]}


def test_audio_table_pairs_runs_by_seed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _write(tmp_path, "audio", {("expert", 0): [0.60, 0.62], ("expert", 1): [0.64, 0.65], ("dropout", 1): [0.75, 0.76]})
    assert load_script("deep_cpu_table").main([str(tmp_path), "--dataset", "audio"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["| no-overlay control (expert)"][3] == "0.610 ± 0.014"
    expert = rows["| expert"]
    assert expert[6] == "-0.035 ± 0.007 *" and expert[7] == "+0.000 ± 0.000" and expert[8] == "—"
    assert rows["| dropout p 0.5"][8] == "+0.110 ± 0.000 *"


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
    assert vm[8] == "+0.075 ± 0.007 *"  # rescue: (0.80 - 0.72, 0.81 - 0.74)
    assert vm[9] == "+0.035 ± 0.007 * |"  # own-views suppression: (0.83 - 0.80, 0.85 - 0.81)
    assert rows["| viewmaker, no overlay"][3] == "0.840 ± 0.014" and rows["| viewmaker, no overlay"][9] == "— |"
    assert rows["| dropout p 0.5"][3] == "0.790 (1 seed)" and rows["| dropout p 0.5"][8] == "+0.070 (1 seed)"


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
    assert lines[0].split(" | ")[4] == "0.710 ± 0.014" and lines[0].endswith("| — |")
    assert lines[2].endswith("| +0.050 ± 0.014 * |")  # (0.78 - 0.74, 0.81 - 0.75)


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
    assert rows[4][-1] == "+0.055 ± 0.007 * (n=2) |"  # seed 2 has no expert run: two pairs of three


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
    assert rows[2][6] == "-0.025 ± 0.021" and rows[2][7] == "+0.000 ± 0.000 |"  # (0.73-0.74, 0.71-0.75)
    assert rows[2][5] == "0.990 ± 0.000"  # images' task B without a per-bit accuracy
    viewmaker = rows[4]
    assert viewmaker[5] == "0.500 ± 0.000"  # per bit, not the pattern accuracy 0.99
    assert viewmaker[6] == "-0.120 ± 0.028 * (n=2)" and viewmaker[7] == "-0.050 ± 0.000 * (n=2) |"  # seed 2: no expert


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
