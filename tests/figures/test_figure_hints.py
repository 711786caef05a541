"""The commands that skipped deep figures print (``skipped: ... (run COMMAND)``) do what they say."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from paper_figures.registry import default_registry


def _grid_hints() -> list[str]:
    hints = {spec.hint for spec in default_registry().values() if "deep_cpu_grid.py" in (spec.hint or "")}
    return sorted(hints)


def test_there_are_grid_hints() -> None:
    assert _grid_hints()


@pytest.mark.parametrize("hint", _grid_hints())
def test_grid_hint_writes_into_the_folder_the_figure_reads(hint: str, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """``--extra`` swallows every flag after it: the hint's ``--out DIR`` must reach the grid itself.

    Run from a folder that has the hint's ``--data-dir`` (the grid checks it before any run; a fresh
    clone has no ``.data``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import deep_cpu_grid

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".data").mkdir()

    command, _, then = hint.partition(", then ")
    assert then == "--results DIR"
    words = shlex.split(command)
    argv = words[words.index("scripts/deep_cpu_grid.py") + 1:]
    roots = []

    def fake_run_grid(runs, root, jobs, report=None):  # noqa: ANN001, ANN202
        roots.append(Path(root))
        assert all("DIR" not in flag for run in runs for flag in run.flags)
        return []

    monkeypatch.setattr(deep_cpu_grid, "run_grid", fake_run_grid)
    deep_cpu_grid.main(argv)
    assert roots == [Path("DIR")]


def test_each_deep_figure_skips_with_its_own_hint(tmp_path: Path) -> None:
    """A figure with no run folders names the command of its own spec (deep_suppression needs controls)."""
    from paper_figures.registry import FigureContext, render

    ctx = FigureContext(out=tmp_path / "out", results=tmp_path / "empty")
    for spec in default_registry().values():
        if "deep_cpu_grid.py" in (spec.hint or ""):
            outcome = render(spec, ctx)
            assert outcome.status == "skipped" and outcome.message.endswith(f"(run {spec.hint})"), outcome.message
