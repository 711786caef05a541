"""Contrastive pretraining with automatic resume, and the final probes of a run folder.

:func:`train` runs ``config.train.epochs`` epochs of the chosen method into a run folder (see
:mod:`deep_experiments.runfolder`), resuming from ``checkpoint.pt`` when the folder has one, and
records the fast probe after the epochs in ``TrainConfig.probe_epochs()``. :func:`probe_run`
evaluates a run's final encoder with the fast probe and the paper protocol into ``probe.json``.

Random streams (all derived from ``train.seed``): ``data/order`` shuffles batches (CPU),
``augment`` draws views and viewmaker noise (on the device), ``init/*`` initializes the networks,
``probe/*`` drives the paper probe. The datasets draw overlays from ``(seed, split, epoch, index)``.
On CPU a resumed run reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from deep_experiments.checkpoint import export_backbone, load_checkpoint, save_checkpoint
from deep_experiments.components import Components, build_components, build_lr_schedule
from deep_experiments.configs import ProbeConfig, RunConfig
from deep_experiments.data import TwoTaskDataset, build_dataset
from deep_experiments.probe import fast_probe, paper_probe
from deep_experiments.runfolder import MetricsLog, RunFolder
from deep_experiments.runtime import make_generator, make_loader, resolve_device, unpack_batch
from featuredrop.config import save_json, to_dict

DatasetBuilder = Callable[..., TwoTaskDataset]

__all__ = ["train", "probe_run", "build_datasets"]


def build_datasets(config: RunConfig, builder: DatasetBuilder = build_dataset) -> tuple[TwoTaskDataset, TwoTaskDataset]:
    """The train and test splits named by ``config.data`` (overlays seeded by ``train.seed``)."""
    dc = config.data
    common: dict[str, Any] = {
        "base_source": dc.base_source,
        "digit_source": dc.digit_source,
        "data_dir": dc.data_dir,
        "download": dc.download,
        "overlay_strength": dc.overlay_strength,
        "randbit_bits": dc.randbit_bits,
        "seed": config.train.seed,
    }
    train_set = builder(dc.dataset, "train", size=dc.train_size, **common)
    test_set = builder(dc.dataset, "test", size=dc.test_size, **common)
    return train_set, test_set


Schedule = torch.optim.lr_scheduler.LRScheduler


def _epoch_loop(
    comps: Components,
    schedule: Schedule,
    loader: torch.utils.data.DataLoader,
    generator: torch.Generator,
    device: torch.device,
    epoch: int,
    total: int,
    progress: bool,
) -> dict[str, float]:
    """One pass over the loader; returns mean losses and the step count."""
    sums: dict[str, float] = {}
    steps = 0
    bar = tqdm(loader, desc=f"epoch {epoch}/{total}", disable=not progress, leave=False)
    for step, batch in enumerate(bar, start=1):
        image, _, _, base = unpack_batch(batch, device)
        losses = comps.learner.step(image, base, generator, where=f"epoch {epoch} step {step}")
        schedule.step()
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value
        steps += 1
        bar.set_postfix(loss=f"{losses['loss']:.3f}")
    if steps == 0:
        raise ValueError("no training step in an epoch: train size is smaller than the batch size")
    return {**{k: v / steps for k, v in sums.items()}, "steps": steps}


def _state(comps: Components, schedule: Schedule, epoch: int, gens: dict[str, torch.Generator],
           config: RunConfig) -> dict[str, Any]:
    """The checkpoint dict (keys documented in :mod:`deep_experiments.checkpoint`)."""
    return {
        "epoch": epoch,
        "modules": {k: m.state_dict() for k, m in comps.modules().items()},
        "optimizers": {k: o.state_dict() for k, o in comps.optimizers().items()},
        "schedule": schedule.state_dict(),
        "generators": {k: g.get_state() for k, g in gens.items()},
        "augment_device": gens["augment"].device.type,
        "config": to_dict(config),
    }


def _restore(comps: Components, schedule: Schedule, state: dict[str, Any], gens: dict[str, torch.Generator]) -> int:
    """Load a checkpoint into the components and generators; returns the completed epochs."""
    if state["augment_device"] != gens["augment"].device.type:
        raise ValueError(
            f"the checkpoint was written on {state['augment_device']}; resume it with --device "
            f"{state['augment_device']}"
        )
    for key, module in comps.modules().items():
        module.load_state_dict(state["modules"][key])
    for key, opt in comps.optimizers().items():
        opt.load_state_dict(state["optimizers"][key])
    schedule.load_state_dict(state["schedule"])
    for key, gen in gens.items():
        gen.set_state(state["generators"][key])
    return int(state["epoch"])


def train(
    config: RunConfig,
    out_dir: str | Path,
    *,
    device: str = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    argv: Sequence[str] | None = None,
    dataset_builder: DatasetBuilder = build_dataset,
) -> list[dict[str, Any]]:
    """Pretrain into ``out_dir``, resuming from its checkpoint if there is one.

    Args:
        config: the run's config (must equal the folder's ``config.json`` when resuming).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``.
        progress: show tqdm progress bars.
        stop_after: stop after this many epochs *in this call* (pre-emption, time limits);
            calling again resumes.
        argv: the command line to log (``sys.argv`` by default).
        dataset_builder: ``build_dataset`` or a replacement with its signature (tests).

    Returns:
        All metric records of the run so far (also in ``metrics.jsonl``).

    Raises:
        NonFiniteLossError: a loss became NaN/inf (the message names epoch and step).
    """
    if stop_after is not None and stop_after < 1:
        raise ValueError(f"stop_after must be >= 1, got {stop_after}")
    dev = resolve_device(device)
    tc = config.train
    train_set, test_set = build_datasets(config, dataset_builder)
    if len(train_set) < tc.batch_size:
        raise ValueError(f"train size {len(train_set)} is smaller than the batch size {tc.batch_size}")
    folder = RunFolder(out_dir)  # created only once the options are known to work
    folder.prepare(config, argv)
    comps = build_components(config, train_set.spec, dev)
    gens = {"order": make_generator(tc.seed, "data/order"), "augment": make_generator(tc.seed, "augment", dev)}
    schedule = build_lr_schedule(comps.learner.encoder_opt, config, len(train_set) // tc.batch_size)
    start = 0
    if folder.checkpoint.exists():
        start = _restore(comps, schedule, load_checkpoint(folder.checkpoint), gens)
    folder.truncate_metrics(start)
    fit_set = train_set.with_base() if comps.views.needs_base else train_set
    loader = make_loader(fit_set, tc.batch_size, shuffle=True, generator=gens["order"],
                         num_workers=config.data.num_workers, drop_last=True, pin_memory=dev.type == "cuda")
    log = folder.open_metrics()
    try:
        done = _run_epochs(comps, schedule, config, loader, fit_set, (train_set, test_set), gens, dev, log, folder,
                           start, stop_after, progress)
    finally:
        log.close()
    if done == tc.epochs:
        export_backbone(folder.backbone, comps.encoder, comps.normalize, config.data.dataset)
    return folder.read_metrics()


def _run_epochs(
    comps: Components,
    schedule: Schedule,
    config: RunConfig,
    loader: torch.utils.data.DataLoader,
    fit_set: Any,
    probe_sets: tuple[TwoTaskDataset, TwoTaskDataset],
    gens: dict[str, torch.Generator],
    dev: torch.device,
    log: MetricsLog,
    folder: RunFolder,
    start: int,
    stop_after: int | None,
    progress: bool,
) -> int:
    """Epochs ``start+1 .. epochs`` (or ``stop_after`` of them): train, probe, log, checkpoint.

    Returns the number of completed epochs.
    """
    tc = config.train
    end = tc.epochs if stop_after is None else min(tc.epochs, start + stop_after)
    for module in comps.modules().values():
        module.train()
    for epoch in range(start + 1, end + 1):
        t0 = time.perf_counter()
        fit_set.set_epoch(epoch - 1)
        stats = _epoch_loop(comps, schedule, loader, gens["augment"], dev, epoch, tc.epochs, progress)
        log.write({"kind": "train", "epoch": epoch, "seconds": round(time.perf_counter() - t0, 3), **stats})
        if epoch in tc.probe_epochs():
            acc = fast_probe(comps.encoder, comps.normalize, *probe_sets, config.probe, dev,
                             config.data.num_workers)
            log.write({"kind": "fast_probe", "epoch": epoch, **acc})
        save_checkpoint(folder.checkpoint, _state(comps, schedule, epoch, gens, config))
    return end


def probe_run(
    out_dir: str | Path,
    *,
    device: str = "auto",
    probe: ProbeConfig | None = None,
    progress: bool = True,
    argv: Sequence[str] | None = None,
    dataset_builder: DatasetBuilder = build_dataset,
) -> dict[str, Any]:
    """Probe a run's latest checkpoint; write and return ``probe.json``.

    ``probe.json`` holds ``epoch`` (of the checkpoint), ``fast`` and (unless ``probe.paper`` is
    false) ``paper`` accuracies per task, ``over_time`` (the fast probes recorded during
    training) and the ``probe_config`` used (the run's own unless ``probe`` overrides it).
    """
    folder = RunFolder(out_dir)
    config = folder.load_config()
    if probe is not None:
        config = replace(config, probe=probe)
    if not folder.checkpoint.exists():
        raise FileNotFoundError(f"{folder.root} has no checkpoint.pt; train it first")
    dev = resolve_device(device)
    train_set, test_set = build_datasets(config, dataset_builder)
    folder.log_command(argv)
    comps = build_components(config, train_set.spec, dev)
    state = load_checkpoint(folder.checkpoint)
    for key, module in comps.modules().items():
        module.load_state_dict(state["modules"][key])
        module.eval()
    pc, nw = config.probe, config.data.num_workers
    result: dict[str, Any] = {"epoch": int(state["epoch"]), "dataset": config.data.dataset,
                              "method": config.train.method}
    result["fast"] = fast_probe(comps.encoder, comps.normalize, train_set, test_set, pc, dev, nw)
    if pc.paper:
        probe_set = train_set.with_base() if comps.views.needs_base else train_set
        spec = train_set.spec
        result["paper"] = paper_probe(
            comps.encoder, comps.views, comps.normalize, probe_set, test_set,
            (spec.num_classes_a, spec.num_classes_b), pc, dev,
            make_generator(config.train.seed, "probe/views", dev), make_generator(config.train.seed, "probe/order"),
            nw, progress,
        )
    result["over_time"] = [r for r in folder.read_metrics() if r.get("kind") == "fast_probe"]
    result["probe_config"] = to_dict(pc)
    save_json(folder.probe, result)
    return result
