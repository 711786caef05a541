"""The result tables of the README and of docs/ are what the scripts print from results/ (never hand-copied)."""

from __future__ import annotations

from pathlib import Path

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_equal_the_scripts_output() -> None:
    script = load_script("readme_tables")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.BLOCK.search(text)  # the headline is generated; the other tables are on the docs pages
    _, changed = script.render(text)
    assert changed == [], f"README tables out of date (python scripts/readme_tables.py): {changed}"


def test_docs_tables_equal_the_scripts_output() -> None:
    script = load_script("readme_tables")
    pages = [p for p in script.markdown_files() if p.name != "README.md"]
    assert len(pages) >= 5
    blocks = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        blocks += len(script.BLOCK.findall(text))
        _, changed = script.render(text)
        assert changed == [], f"{page.name}: blocks out of date (python scripts/readme_tables.py): {changed}"
    assert blocks >= 15  # every deep table, the RandBits tables and the provenance lines


def test_a_changed_number_in_a_script_block_is_detected() -> None:
    script = load_script("readme_tables")
    text = (ROOT / "docs" / "results-randbits.md").read_text(encoding="utf-8")
    block = next(b for b in script.BLOCK.finditer(text) if b["kind"] == "script")
    start, end = block.span("body")
    digit = next(i for i in range(start, end) if text[i].isdigit())
    tampered = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:]
    _, changed = script.render(tampered)
    assert changed == [block["args"]]


def test_a_changed_number_is_detected(tmp_path: Path) -> None:
    """Change one digit inside each marked block in turn: the block is reported as out of date."""
    script = load_script("readme_tables")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in list(script.BLOCK.finditer(text))[:3]:
        start, end = block.span("body")
        digit = next(i for i in range(start, end) if text[i].isdigit())
        tampered = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:]
        _, changed = script.render(tampered)
        assert changed == [block["args"]]
