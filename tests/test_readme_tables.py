"""The README's result tables are what scripts/deep_cpu_table.py prints from results/ (never hand-copied)."""

from __future__ import annotations

from pathlib import Path

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_equal_the_scripts_output() -> None:
    script = load_script("readme_tables")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("<!-- table: ") >= 3  # the claim, ladder and de-shared tables are all marked
    _, changed = script.render(text)
    assert changed == [], f"README tables out of date (python scripts/readme_tables.py): {changed}"


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
