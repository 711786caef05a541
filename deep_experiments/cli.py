"""Command line: python -m deep_experiments {train,probe,run}.

::

    python -m deep_experiments train --dataset c+digits --method expert --epochs 200 --out runs/NAME
    python -m deep_experiments probe --run runs/NAME
    python -m deep_experiments run   --preset smoke --dataset c+digits --method viewmaker --out runs/smoke

Options override, in increasing priority: the paper defaults, ``--preset``, ``--config FILE.json``
(a nested RunConfig, e.g. another run's ``config.json``), then the individual flags. Unknown or
invalid options (and unreadable run files, an ``--out`` that cannot be written, a ``--data-dir``
that does not exist) print one line on stderr and exit with status 2; a NaN/inf loss or
non-finite weights exit with 1. Rerunning the same ``train``/``run`` command on an existing folder
resumes it (from ``checkpoint.prev.pt`` when ``checkpoint.pt`` is unreadable); a folder holding
a run of another config is refused. ``train`` and ``run`` end with one line saying where the time went
(``time: startup ..., data ..., views ..., steps ..., probes ..., checkpoints ..., final probe ...; total``,
:class:`deep_experiments.run.train.Timings`).

Several GPUs: ``torchrun --standalone --nproc_per_node N -m deep_experiments run ...`` trains data-parallel
(``--batch-size`` is the global batch; see :mod:`deep_experiments.run.distributed`); rank 0 writes and probes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deep_experiments.configs import PERF_FLAGS, PRESETS, ProbeConfig, RunConfig, build_config, merge
from deep_experiments.data import DATASETS
from deep_experiments.data.spec import AUGMENTATIONS
from deep_experiments.guards import NonFiniteLossError
from deep_experiments.views import METHODS
from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, fail, prog_name
from featuredrop.config import from_dict, to_dict

__all__ = ["main", "build_parser"]


def _floats(text: str) -> list[float]:
    """Parse ``"0.05,0.4,1"`` into floats."""
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _perf(text: str) -> dict[str, bool]:
    """Parse ``"bf16,channels-last"`` (or ``all`` / ``none``) into the whole ``train.perf`` section."""
    names = {t.strip().replace("-", "_") for t in text.split(",") if t.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(PERF_FLAGS)
    names.discard("none")
    unknown = sorted(names - set(PERF_FLAGS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown switch(es) {unknown}; choose from {', '.join(PERF_FLAGS)}, "
                                         f"all or none")
    return {name: name in names for name in PERF_FLAGS}


# flag, config section (dotted), field, argparse type, help
_FLAGS: list[tuple[str, str, str, Callable[[str], Any], str]] = [
    ("--dataset", "data", "dataset", str, " | ".join(DATASETS)),
    ("--train-size", "data", "train_size", int, "keep the first N training items"),
    ("--test-size", "data", "test_size", int, "keep the first N test items"),
    ("--base-source", "data", "base_source", str, "photos (offline stand-in) | cifar10 | fashion-mnist (--data-dir)"),
    ("--augmentation", "data", "augmentation", str, "expert views' policy: " + " | ".join(AUGMENTATIONS) + " (default: dataset's)"),
    ("--digit-source", "data", "digit_source", str, "sklearn (offline stand-in) | mnist (--data-dir)"),
    ("--data-dir", "data", "data_dir", str, "root of real torchvision datasets; audio: the folder of audio-digits.npz"),
    ("--overlay-strength", "data", "overlay_strength", float, "overlay opacity multiplier (1 = paper)"),
    ("--randbit-bits", "data", "randbit_bits", int, "bits of the randbit overlay (0 = digits alone)"),
    ("--normalization", "data", "normalization", str,
     "encoder inputs: standard (default: grayscale to [-1, 1], RGB by CIFAR-10 statistics) | none (pixels in [0, 1], "
     "as the RandBits colab)"),
    ("--num-workers", "data", "num_workers", int, "DataLoader worker processes"),
    ("--method", "views", "kind", str, " | ".join(METHODS) + " (the kind of views)"),
    ("--epochs", "train", "epochs", int, "pretraining epochs (paper: 200)"),
    ("--batch-size", "train", "batch_size", int, "pretraining batch (paper: 256)"),
    ("--encoder", "train", "encoder", str, "resnet18 (paper) | convn (RandBits colab)"),
    ("--optimizer", "train", "optimizer", str, "sgd (paper) | adam (RandBits colab)"),
    ("--lr-schedule", "train", "lr_schedule", str, "constant (paper) | linear_decay (to 0, per step)"),
    ("--lr", "train", "lr", float, "encoder learning rate (paper: SGD 0.03)"),
    ("--momentum", "train", "momentum", float, "encoder SGD momentum (paper: 0.9)"),
    ("--weight-decay", "train", "weight_decay", float, "encoder weight decay (paper: 1e-4)"),
    ("--temperature", "train", "temperature", float, "NT-Xent temperature (paper: 0.07; --loss decoupled: 1, Chen et al.)"),
    ("--loss-variant", "train", "loss_variant", str, "symmetric | viewmaker (original one-sided) | cross_view | cross_view_both (colab)"),
    ("--loss", "train", "loss", str, "nt_xent (default; --loss-variant) | decoupled | swd (Chen et al. 2021's generalized losses)"),
    ("--loss-weight", "train", "loss_weight", float, "lambda of a generalized loss (default: 0.1 decoupled, 5 swd)"),
    ("--dropout-p", "views.dropout", "p", float, "feature-dropout probability per view"),
    ("--width", "train", "width", int, "encoder first-layer width (ResNet-18: 64 standard; ConvN: 32)"),
    ("--convn-padding", "train", "convn_padding", str,
     "ConvN padding: same (default: padding 1) | valid (none: the RandBits colab's Keras default)"),
    ("--batchnorm", "train", "batchnorm", str,
     "ConvN BatchNorm: torch (default: momentum 0.1, eps 1e-5) | keras (the colab's: Keras momentum 0.99, eps 1e-3)"),
    ("--view-forwards", "train", "view_forwards", str,
     "joint (default: both views in one encoder pass) | separate (one pass per view, as the colab: BatchNorm "
     "statistics per view)"),
    ("--data-order", "train", "data_order", str,
     "shuffle (default: a new order every epoch) | fixed (one order for every epoch, as the colab)"),
    ("--seed", "train", "seed", int, "seed of every random stream"),
    ("--probe-at", "train", "probe_at", _floats, "fractions of training at which to run the fast probe"),
    ("--perf", "train", "perf", _perf, "fast-path switches, comma-separated (exactly these on, the others off): "
     + " | ".join(PERF_FLAGS) + " | all | none (default: none; see README, Throughput)"),
    ("--viewmaker-budget", "views.viewmaker", "budget", float, "mean |delta| per example (default: dataset's)"),
    ("--viewmaker-lr", "views.viewmaker", "lr", float, "viewmaker Adam learning rate (paper: 1e-3)"),
    ("--viewmaker-precision", "views.viewmaker", "precision", str,
     "float32 (default, the reference) | bf16 (the viewmaker network under bf16 autocast, channels-last; "
     "changes numbers at the 1 %% level)"),
    ("--probe-epochs", "probe", "epochs", int, "paper-protocol probe epochs (paper: 100)"),
    ("--probe-batch-size", "probe", "batch_size", int, "paper-protocol probe batch (paper: 128)"),
    ("--test-overlay-draws", "probe", "test_overlay_draws", int,
     "fast probe: mean over this many draws of the test overlays (default 1)"),
    ("--online-head-lr", "probe", "online_head_lr", float, "learning rate of the --online-head heads (colab: Adam 1e-3)"),
]
_PROBE_FLAGS = ("--probe-epochs", "--probe-batch-size", "--test-overlay-draws")
_CHOICES: dict[str, tuple[str, ...]] = {"--dataset": DATASETS, "--method": METHODS}
"""Flags whose values come from a registry (datasets, view kinds)."""


def _add_runtime(p: argparse.ArgumentParser) -> None:
    """Flags that do not change results: device, progress bars, tracebacks."""
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--traceback", action="store_true", help="show full tracebacks of errors")


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    """Config flags of ``train`` and ``run``."""
    p.add_argument("--out", required=True, help="run folder (resumed when it has a checkpoint)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help=" | ".join(sorted(PRESETS)) + " (default: paper, the full protocol; on a CPU it must be named)")
    p.add_argument("--config", default=None, help="JSON file with a (partial) nested RunConfig")
    for flag, _, _, kind, text in _FLAGS:
        p.add_argument(flag, type=kind, default=None, help=text, choices=_CHOICES.get(flag),
                       metavar=flag[2:].upper() if flag in _CHOICES else None)
    p.add_argument("--download", action="store_true", default=None, help="let torchvision download real data")
    p.add_argument("--no-paper-probe", action="store_true", help="final probe: fast probe only")
    p.add_argument("--online-head", action="store_true",
                   help="also train the Chen et al. colab's read-out (linear heads on view-1 representations, "
                        "stop-gradient) during pretraining; its accuracy goes to probe.json beside the fast probe")
    p.add_argument("--stop-after", type=int, default=None, help="stop after N epochs in this call (resume later)")
    _add_runtime(p)


def build_parser() -> argparse.ArgumentParser:
    """The ``deep_experiments`` argument parser."""
    parser = OneLineParser(prog=prog_name("python -m deep_experiments"), description=__doc__.split("\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    _add_train_flags(sub.add_parser("train", help="contrastive pretraining into a run folder", allow_abbrev=False))
    _add_train_flags(sub.add_parser("run", help="train, then probe", allow_abbrev=False))
    probe = sub.add_parser("probe", help="final probes of a run folder -> probe.json", allow_abbrev=False)
    probe.add_argument("--run", required=True, help="run folder")
    for flag, _, _, kind, text in _FLAGS:
        if flag in _PROBE_FLAGS:
            probe.add_argument(flag, type=kind, default=None, help=text)
    probe.add_argument("--no-paper-probe", action="store_true", help="fast probe only")
    _add_runtime(probe)
    return parser


def _flag_overrides(args: argparse.Namespace, flags: Sequence[str] | None = None) -> dict[str, Any]:
    """Nested config overrides from the flags given on the command line."""
    out: dict[str, Any] = {}
    for flag, section, key, _, _ in _FLAGS:
        if flags is not None and flag not in flags:
            continue
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            node = out
            for part in section.split("."):
                node = node.setdefault(part, {})
            node[key] = value
    if getattr(args, "download", None):
        out.setdefault("data", {})["download"] = True
    if args.no_paper_probe:
        out.setdefault("probe", {})["paper"] = False
    if getattr(args, "online_head", None):
        out.setdefault("probe", {})["online_head"] = True
    return out


DECOUPLED_RECIPE: dict[str, Any] = {"train": {"temperature": 1.0}}
"""Chen et al.'s decoupled NT-Xent recipe (tau = 1; docs/related-work.md): the temperature of a
``--loss decoupled`` run that sets none itself (by ``--temperature`` or ``--config``); a preset's
NT-Xent temperature is not meant for it. The linear arm's :func:`linear_theory.simulate.loss_recipe`
uses the same tau."""


def _sets_temperature(layers: Sequence[Any]) -> bool:
    """Whether one of the user's layers (``--config`` file, flags) sets ``train.temperature``."""
    return any(isinstance(layer, dict) and "temperature" in (layer.get("train") or {}) for layer in layers)


_APPLIES_TO: dict[str, tuple[Callable[[RunConfig], bool], str]] = {
    "--viewmaker-budget": (lambda c: c.views.kind == "viewmaker", "--method viewmaker"),
    "--viewmaker-lr": (lambda c: c.views.kind == "viewmaker", "--method viewmaker"),
    "--viewmaker-precision": (lambda c: c.views.kind == "viewmaker", "--method viewmaker"),
    "--randbit-bits": (lambda c: c.data.dataset == "randbit", "--dataset randbit"),
}
"""Flags that only one kind of view or one dataset reads, and where they apply. ``--dropout-p`` is not
here: the grids pass their sweep's p to every kind of view (the RandBits grid ``--dropout-p 0`` to its
expert runs), the committed run folders store it, and refusing it would make their own commands
refuse to resume or skip them."""


def _refuse_inapplicable(args: argparse.Namespace, config: RunConfig, base: RunConfig) -> None:
    """A flag the run does not read is refused, unless it only restates the value the run would have anyway
    (``base``: the config without the flags); grids pass one ``--dropout-p`` to every kind of view."""
    for flag, (applies, where) in _APPLIES_TO.items():
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is None or applies(config):
            continue
        section, key = next((sec, k) for f, sec, k, _, _ in _FLAGS if f == flag)
        node: Any = base
        for part in section.split("."):
            node = getattr(node, part)
        if getattr(node, key) != value:
            raise ValueError(f"{flag} {value} applies to {where} only (this run: --method {config.views.kind}, "
                             f"--dataset {config.data.dataset}); leave it out")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Resolve preset, ``--config`` file and flags into a RunConfig (``ValueError`` when invalid)."""
    layers: list[Any] = [PRESETS[args.preset or "paper"]]
    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            raise ValueError(f"--config {path}: no such file")
        try:
            layers.append(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"--config {path}: invalid JSON ({err})") from None
    base = build_config(*layers)
    layers.append(_flag_overrides(args))
    config = build_config(*layers)
    _refuse_inapplicable(args, config, base)
    if config.train.loss == "decoupled" and not _sets_temperature(layers[1:]):
        config = build_config(layers[0], DECOUPLED_RECIPE, *layers[1:])
    data_dir = config.data.data_dir
    if data_dir is not None and not config.data.download and not Path(data_dir).is_dir():
        raise ValueError(f"--data-dir {data_dir}: no such folder (pass --download to let torchvision create it)")
    return config


def _probe_config(args: argparse.Namespace, run: str) -> ProbeConfig | None:
    """The run's probe config with the probe flags applied, or None when no flag was given."""
    overrides = _flag_overrides(args, _PROBE_FLAGS).get("probe")
    if not overrides:
        return None
    from deep_experiments.run.folder import RunFolder

    base = to_dict(RunFolder(run).load_config().probe)
    return from_dict(ProbeConfig, merge(base, overrides))


def _summary(result: dict[str, Any]) -> str:
    """One line of probe accuracies."""
    parts = [f"epoch {result['epoch']}"]
    for protocol in ("fast", "online_head", "paper"):
        if protocol in result:
            acc = result[protocol]
            shown = [f"{key} {acc[key]:.3f}" for key in ("task_a", "task_b", "task_b_bits")
                     if isinstance(acc.get(key), float)]
            parts.append(f"{protocol}: " + " ".join(shown))
    return "probe " + " | ".join(parts)


PAPER_ON_CPU = 100
"""Epochs from which a CPU run without ``--preset``, ``--config`` or ``--epochs`` is refused: the paper protocol
by accident."""


def _epochs_done(out: str) -> int:
    """Epochs already logged in the run folder ``out`` (0 for a new or unreadable one)."""
    from deep_experiments.run.folder import RunFolder

    try:
        return max((r["epoch"] for r in RunFolder(out).read_metrics() if r.get("kind") == "train"), default=0)
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _dispatch(args: argparse.Namespace, argv: Sequence[str], prog: str) -> None:
    """Run the chosen command (heavy imports happen here, after the arguments are valid)."""
    from deep_experiments.run.distributed import close_world, init_world, world_from_env
    from deep_experiments.run.perf import retain_freed_memory
    from deep_experiments.run.probe_run import probe_run
    from deep_experiments.run.train import Timings, train

    retain_freed_memory()  # where the step's memory comes from, not what it computes
    progress = not args.no_progress
    cmd = [*prog.split(), *argv]
    if args.command == "probe":
        if world_from_env().distributed:
            raise ValueError("probe runs in one process; start it without torchrun")
        result = probe_run(args.run, device=args.device, probe=_probe_config(args, args.run), progress=progress,
                           argv=cmd)
        print(_summary(result))
        return
    config = config_from_args(args)
    check_output_dir(args.out)
    world, device = init_world(args.device)  # torchrun: this process's rank and GPU, and the process group
    if args.stop_after is not None and args.stop_after < 1:
        close_world(world)
        raise ValueError(f"stop_after (--stop-after) must be >= 1, got {args.stop_after}")
    if (args.preset is None and args.config is None and args.epochs is None and device.type == "cpu"
            and config.train.epochs >= PAPER_ON_CPU):
        close_world(world)
        raise ValueError(f"no --preset: that is the paper protocol ({config.train.epochs} epochs of a width-"
                         f"{config.train.width} {config.train.encoder}), days on a CPU; pass --preset cpu "
                         f"(minutes) or smoke (seconds), or --preset paper (or --epochs N) to run it anyway")
    before = _epochs_done(args.out) if world.is_main else 0
    if before:
        state = "already complete" if before >= config.train.epochs else "resuming"
        print(f"{args.out}: {before}/{config.train.epochs} epochs done before this call ({state})", flush=True)
    times = Timings()
    try:
        records = train(config, args.out, device=str(device), progress=progress, stop_after=args.stop_after,
                        argv=cmd, world=world, timings=times)
    finally:
        close_world(world)
    if not world.is_main:  # rank 0 reports and probes
        return
    done = max((r["epoch"] for r in records if r.get("kind") == "train"), default=0)
    print(f"trained {done}/{config.train.epochs} epochs into {args.out}", flush=True)
    if args.command == "run" and done == config.train.epochs:
        print("final probe" + (" (fast probe only)" if not config.probe.paper else " (fast and paper protocols)")
              + "...", flush=True)
    if args.command == "run" and done == config.train.epochs:
        started = time.perf_counter()
        result = probe_run(args.out, device=str(device), progress=progress, argv=cmd)
        times.extra["final probe"] = time.perf_counter() - started
        print(_summary(result))
    print(times.line(), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 non-finite loss, 2 bad options, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    where = f"{parser.prog} {args.command}"
    try:
        _dispatch(args, argv, parser.prog)
    except (ValueError, FileNotFoundError) as err:
        if args.traceback:
            traceback.print_exc()
        fail(f"{where}: error: {err}", 2)
    except NonFiniteLossError as err:
        if args.traceback:
            traceback.print_exc()
        hint = "" if "--lr" in str(err) else "; the training diverged: try a smaller --lr"
        fail(f"{where}: stopped: {err}{hint}", 1)
    except OSError as err:  # a full disk, a folder that became unwritable: the run failed, not the input
        if args.traceback:
            traceback.print_exc()
        fail(f"{where}: failed: {err}", 1)
    except KeyboardInterrupt:
        fail(f"{where}: interrupted; rerun the same command to resume", 130)
    except RuntimeError as err:  # under torchrun: another process died and this one's collective failed
        from deep_experiments.run.distributed import peer_failure, world_from_env

        try:
            world = world_from_env()
        except ValueError:
            raise err from None
        resume = shlex.join(["torchrun", "--standalone", f"--nproc_per_node={world.size}", "-m", "deep_experiments",
                             *argv])
        line = peer_failure(err, world, resume)
        if line is None:
            raise
        if args.traceback:
            traceback.print_exc()
        fail(f"{where}: {line}", 1)
    return 0
