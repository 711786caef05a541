"""The sweep's ``--loss``: the closed form always, plus simulated runs under the chosen loss family."""

from __future__ import annotations

from linear_theory.simulate import SimulationConfig
from linear_theory.sweep import SweepConfig, _parser, sweep_rows


def test_sweep_simulates_the_chosen_loss():
    config = SweepConfig(ratio=(0.3, 0.3, 1), dropout=(0.0, 0.5, 2), loss="swd",
                         simulation=SimulationConfig(steps=10, batch_size=16))
    rows = sweep_rows(config)
    assert {r["method"] for r in rows} == {"spectral_closed_form", "swd_simulation"}
    assert len([r for r in rows if r["method"] == "swd_simulation"]) == 2
    assert _parser().parse_args(["--loss", "decoupled"]).loss == "decoupled"
