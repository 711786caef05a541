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


def test_cli_skip_leaves_out_the_named_figures(tmp_path, capsys):
    """--skip draws the rest (here: of --only) and refuses an unknown name or one that leaves nothing."""
    assert main(["--out", str(tmp_path), "--quick", "--only", "phase_diagram", "deep_ladder",
                 "--skip", "phase_diagram", "--results", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "deep_ladder" in out and "phase_diagram" not in out
    assert main(["--out", str(tmp_path), "--skip", "nope"]) == 2
    assert main(["--out", str(tmp_path), "--only", "deep_ladder", "--skip", "deep_ladder"]) == 2
    assert "leaves no figure" in capsys.readouterr().err


def test_cli_list(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in THEORY_FIGURES)


def test_a_corrupt_input_fails_that_figure_only_and_the_rest_are_drawn(tmp_path, monkeypatch, capsys):
    """One figure whose input is corrupt (here: JSON that does not parse) is reported as failed in one line;
    the figures after it are still drawn; missing data is a skip; the CLI exits 1 because one failed."""

    def corrupt(config, ctx):
        return json.loads((ctx.results / "bad.json").read_text())

    def no_data(config, ctx):
        raise FileNotFoundError("Fashion-MNIST not under .data (python scripts/fetch_fashion_mnist_offline.py)")

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad.json").write_text("{not json")
    registry = {"corrupt": FigureSpec("corrupt", "reads bad.json", lambda quick: None, corrupt),
                "no_data": FigureSpec("no_data", "needs data", lambda quick: None, no_data),
                "fine": FigureSpec("fine", "draws", lambda quick: {"x": [0, 1]}, _draw)}
    ctx = FigureContext(out=tmp_path / "figs", results=tmp_path / "runs")
    outcomes = render_all(ctx, registry=registry)
    assert [o.status for o in outcomes] == ["failed", "skipped", "written"]
    assert outcomes[0].message.startswith("failed: JSONDecodeError") and "\n" not in outcomes[0].message
    assert "fetch_fashion_mnist_offline" in outcomes[1].message
    monkeypatch.setattr("paper_figures.__main__.default_registry", lambda: registry)
    assert main(["--out", str(tmp_path / "figs2"), "--results", str(tmp_path / "runs")]) == 1
    out, err = capsys.readouterr()
    assert "1 figure(s) written" in out and "1 skipped (no_data)" in out and "1 failed" in out
    assert err.count("\n") == 1 and "corrupt: failed" in err
