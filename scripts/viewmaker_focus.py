"""Where each trained viewmaker spends its budget: on the overlay or on the base image (figure 6b).

::

    python scripts/viewmaker_focus.py --results runs/claim-cpu [--images 512 --views 4]

For every finished viewmaker run under ``--results`` (a ``probe.json`` and a ``checkpoint.pt`` or
``viewmaker.pt``): writes ``viewmaker.pt`` (the viewmaker alone, ~150 kB, so that it can be
committed where checkpoints are not) when a checkpoint is there, then measures
:func:`deep_experiments.viewmaker_focus.overlay_focus` on the first ``--images`` test images of the
run's own dataset with the overlay at full strength (whatever strength the run trained on), and writes ``viewmaker_focus.json`` into the run folder.
The control, measured on the same images in the same call: the run's viewmaker *at
initialisation* (rebuilt from its config and seed, never trained), whose ratio says how much
focus the architecture and the images give by themselves (keys ``init_*``). Prints one line per
run. Seeded (``--seed``): the same numbers on a rerun.

RandBit runs (an overlay of whole channels, ``spec.shared_channels`` bit planes) get
:func:`deep_experiments.viewmaker_focus.plane_focus` instead, written to ``viewmaker_planes.json``:
``|delta|`` on the digit channel against the bit planes, and how often a view moves a bit pixel across
0.5, with the same initialisation control. Audio runs (the noise adds power to every bin) count as
overlay pixels the bins the noise dominates (``deep_experiments.data.audio.NOISE_DOMINATES``: the noisy
clip 3 dB or more above the clean one); the rest are the speech's. A run whose test images leave no pixel on (or off) the
overlay has no on/off split and is skipped with a line saying so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from deep_experiments.data import build_dataset, dataset_spec
from deep_experiments.data.audio import NOISE_DOMINATES
from deep_experiments.run.checkpoint import initial_viewmaker
from deep_experiments.run.folder import RunFolder, find_runs
from deep_experiments.viewmaker_focus import (
    FOCUS_FILE,
    PLANES_FILE,
    NoOverlaySplit,
    overlay_focus,
    plane_focus,
)
from featuredrop.atomic import atomic_write
from featuredrop.cli import OneLineParser, nonnegative_int, positive_int


def _load(folder: RunFolder, images: int) -> tuple:
    """The run's config, trained viewmaker, viewmaker at initialisation and first ``images`` test items at
    full overlay strength (whatever strength the run trained on, as the full_overlay probe: a viewmaker
    trained without the overlay is then measured on the same images, a control of its own); exports
    ``viewmaker.pt`` first when there is a checkpoint."""
    if folder.checkpoint.exists():
        folder.export_viewmaker()
    config = folder.load_config()
    test = build_dataset(config.data, "test", config.train.seed).at_strength(1.0).with_base()
    items = [test[i] for i in range(min(images, len(test)))]
    return config, folder.load_viewmaker(), initial_viewmaker(config).eval(), items


def _row(config, budget: float, seed: int, focus: dict, control: dict, keys: tuple[str, ...]) -> dict:  # noqa: ANN001
    """One run's JSON row: the run, the measurement, and the ``init_*`` control's ``keys``."""
    return {"dataset": config.data.dataset, "seed": config.train.seed, "overlay_strength": config.data.overlay_strength,
            "budget": budget, "measure_seed": seed, "measured_at_strength": 1.0, **focus,
            **{f"init_{k}": control[k] for k in keys}}


def measure(folder: RunFolder, images: int, views: int, seed: int) -> dict:
    """The overlay focus of one run's viewmaker on its test images (and of its initialisation)."""
    config, vm, init, items = _load(folder, images)
    x, _, _, base = zip(*items)
    x, base = torch.stack(x), torch.stack(base)
    tol = NOISE_DOMINATES if config.data.dataset == "audio" else 1e-6  # audio: the bins the noise dominates
    focus = overlay_focus(vm.delta, x, base, torch.Generator().manual_seed(seed), views, tol)
    control = overlay_focus(init.delta, x, base, torch.Generator().manual_seed(seed), views, tol)
    return _row(config, vm.budget, seed, focus.as_dict(), control.as_dict(),
                ("on_overlay", "off_overlay", "ratio", "overlay_share"))


def measure_planes(folder: RunFolder, images: int, views: int, seed: int) -> dict:
    """The per-channel focus of a RandBit run's viewmaker (and of its initialisation) on its test images."""
    config, vm, init, items = _load(folder, images)
    x = torch.stack([item[0] for item in items])
    spec = dataset_spec(config.data)
    base = spec.channels - spec.shared_channels
    focus = plane_focus(vm.delta, x, base, torch.Generator().manual_seed(seed), views)
    control = plane_focus(init.delta, x, base, torch.Generator().manual_seed(seed), views)
    return _row(config, vm.budget, seed, focus.as_dict(), control.as_dict(),
                ("on_base", "on_planes", "ratio", "overlay_share", "flipped", "planes_flipped"))


def main(argv: list[str] | None = None) -> int:
    """Entry point; 2 on a bad option or an unreadable run folder (one line, before anything is written), 1 when no
    viewmaker run was found or a measurement failed."""
    p = OneLineParser(prog="viewmaker_focus.py", description=__doc__.split("\n")[0])
    p.add_argument("--results", required=True, help="root of the run folders")
    p.add_argument("--images", type=positive_int, default=512, help="test images per run (default %(default)s)")
    p.add_argument("--views", type=positive_int, default=4, help="perturbations per image (default %(default)s)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the viewmaker's noise (default %(default)s)")
    args = p.parse_args(argv)
    if not Path(args.results).is_dir():
        p.error(f"--results {args.results}: not a folder")
    try:  # every run's config is read before anything is written
        runs = [r for r in find_runs(Path(args.results))
                if r.load_config().views.kind == "viewmaker" and r.has_viewmaker()]
    except (OSError, ValueError, KeyError, TypeError) as err:
        p.error(f"--results {args.results}: {' '.join(str(err).split())}")
    if not runs:
        print(f"viewmaker_focus.py: no finished viewmaker run with a checkpoint or viewmaker.pt under {args.results}",
              file=sys.stderr)
        return 1
    try:
        return _measure_all(runs, args)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f"viewmaker_focus.py: {' '.join(str(err).split())}", file=sys.stderr)
        return 1


def _measure_all(runs: list[RunFolder], args) -> int:  # noqa: ANN001
    """Measure and write every run's focus (see the module docstring); 0."""
    for folder in runs:
        if dataset_spec(folder.load_config().data).shared_channels:
            row = measure_planes(folder, args.images, args.views, args.seed)
            atomic_write(folder.root / PLANES_FILE, json.dumps(row, indent=2) + "\n")
            print(f"{folder.root}: |delta| on the base {row['on_base']:.4f}, on the planes {row['on_planes']:.4f} "
                  f"({row['overlay_share']:.1%} of |delta| on {row['overlay_fraction']:.0%} of the channels), plane "
                  f"pixels across 0.5: {row['flipped']:.2%}, planes dropped: {row['planes_flipped']:.2%}; at "
                  f"initialisation: {row['init_on_base']:.4f} / {row['init_on_planes']:.4f}", flush=True)
            continue
        try:
            row = measure(folder, args.images, args.views, args.seed)
        except NoOverlaySplit as err:
            print(f"{folder.root}: skipped ({err})", flush=True)
            continue
        atomic_write(folder.root / FOCUS_FILE, json.dumps(row, indent=2) + "\n")
        print(f"{folder.root}: |delta| on overlay {row['on_overlay']:.4f}, off {row['off_overlay']:.4f}, "
              f"ratio {row['ratio']:.2f} (overlay {row['overlay_fraction']:.1%} of pixels, "
              f"{row['overlay_share']:.1%} of |delta|); at initialisation: ratio {row['init_ratio']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
