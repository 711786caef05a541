"""The occlusion control: the fast probe repeated on overlay-free and on full-overlay images.

An overlay drawn on the base image lowers the base task's probe accuracy in two ways: it hides
pixels of the base image (**occlusion**, which any encoder suffers) and it can make the encoder
stop representing the base image (**suppression**, the effect under study). The probe on the
run's own test images cannot tell them apart. So every fast probe is repeated, fitted and tested
at two fixed overlay strengths, on the same base images:

- ``overlay_free`` (strength 0): what the encoder knows about the base image when nothing hides it;
- ``full_overlay`` (strength 1, the paper's overlay): the images on which occlusion is measured.

Suppression of task A by the overlay is then defined against the encoder trained *without* an
overlay (``overlay_strength = 0``), probed on the same full-overlay images::

    suppression = full_overlay.task_a(no-overlay encoder) - full_overlay.task_a(encoder)

Occlusion is in both terms and cancels; a positive value means the overlay-trained encoder keeps
less of the base image than one that never saw an overlay. A control whose strength equals the
run's own is not recomputed: it is the run's own probe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deep_experiments.configs import ProbeConfig, RunConfig
from deep_experiments.data import TwoTaskDataset
from deep_experiments.probe import TASKS, fast_probe

OVERLAY_CONTROLS: dict[str, float] = {"overlay_free": 0.0, "full_overlay": 1.0}
"""Control name -> the overlay strength at which the fast probe is repeated."""

Split = tuple[TwoTaskDataset, TwoTaskDataset]
"""(train, test) of one fast probe."""

__all__ = ["OVERLAY_CONTROLS", "ProbeSets", "build_probe_sets", "probe_with_controls", "test_redraws"]


@dataclass(frozen=True)
class ProbeSets:
    """The (train, test) splits a fast probe uses: the run's own and one per control.

    ``controls[name]`` is ``None`` when that control's strength equals the run's (the run's own
    probe is reused); controls are empty when ``probe.overlay_controls`` is off.
    """

    own: Split
    controls: Mapping[str, Split | None]


def build_probe_sets(config: RunConfig, own: Split) -> ProbeSets:
    """The run's own splits plus the control splits its config asks for: the same items at the control strengths."""
    controls: dict[str, Split | None] = {}
    if config.probe.overlay_controls:
        for name, strength in OVERLAY_CONTROLS.items():
            same = strength == config.data.overlay_strength
            controls[name] = None if same else (own[0].at_strength(strength), own[1].at_strength(strength))
    return ProbeSets(own, controls)


def probe_with_controls(
    encoder: nn.Module,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    sets: ProbeSets,
    config: ProbeConfig,
    device: torch.device,
    num_workers: int = 0,
) -> dict[str, Any]:
    """The fast probe on the run's own splits, plus ``{control: {"task_a", "task_b"}}`` per control.

    ``converged`` is true only if every fit converged.
    """
    k = config.test_overlay_draws
    out: dict[str, Any] = fast_probe(encoder, normalize, *sets.own, config, device, num_workers,
                                     redraws=test_redraws(sets.own[1], k))
    for name, split in sets.controls.items():
        if split is None:
            out[name] = {key: out[key] for key in (*TASKS, "draws") if key in out}
            continue
        acc = fast_probe(encoder, normalize, *split, config, device, num_workers, redraws=test_redraws(split[1], k))
        out["converged"] = bool(out["converged"]) and bool(acc["converged"])
        out[name] = {key: acc[key] for key in (*TASKS, "draws") if key in acc}
    return out


def test_redraws(test_set: TwoTaskDataset, draws: int) -> list[TwoTaskDataset]:
    """``draws - 1`` copies of ``test_set`` whose overlays are drawn anew (draw ``d`` = the overlays of
    epoch ``d``; the test split itself is draw 0), the base images and strength unchanged."""
    copies = []
    for draw in range(1, draws):
        copy = test_set.at_strength(test_set.overlay_strength)
        copy.set_epoch(test_set.epoch + draw)
        copies.append(copy)
    return copies
