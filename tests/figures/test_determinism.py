"""A figure's files do not depend on the call that drew it: ``make figures`` twice, or ``--only NAME`` after it, leave
``git status`` clean.

Each figure's JSON records the command that redraws that one figure (not the ``--only``/``--skip`` list of the
call), the PDF carries no creation date, floats are rounded, and the run stamps go to the untracked
``stamps.json``: so the same figure drawn by two different calls is the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from paper_figures.__main__ import main

FILES = ("png", "pdf", "csv", "json")


def _draw(out: Path, *only: str) -> dict[str, bytes]:
    assert main(["--quick", "--out", str(out), "--results", str(out / "none"), "--only", *only]) == 0
    return {ext: (out / f"phase_diagram.{ext}").read_bytes() for ext in FILES}


def test_the_same_figure_from_two_calls_is_the_same_bytes(tmp_path: Path) -> None:
    alone = _draw(tmp_path, "phase_diagram")
    with_another = _draw(tmp_path, "randbit_linear", "phase_diagram")  # another --only list, the same --out
    assert alone == with_another
    command = json.loads(alone["json"])["provenance"]["command"]
    assert command == (f"python -m paper_figures --out {tmp_path} --only phase_diagram --quick "
                       f"--results {tmp_path / 'none'} --randbits runs/randbits")
    assert json.loads((tmp_path / "stamps.json").read_text())["phase_diagram"]["created_utc"]  # the time: untracked


def test_no_results_skips_the_deep_figures_with_the_command_that_makes_them(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A fresh clone without runs or data: the figures that need them are named with their command, exit 0."""
    assert main(["--quick", "--out", str(tmp_path), "--results", str(tmp_path / "none"), "--randbits",
                 str(tmp_path / "none"), "--only", "deep_probe_accuracy", "viewmaker_views", "randbits"]) == 0
    out = capsys.readouterr().out
    assert "0 figure(s) written" in out and "3 skipped (deep_probe_accuracy, viewmaker_views, randbits)" in out
    assert out.count("skipped: no results at") == 6  # once as each is reached, once more in the list at the end
    tail = out.splitlines()[-3:]
    assert [line.split()[0] for line in tail] == ["deep_probe_accuracy", "viewmaker_views", "randbits"]
    assert "deep_cpu_grid.py" in tail[0] and "randbits_colab.py" in tail[2]
