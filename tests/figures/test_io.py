"""Saving a figure with its table: the four files, strict JSON, provenance, CSV = JSON rows."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from paper_figures.io import FORMATS, git_revision, load_table, save_figure, table_rows, to_jsonable
from paper_figures.style import new_figure


def _fig():
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    return fig


def test_save_figure_writes_four_files_with_provenance(tmp_path):
    rows = [{"panel": "a", "x": 0.5, "y": float("nan")}, {"panel": "b", "x": 1, "z": np.float64(2.0)}]
    paths = save_figure(_fig(), rows, tmp_path / "out", "demo", command="python -m paper_figures --only demo",
                        config={"steps": 3, "grid": (1, 2)})
    assert set(paths) == set(FORMATS)
    for ext, path in paths.items():
        assert path == tmp_path / "out" / f"demo.{ext}"
        assert path.stat().st_size > 0
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"

    record = json.loads(paths["json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    prov = record["provenance"]
    assert prov["command"] == "python -m paper_figures --only demo"
    assert prov["config"] == {"steps": 3, "grid": [1, 2]}
    assert "git_revision" not in prov and "created_utc" not in prov  # run stamps stay out of tracked files
    stamps = json.loads((tmp_path / "out" / "stamps.json").read_text())["demo"]
    assert stamps["git_revision"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", stamps["git_revision"])
    assert record["columns"] == ["panel", "x", "y", "z"]
    table = load_table(paths["json"])
    assert table == [{"panel": "a", "x": 0.5, "y": None, "z": None}, {"panel": "b", "x": 1, "y": None, "z": 2.0}]

    with paths["csv"].open() as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["panel"] for r in csv_rows] == ["a", "b"]
    assert float(csv_rows[0]["x"]) == 0.5 and math.isnan(float(csv_rows[0]["y"]))
    assert csv_rows[1]["y"] == "" and float(csv_rows[1]["z"]) == 2.0


def test_git_revision_outside_a_repository_is_unknown(tmp_path):
    assert git_revision(tmp_path) == "unknown"


def test_table_rows_from_dict_of_arrays():
    rows = table_rows({"x": np.arange(4.0).reshape(2, 2), "y": np.ones((2, 2))})
    assert rows == [{"x": 0.0, "y": 1.0}, {"x": 1.0, "y": 1.0}, {"x": 2.0, "y": 1.0}, {"x": 3.0, "y": 1.0}]
    with pytest.raises(ValueError, match="common shape"):
        table_rows({"x": np.arange(3), "y": np.arange(4)})
    with pytest.raises(ValueError, match="empty"):
        table_rows([])


def test_to_jsonable_is_strict():
    out = to_jsonable({"a": np.array([1.0, np.inf]), "b": (np.int64(2), float("nan"))})
    assert out == {"a": [1.0, None], "b": [2, None]}
    json.dumps(out, allow_nan=False)


def test_a_rerun_rewrites_the_figure_files_byte_for_byte(tmp_path):
    """Floats are rounded and run stamps kept in stamps.json, so `make figures` leaves a clean tree."""
    rows = [{"x": 0.1 + 0.2, "y": 1 / 3}]
    first = save_figure(_fig(), rows, tmp_path, "demo", command="c", config={"a": 0.1 + 0.2})
    before = {ext: path.read_bytes() for ext, path in first.items()}
    rows = [{"x": 0.30000000000000004 * (1 + 1e-12), "y": 1 / 3}]  # last-digit noise of a recomputation
    second = save_figure(_fig(), rows, tmp_path, "demo", command="c", config={"a": 0.1 + 0.2})
    assert {ext: path.read_bytes() for ext, path in second.items()} == before
    assert load_table(second["json"]) == [{"x": 0.3, "y": 0.33333333}]
