"""The documentation: the site builds strictly with every link resolving, the tutorial runs, the
README is short and stands alone, and no result number in the prose is typed by hand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"```python\n(.*?)```", re.S)
GENERATED = re.compile(r"<!-- (table|script): [^\n]*? -->\n.*?<!-- /\1 -->", re.S)
ANY_FENCE = re.compile(r"```.*?```", re.S)
#: what a reader of the repository cannot see or does not have
FORBIDDEN = re.compile(r"(?<![\w-])(theory\.md|experiments\.md|neighbours\.md)|shared/|\.\./shared|[Ii]ssue #?\d+"
                       r"|GPU machine|offline machines")
#: this file names the forbidden strings on purpose (to show the check can fail)
FORBIDDEN_EXEMPT = {"tests/test_docs.py"}


def test_tutorial_runs_in_order_in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = FENCE.findall((DOCS / "tutorial.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4  # model, rescue, sweep, figure
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__tutorial__"}
    start = time.perf_counter()
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/tutorial.md block {i + 1}", "exec"), namespace)  # noqa: S102
    assert time.perf_counter() - start < 60
    assert (tmp_path / "phase_diagram.png").stat().st_size > 1000


def test_site_builds_strictly_and_every_internal_link_resolves(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr
    check = load_script("check_docs")
    assert check.check_site(site) == []
    for page in ("index.html", "results.html", "linear-theory.html", "tutorial.html", "api.html",
                 "theory-vs-deep.html"):
        assert (site / page).is_file(), page
    assert "spectral_optimum" in (site / "api.html").read_text(encoding="utf-8")  # generated from docstrings


def test_check_docs_reports_a_broken_link_a_missing_image_and_a_missing_anchor(tmp_path: Path) -> None:
    check = load_script("check_docs")
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#top">ok</a><img src="pic.png">'
                                     '<a href="gone.html">x</a><a href="b.html#nowhere">y</a>'
                                     '<a href="https://example.org/">ext</a>', encoding="utf-8")
    (tmp_path / "b.html").write_text('<p id="top">B</p><a href="a.html">back</a>', encoding="utf-8")
    problems = check.check_site(tmp_path)
    assert len(problems) == 3, problems
    assert any("pic.png" in p for p in problems)
    assert any("gone.html" in p for p in problems)
    assert any("#nowhere" in p for p in problems)
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "gone.html").write_text("<p>here</p>", encoding="utf-8")
    (tmp_path / "b.html").write_text('<p id="top">B</p><p id="nowhere"></p>', encoding="utf-8")
    assert check.check_site(tmp_path) == []


def test_readme_is_short_and_names_the_two_commands_ci_runs() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = "\n".join(lines)
    for command in ('pip install -e ".[dev]"', "python -m linear_theory.sweep", "HYPOTHESIS_PROFILE=ci python -m pytest"):
        assert command in readme and command in ci, command


def _public_text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "Makefile", ROOT / "pyproject.toml",
             ROOT / "results" / "README.md", *sorted(DOCS.glob("*.md"))]
    for package in ("featuredrop", "linear_theory", "deep_experiments", "paper_figures", "tests", "benchmarks",
                    "scripts"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def test_readme_docs_and_docstrings_stand_alone() -> None:
    found = []
    for path in _public_text_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in FORBIDDEN_EXEMPT:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line):
                found.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert found == [], "\n".join(found)


def test_the_stand_alone_check_can_fail() -> None:
    for text in ("see theory.md", "shared/neighbours.md 1.4", "issue 12's runs", "on the GPU machine"):
        assert FORBIDDEN.search(text), text
    assert not FORBIDDEN.search("docs/linear-theory.md and the de-shared overlay")


def hand_typed_results(text: str) -> list[str]:
    """Accuracy-like numbers (three decimals) and point changes in ``text`` outside generated blocks and code."""
    prose = ANY_FENCE.sub("", GENERATED.sub("", text))
    found = re.findall(r"(?<![\w.])[+-]?\d\.\d{3}(?![\d])", prose)
    found += re.findall(r"[+\-−]?\d+(?:\.\d+)? points", prose)
    return [f for f in found if f not in SETTINGS]


#: numbers of three decimals that are settings, not results (the audio viewmaker's budget)
SETTINGS = {"0.125"}


@pytest.mark.parametrize("name", ["README.md", "docs/index.md", "docs/results.md", "docs/results-cpu.md",
                                  "docs/results-randbits.md", "docs/results-audio.md",
                                  "docs/results-hierarchical.md", "docs/theory-vs-deep.md"])
def test_no_result_number_is_typed_by_hand(name: str) -> None:
    """Every result number of these pages sits in a block a script prints (tests/test_readme_tables.py)."""
    assert hand_typed_results((ROOT / name).read_text(encoding="utf-8")) == []


def test_the_hand_typed_check_can_fail() -> None:
    assert hand_typed_results("the probe is 0.752 on seed 0; dropout gives back +10.5 points") == ["0.752", "+10.5 points"]
    assert hand_typed_results("<!-- table: x -->\n0.752\n<!-- /table -->\nbudget 0.125") == []
