"""scripts/bench_table.py prints the benchmarks' JSON records as they are, and a benchmark's --json feeds it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _record(name: str, date: str, targets: list[dict], threads: int = 1, load: tuple = (2.34, 3.06)) -> dict:
    return {"benchmark": name, "command": f"python benchmarks/{name}.py", "date_utc": date,
            "machine": {"cpu": "Test CPU 9000", "cores": 2, "torch": "9.9.9", "threads": threads,
                        "omp_num_threads": str(threads), "load_avg_1min": {"start": load[0], "end": load[1]}},
            "rows": [], "speed_targets": targets}


def _target(name: str, target: str, unit: str, measured: float | None, met: bool | None, note: str = "") -> dict:
    return {"name": name, "target": target, "unit": unit, "measured": measured, "met": met, "note": note,
            "bound": "max", "value": 1.0}


def _print_table(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, str, str]:
    code = load_script("bench_table").main([str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_copies_each_number_of_the_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = _record("bench_b", "2026-12-08T10:00:00Z", [
        _target("ratio target", ">= 0.97x", "x", 0.96649, False),
        _target("gpu target", ">= 1.5x", "x", None, None, "needs one GPU")], threads=2, load=(5.05, 4.449))
    first = _record("bench_a", "2026-12-07T09:00:00Z", [_target("seconds target", "< 300 s", "s", 164.237, True)])
    (tmp_path / "a_later.json").write_text(json.dumps(later))
    (tmp_path / "z_first.json").write_text(json.dumps(first))
    (tmp_path / "no_target.json").write_text(json.dumps(_record("bench_c", "2026-12-09T00:00:00Z", [])))
    code, out, err = _print_table(capsys, tmp_path)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "| benchmark | target | measured | met? | threads | load | date |"
    assert lines[2] == "| `bench_a`: seconds target | < 300 s | 164 s | yes | 1 | 2.3 → 3.1 | 2026-12-07 |"
    assert lines[3] == "| `bench_b`: ratio target | >= 0.97x | 0.966x | **no** | 2 | 5.0 → 4.4 | 2026-12-08 |"
    assert lines[4] == "| `bench_b`: gpu target | >= 1.5x | — | not measured (needs one GPU) | 2 | 5.0 → 4.4 | 2026-12-08 |"
    assert lines[5] == "| `bench_c`: states no speed target | — | — | — | 1 | 2.3 → 3.1 | 2026-12-09 |"
    assert lines[-1].startswith("Machine: Test CPU 9000, 2 cores, torch 9.9.9.")


@pytest.mark.parametrize("text", ["{not json", json.dumps({"benchmark": "x"}), json.dumps(
    _record("bench_a", "2026-12-07T09:00:00Z", [_target("t", "< 1 s", "s", 0.5, "yes")]))])
def test_a_file_that_is_no_record_is_refused_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       text: str) -> None:
    (tmp_path / "bad.json").write_text(text)
    code, out, err = _print_table(capsys, tmp_path)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "bad.json" in err


def test_nothing_to_read_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _print_table(capsys, tmp_path)
    assert code == 1 and out == "" and len(err.splitlines()) == 1 and str(tmp_path) in err


def test_a_benchmarks_json_is_read_by_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_closed_form (0.1 s) writes its record; the table shows its target and its measured mean."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_closed_form", None)
    import bench_closed_form

    out = tmp_path / "new" / "bench_closed_form.json"
    bench_closed_form.cli(["--repeats", "2", "--json", str(out)])
    capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["command"].endswith(f"bench_closed_form.py --repeats 2 --json {out}")
    assert set(data["machine"]) >= {"cpu", "cores", "torch", "threads", "load_avg_1min"}
    (target,) = data["speed_targets"]
    assert target["measured"] == data["rows"][0]["mean_s"] and target["met"] == (target["measured"] < 2.0)
    code, printed, _ = _print_table(capsys, out.parent)
    assert code == 0 and f"| < 2 s | {target['measured']:.3g} s | yes |" in printed


@pytest.mark.parametrize(("bound", "measured", "met"), [("max", 1.999, True), ("max", 2.0, False), ("min", 0.97, True),
                                                        ("min", 0.969, False), ("min", None, None),
                                                        ("max", float("nan"), None)])
def test_a_target_is_met_only_on_its_side_of_the_bound(monkeypatch: pytest.MonkeyPatch, bound: str,
                                                      measured: float | None, met: bool | None) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from record import SpeedTarget

    value = 2.0 if bound == "max" else 0.97
    out = SpeedTarget("t", bound, value, "s" if bound == "max" else "x", measured).as_dict()
    assert out["met"] is met and out["target"] == ("< 2 s" if bound == "max" else ">= 0.97x")
