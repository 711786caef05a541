"""The overlay-colour shortcut measurement: crop-only views keep it, colour operations erase it."""

from __future__ import annotations

import pytest
import torch

from deep_experiments.overlay_shortcut import overlay_colour_retrieval
from tests.deep.datasets import make_dataset


def test_crop_only_keeps_the_colour_and_grey_jitter_loses_it() -> None:
    """Random RGB overlay colours survive crops (retrieval far above chance 1/64) and are mostly erased
    by SimCLR's jitter + grayscale; the distance between the two views' colours grows accordingly."""
    data = make_dataset("c+letters", "test", size=64)
    crop = overlay_colour_retrieval(data, "crop_only", 64, torch.Generator().manual_seed(0))
    simclr = overlay_colour_retrieval(data, "crop_jitter_grey", 64, torch.Generator().manual_seed(0))
    assert crop.batch == 64 and crop.visible == 1.0
    assert crop.retrieval > 0.5 > simclr.retrieval
    assert crop.colour_distance_pair < 0.5 * crop.colour_distance_other
    assert simclr.colour_distance_pair > 2 * crop.colour_distance_pair


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no overlay pixel"):
        overlay_colour_retrieval(make_dataset("c+letters", "test", size=8, overlay_strength=0.0), "crop_only")
    with pytest.raises(ValueError, match="at least 2"):
        overlay_colour_retrieval(make_dataset("c+letters", "test", size=8), "crop_only", batch=1)


def test_script_prints_and_saves_the_rows(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from tests.scripts import load_script

    out = tmp_path / "shortcut.json"
    script = load_script("overlay_shortcut")
    args = ["--base-source", "photos", "--test-size", "32", "--batch", "32", "--repeats", "2",
            "--policies", "crop_only", "simclr", "--out", str(out)]
    assert script.main(args) == 0
    saved = json.loads(out.read_text())
    assert [r["policy"] for r in saved["rows"]] == ["crop_only", "simclr"] and saved["command"].endswith(str(out))
    assert saved["rows"][0]["retrieval"] > saved["rows"][1]["retrieval"]
    assert "| crop_only |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # a --data-dir that is not a folder: a bad option, before any work
        script.main(["--base-source", "fashion-mnist", "--data-dir", str(tmp_path / "none")])
    assert refused.value.code == 2
