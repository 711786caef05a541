"""Contrastive pretraining with automatic resume (:func:`train`).

:func:`train` runs ``config.train.epochs`` epochs of the chosen views into a run folder (see
:mod:`deep_experiments.run.folder`), resuming from ``checkpoint.pt`` when the folder has one, and
records the fast probe after the epochs in ``TrainConfig.probe_epochs()``. The final probes of a
run are :func:`deep_experiments.run.probe_run.probe_run`.

Random streams (all derived from ``train.seed``): ``data/order`` shuffles batches (CPU; with
``train.data_order="fixed"``, ``data/fixed-order`` draws the one order of every epoch instead),
``augment`` draws views and viewmaker noise (on the device), ``init/*`` initializes the networks,
``probe/*`` drives the paper probe. The datasets draw overlays from ``(seed, split, epoch, index)``.
On CPU a resumed run reproduces an uninterrupted one exactly.

With ``probe.online_head`` the colab's read-out trains beside the encoder
(:mod:`deep_experiments.run.online_head`): a step of its heads after every encoder step, its
accuracy logged at the fast probe's epochs (``kind: "online_head"``), its state in the checkpoint.
It consumes none of the streams above, so the encoder trains exactly as without it.

Data-parallel runs (``torchrun``, ``world``): see :mod:`deep_experiments.run.distributed`; every process
trains on its rows of each global batch and only rank 0 writes the run folder and probes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from deep_experiments.configs import RunConfig
from deep_experiments.data import (
    DatasetBuilder,
    DeviceLoader,
    build_dataset,
    fixed_order,
    make_loader,
    unpack_batch,
)
from deep_experiments.device import resolve_device
from deep_experiments.guards import NonFiniteLossError
from deep_experiments.overlay_control import ProbeSets, build_probe_sets, probe_with_controls
from deep_experiments.run.checkpoint import export_backbone, non_finite, resume_state, save_checkpoint
from deep_experiments.run.components import Components, build_components, build_lr_schedule
from deep_experiments.run.distributed import (
    SINGLE,
    ShardedBatches,
    World,
    barrier,
    check_resume,
    data_parallel,
    generator_states,
    main_first,
    stream_name,
)
from deep_experiments.run.folder import MetricsLog, RunFolder
from deep_experiments.run.online_head import OnlineHead, online_head_accuracy
from deep_experiments.run.perf import check_perf
from deep_experiments.seeds import make_generator
from deep_experiments.views import fit_items
from featuredrop.config import to_dict

"""``build_dataset`` or a replacement with its signature (tests)."""

Schedule = torch.optim.lr_scheduler.LRScheduler

__all__ = ["train", "DatasetBuilder", "Timings"]


@dataclass
class Timings:
    """Where a :func:`train` call spent its wall time, in seconds (the CLI prints :meth:`line`).

    ``startup``: datasets, networks, a resumed checkpoint; ``data``: loading and collating the items;
    ``views``: making the two views of every step (the views' kind's own step, the viewmaker's, counts
    in ``steps``); ``steps``: the rest of the training steps (encoder forward, loss, backward, optimizer,
    schedule, online head); ``probes``: the fast probes during training; ``checkpoints``: the finite
    check and writing checkpoints and backbone. On CUDA the parts are host time (not synchronized).
    """

    startup: float = 0.0
    data: float = 0.0
    views: float = 0.0
    steps: float = 0.0
    probes: float = 0.0
    checkpoints: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    """Parts timed outside :func:`train` (the CLI's final probe), printed after the others."""

    def line(self) -> str:
        """``time: startup 3.1 s, data 6.0 s, ...; total 130.2 s`` (parts in the order of the fields)."""
        parts = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"} | self.extra
        return ("time: " + ", ".join(f"{name.replace('_', ' ')} {seconds:.1f} s" for name, seconds in parts.items())
                + f"; total {sum(parts.values()):.1f} s")


@dataclass
class _Session:
    """Everything the epochs of one :func:`train` call act on."""

    comps: Components
    schedule: Schedule
    config: RunConfig
    loader: torch.utils.data.DataLoader | DeviceLoader
    fit_set: Any
    probe_sets: ProbeSets
    gens: dict[str, torch.Generator]
    device: torch.device
    folder: RunFolder
    progress: bool
    world: World = SINGLE
    online: OnlineHead | None = None
    times: Timings = field(default_factory=Timings)


def _epoch_loop(session: _Session, epoch: int) -> dict[str, float]:
    """One pass over the loader; returns mean losses and the step count."""
    sums: dict[str, float] = {}
    steps = 0
    total = session.config.train.epochs
    bar = tqdm(session.loader, desc=f"epoch {epoch}/{total}", disable=not session.progress, leave=False)
    times, learner = session.times, session.comps.learner
    fetched = time.perf_counter()
    for step, batch in enumerate(bar, start=1):
        image, label_a, label_b, base = unpack_batch(batch, session.device)
        started, views_before = time.perf_counter(), learner.view_seconds
        times.data += started - fetched
        if session.online is not None:
            session.online.arm(len(image))
        losses = learner.step(image, base, session.gens["augment"], where=f"epoch {epoch} step {step}")
        session.schedule.step()
        if session.online is not None:
            losses["online_head_loss"] = session.online.step(label_a, label_b)
        views = learner.view_seconds - views_before
        fetched = time.perf_counter()
        times.views += views
        times.steps += fetched - started - views
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value
        steps += 1
        bar.set_postfix(loss=f"{losses['loss']:.3f}")
    if steps == 0:
        raise ValueError("no training step in an epoch: train size is smaller than the batch size")
    return {**{k: v / steps for k, v in sums.items()}, "steps": steps}


def _state(session: _Session, epoch: int) -> dict[str, Any]:
    """The checkpoint dict (keys documented in :mod:`deep_experiments.run.checkpoint`)."""
    return {
        "epoch": epoch,
        "modules": {k: m.state_dict() for k, m in session.comps.modules().items()},
        "optimizers": {k: o.state_dict() for k, o in session.comps.optimizers().items()},
        "schedule": session.schedule.state_dict(),
        "generators": generator_states(session.gens, session.world),  # a collective: every process calls _state
        "world_size": session.world.size,
        "augment_device": session.gens["augment"].device.type,
        "config": to_dict(session.config),
        **({"online_head": session.online.state_dict()} if session.online is not None else {}),
    }


def _restore(comps: Components, schedule: Schedule, state: dict[str, Any], gens: dict[str, torch.Generator],
             online: OnlineHead | None = None) -> int:
    """Load a checkpoint into the components, generators and online head; returns the completed epochs."""
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
    if online is not None:
        online.load_state_dict(state["online_head"])
    return int(state["epoch"])


def _restore_from(path: Path, comps: Components, schedule: Schedule, state: dict[str, Any],
                  gens: dict[str, torch.Generator], online: OnlineHead | None = None) -> int:
    """:func:`_restore`, with a checkpoint of another shape or kind (another width, encoder or kind of views)
    reported as a ``ValueError`` naming ``path`` instead of torch's list of every mismatched tensor."""
    try:
        return _restore(comps, schedule, state, gens, online)
    except (RuntimeError, KeyError) as err:
        first = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line or "key" in line),
                     str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise ValueError(f"{path}: does not fit this run's config (another width, encoder or kind of views?): "
                         f"{first}") from None


def train(
    config: RunConfig,
    out_dir: str | Path,
    *,
    device: str = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    argv: Sequence[str] | None = None,
    dataset_builder: DatasetBuilder = build_dataset,
    world: World = SINGLE,
    timings: Timings | None = None,
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
        world: this process's place in a data-parallel run (:func:`deep_experiments.run.distributed.init_world`;
            ``device`` is then this process's own); ``config.train.batch_size`` is the global batch.
        timings: filled with where the call's time went (:class:`Timings`); timing changes no number.

    Returns:
        All metric records of the run so far (also in ``metrics.jsonl``).

    Raises:
        NonFiniteLossError: a loss became NaN/inf (the message names epoch and step).
    """
    if stop_after is not None and stop_after < 1:
        raise ValueError(f"stop_after must be >= 1, got {stop_after}")
    times = Timings() if timings is None else timings
    begun = time.perf_counter()
    dev = resolve_device(device)
    check_perf(config.train.perf, dev, config.train.encoder, config.train.width)
    tc = config.train
    if config.probe.online_head and world.distributed:
        raise ValueError("probe.online_head (--online-head) trains its heads in one process; run it without torchrun")
    folder = RunFolder(out_dir)  # created only once the options are known to work
    folder.check(config)
    world.local_batch(tc.batch_size)  # a global batch that does not split evenly is refused
    with main_first(world):  # rank 0 may set a corrupt checkpoint aside before the others read
        resumed = resume_state(folder.checkpoint)  # a bad checkpoint is refused before anything is written
    if resumed is not None:
        resumed["generators"] = check_resume(resumed, world, folder.checkpoint)
    say = tqdm.write if progress and world.is_main else (lambda text: None)
    say(f"building the {config.data.dataset} train and test splits...")
    train_set = dataset_builder(config.data, "train", tc.seed)
    test_set = dataset_builder(config.data, "test", tc.seed)
    if len(train_set) < tc.batch_size:
        raise ValueError(f"train size {len(train_set)} is smaller than the batch size {tc.batch_size}")
    comps = build_components(config, train_set.spec, dev)
    data_parallel(comps, world)
    gens = {"order": make_generator(tc.seed, "data/order"),
            "augment": make_generator(tc.seed, stream_name("augment", world.rank), dev)}
    schedule = build_lr_schedule(comps.learner.encoder_opt, config, len(train_set) // tc.batch_size)
    online = (OnlineHead(comps.encoder, train_set.spec, config, len(train_set) // tc.batch_size)
              if config.probe.online_head else None)
    start = 0
    if resumed is not None:
        start = _restore_from(folder.checkpoint, comps, schedule, resumed, gens, online)
    if world.is_main:  # after the checkpoint loaded: a checkpoint that does not fit changes no file
        folder.prepare(config, argv)
        folder.truncate_metrics(start)
    fit_set = fit_items(train_set, comps.views)
    order = (fixed_order(len(fit_set), make_generator(tc.seed, "data/fixed-order"))
             if tc.data_order == "fixed" else None)  # drawn anew on resume: the same permutation
    loader: torch.utils.data.DataLoader | DeviceLoader
    if tc.perf.device_data:  # the same batches, from one host->device copy per epoch
        loader = DeviceLoader(fit_set, tc.batch_size, generator=gens["order"], device=dev,
                              num_workers=config.data.num_workers, drop_last=True, order=order)
    else:
        loader = make_loader(fit_set, tc.batch_size, shuffle=order is None, generator=gens["order"],
                             num_workers=config.data.num_workers, drop_last=True, pin_memory=dev.type == "cuda",
                             order=order)
    if world.distributed:
        loader = ShardedBatches(loader, tc.batch_size, world)  # type: ignore[assignment]
    session = _Session(comps, schedule, config, loader, fit_set, build_probe_sets(config, (train_set, test_set)),
                       gens, dev, folder, progress and world.is_main, world, online.attach() if online else None, times)
    log = folder.open_metrics() if world.is_main else None
    times.startup += time.perf_counter() - begun
    try:
        done = _run_epochs(session, log, start, stop_after)
    finally:
        if log is not None:
            log.close()
        if online is not None:
            online.detach()
    if done == tc.epochs and world.is_main:
        started = time.perf_counter()
        export_backbone(folder.backbone, comps.encoder, comps.normalize, config.data.dataset)
        times.checkpoints += time.perf_counter() - started
    barrier(world)  # every process returns once rank 0 has written the run's files
    return folder.read_metrics()


def _check_finite(comps: Components, epoch: int) -> None:
    """:class:`NonFiniteLossError` naming the parameters and buffers that are NaN/inf after ``epoch``."""
    bad = non_finite({name: module.state_dict() for name, module in comps.modules().items()})
    if bad:
        raise NonFiniteLossError(f"non-finite parameters or buffers after epoch {epoch} ({bad}): training "
                                 f"diverged; try a smaller --lr (nothing of this epoch was saved)")


def _run_epochs(session: _Session, log: MetricsLog | None, start: int, stop_after: int | None) -> int:
    """Epochs ``start+1 .. epochs`` (or ``stop_after`` of them): train, probe, log, checkpoint (``log`` and the
    probe, rank 0 only).

    Returns the number of completed epochs.
    """
    config, comps = session.config, session.comps
    tc = config.train
    end = tc.epochs if stop_after is None else min(tc.epochs, start + stop_after)
    for module in comps.modules().values():
        module.train()
    for epoch in range(start + 1, end + 1):
        t0 = time.perf_counter()
        session.fit_set.set_epoch(epoch - 1)
        stats = _epoch_loop(session, epoch)
        started = time.perf_counter()
        _check_finite(comps, epoch)  # before anything probes or saves a diverged network
        if log is None:  # not rank 0: its part of the checkpoint only
            _state(session, epoch)
            session.times.checkpoints += time.perf_counter() - started
            continue
        session.times.checkpoints += time.perf_counter() - started
        log.write({"kind": "train", "epoch": epoch, "seconds": round(time.perf_counter() - t0, 3), **stats})
        started = time.perf_counter()
        if epoch in tc.probe_epochs():
            if session.progress:
                tqdm.write(f"epoch {epoch}/{tc.epochs}: fast probe...")
            acc = probe_with_controls(comps.encoder, comps.normalize, session.probe_sets, config.probe,
                                      session.device, config.data.num_workers)
            log.write({"kind": "fast_probe", "epoch": epoch, **acc})
            if session.online is not None:
                log.write({"kind": "online_head", "epoch": epoch,
                           **online_head_accuracy(session.online, comps.normalize, session.probe_sets.own[1],
                                                  config.data.num_workers)})
        saving = time.perf_counter()
        session.times.probes += saving - started
        save_checkpoint(session.folder.checkpoint, _state(session, epoch))
        session.times.checkpoints += time.perf_counter() - saving
    return end
