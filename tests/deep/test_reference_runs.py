"""The training code still computes what the reference runs recorded (scripts/reference_runs.py).

The deep tables compare runs of one code revision; this is what lets a later revision stand beside
them. A change that moves any loss or probe number fails here: either it is a bug, or the record is
rewritten (``--write``) and the affected results are rerun.
"""

from __future__ import annotations

import json

from tests.scripts import load_script


def test_reference_runs_reproduce_the_record() -> None:
    script = load_script("reference_runs")
    recorded = json.loads(script.RECORD.read_text())
    assert recorded["config"] == script.CONFIG and set(recorded["runs"]) == set(script.METHODS)
    moved = script.differences(recorded["runs"], script.run_all(), rtol=1e-6)
    assert moved == [], moved[:5]


def test_a_moved_number_is_caught() -> None:
    script = load_script("reference_runs")
    recorded = {"m": {"metrics": [{"loss": 1.0, "kind": "train"}], "probe": {"task_a": 0.5}}}
    assert script.differences(recorded, json.loads(json.dumps(recorded)), 0.0) == []
    moved = {"m": {"metrics": [{"loss": 1.0 + 1e-9, "kind": "train"}], "probe": {"task_a": 0.5}}}
    assert script.differences(recorded, moved, 0.0) == ["m.metrics[0].loss: recorded 1.0, now 1.000000001"]
    assert script.differences(recorded, moved, 1e-6) == []
    assert script.differences(recorded, {"m": {"metrics": [], "probe": {"task_a": 0.5}}}, 1e-6)
