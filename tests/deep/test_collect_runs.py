"""scripts/collect_runs.py: finished runs copied without checkpoints, with provenance; nothing overwritten silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts import load_script


def _run(root: Path, name: str, finished: bool) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for file in ("config.json", "metrics.jsonl", "command.txt"):
        (folder / file).write_text("{}")
    for file in ("checkpoint.pt", "backbone.pt", "viewmaker.pt"):
        (folder / file).write_bytes(b"x")
    if finished:
        (folder / "probe.json").write_text("{}")
    return folder


def test_finished_runs_are_copied_without_checkpoints_and_with_provenance(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    src, dst = tmp_path / "runs", tmp_path / "results"
    _run(src, "c+letters/expert/os1_p0.5/seed0", finished=True)
    _run(src, "c+letters/expert/os1_p0.5/seed1", finished=False)
    script = load_script("collect_runs")
    assert script.main([str(src), str(dst), "--revision", "abc1234"]) == 0
    out = capsys.readouterr().out
    assert "1 runs copied" in out and "seed1" in out
    copied = dst / "c+letters/expert/os1_p0.5/seed0"
    assert {p.name for p in copied.iterdir()} == {"config.json", "metrics.jsonl", "command.txt", "probe.json",
                                                 "viewmaker.pt", "provenance.json"}
    provenance = json.loads((copied / "provenance.json").read_text())
    assert provenance["code_revision"] == "abc1234" and provenance["torch"] and provenance["scikit-learn"]
    assert not (dst / "c+letters/expert/os1_p0.5/seed1").exists()
    with pytest.raises(SystemExit) as refused:  # exists: refused as a bad input (exit 2), nothing overwritten
        script.main([str(src), str(dst), "--revision", "abc1234"])
    assert refused.value.code == 2 and "--force" in capsys.readouterr().err
    assert script.main([str(src), str(dst), "--revision", "abc1234", "--force"]) == 0
    with pytest.raises(SystemExit) as missing:
        script.main([str(tmp_path / "nowhere"), str(dst), "--revision", "x"])
    assert missing.value.code == 2
