"""The figure registry: missing results skip a figure with one line; the CLI runs offline."""

from __future__ import annotations

import json

import pytest

from paper_figures.__main__ import main
from paper_figures.registry import (
    FigureContext,
    FigureSpec,
    MissingResults,
    default_registry,
    render,
    render_all,
)
from paper_figures.style import new_figure

THEORY_FIGURES = ("phase_diagram", "learning_curves", "spectral_vs_infonce")


def _draw(config, ctx):
    fig, ax = new_figure()
    ax.plot(config["x"], config["x"])
    return fig, [{"x": x} for x in config["x"]]


def _deep_spec(path):
    return FigureSpec("deep_demo", "a deep-arm figure", lambda quick: {"x": [0, 1]}, _draw,
                      requires=lambda ctx: (ctx.results / path,), hint="make deep-runs")


def test_missing_results_skip_with_one_line(tmp_path):
    ctx = FigureContext(out=tmp_path / "figs", results=tmp_path / "runs")
    outcome = render(_deep_spec("probe/metrics.json"), ctx)
    assert outcome.status == "skipped"
    assert outcome.message == f"skipped: no results at {tmp_path / 'runs' / 'probe/metrics.json'} (run make deep-runs)"
    assert "\n" not in outcome.message
    assert not (tmp_path / "figs").exists()  # nothing drawn from invented numbers


def test_present_results_are_drawn(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "metrics.json").write_text("{}")
    ctx = FigureContext(out=tmp_path / "figs", results=tmp_path / "runs")
    outcome = render(_deep_spec("metrics.json"), ctx, command="cmd")
    assert outcome.status == "written"
    assert json.loads(outcome.files["json"].read_text())["rows"] == [[0], [1]]


def test_draw_may_raise_missing_results(tmp_path):
    def draw(config, ctx):
        raise MissingResults(ctx.results / "x.jsonl", "python -m deep_experiments run")

    spec = FigureSpec("late", "checks inside draw", lambda quick: None, draw)
    logged = []
    ctx = FigureContext(out=tmp_path, results=tmp_path / "runs", log=logged.append)
    (outcome,) = render_all(ctx, registry={"late": spec})
    assert outcome.status == "skipped"
    assert logged[-1] == (f"[1/1] late: skipped: no results at {tmp_path / 'runs' / 'x.jsonl'} "
                          "(run python -m deep_experiments run)")


def test_registry_holds_the_theory_figures_and_rejects_unknown_names(tmp_path):
    registry = default_registry()
    assert tuple(registry)[:3] == THEORY_FIGURES
    with pytest.raises(ValueError, match="unknown figure"):
        render_all(FigureContext(out=tmp_path), ["no_such_figure"], registry=registry)


def test_cli_unknown_name_exits_2(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown figure(s) ['nope']" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_list(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in THEORY_FIGURES)
