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


def test_sweep_cli_decoupled_uses_the_loss_recipe(tmp_path):
    """``--loss decoupled`` trains with :func:`loss_recipe`'s tau = 1 and 10x step, as the figures do."""
    import json

    from linear_theory.simulate import loss_recipe
    from linear_theory.sweep import main

    base = SimulationConfig()
    for loss, extra, want in (("decoupled", [], loss_recipe("decoupled", base)),
                              ("infonce", [], base),
                              ("decoupled", ["--lr", "0.7", "--temperature", "0.3"], SimulationConfig(lr=0.7, temperature=0.3))):
        out = tmp_path / f"{loss}{len(extra)}"
        assert main(["--ratio", "0.3:0.3:1", "--dropout", "0:0.5:2", "--loss", loss, "--steps", "2",
                     "--batch-size", "8", "--out", str(out), "--no-progress", *extra]) == 0
        sim = json.loads((out / "config.json").read_text())["config"]["simulation"]
        assert (sim["lr"], sim["temperature"]) == (want.lr, want.temperature)
    assert loss_recipe("decoupled", base).temperature == 1.0 != base.temperature
