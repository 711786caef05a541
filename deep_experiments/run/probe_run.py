"""The final probes of a run folder (:func:`probe_run`): fast probe and paper protocol -> ``probe.json``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from deep_experiments.configs import ProbeConfig
from deep_experiments.data import build_dataset
from deep_experiments.device import resolve_device
from deep_experiments.overlay_control import build_probe_sets, probe_with_controls
from deep_experiments.probe import ProbeRuntime, paper_probe
from deep_experiments.run.checkpoint import load_checkpoint
from deep_experiments.run.components import build_components
from deep_experiments.run.folder import RunFolder
from deep_experiments.run.online_head import OnlineHead, online_head_accuracy
from deep_experiments.run.train import DatasetBuilder
from deep_experiments.seeds import make_generator
from deep_experiments.views import fit_items
from featuredrop.config import save_json, to_dict

__all__ = ["probe_run"]


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

    ``probe.json`` holds ``epoch`` (of the checkpoint), ``dataset``, ``method`` (the kind of
    views), ``fast`` (with its overlay controls, :mod:`deep_experiments.overlay_control`), ``online_head``
    (when the run trained one, ``probe.online_head``: the colab's online read-out as the checkpoint holds it,
    on the fast probe's test split; :mod:`deep_experiments.run.online_head`) and (unless ``probe.paper`` is false) ``paper`` accuracies per task,
    ``over_time`` (the fast probes recorded during training) and the ``probe_config`` used (the
    run's own unless ``probe`` overrides it).
    """
    folder = RunFolder(out_dir)
    config = folder.load_config()
    if probe is not None:
        config = replace(config, probe=probe)
    if not folder.checkpoint.exists():
        raise FileNotFoundError(f"{folder.root} has no checkpoint.pt; train it first")
    state = load_checkpoint(folder.checkpoint)  # an unreadable checkpoint is refused before anything is written
    dev = resolve_device(device)
    seed = config.train.seed
    train_set = dataset_builder(config.data, "train", seed)
    test_set = dataset_builder(config.data, "test", seed)
    comps = build_components(config, train_set.spec, dev)
    for key, module in comps.modules().items():
        try:
            module.load_state_dict(state["modules"][key])
        except (RuntimeError, KeyError) as err:  # a checkpoint of another width, encoder or kind of views
            first = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line),
                         str(err).splitlines()[0] if str(err) else f"no {key}")
            raise ValueError(f"{folder.checkpoint}: does not fit this run's config ({first})") from None
        module.eval()
    folder.log_command(argv)  # after the checkpoint loaded: one that does not fit changes no file
    pc, nw = config.probe, config.data.num_workers
    result: dict[str, Any] = {"epoch": int(state["epoch"]), "dataset": config.data.dataset,
                              "method": config.views.kind}
    sets = build_probe_sets(config, (train_set, test_set))
    result["fast"] = probe_with_controls(comps.encoder, comps.normalize, sets, pc, dev, nw)
    if "online_head" in state:
        head = OnlineHead(comps.encoder, train_set.spec, config, len(train_set) // config.train.batch_size)
        head.load_state_dict(state["online_head"])
        result["online_head"] = online_head_accuracy(head, comps.normalize, test_set, nw)
    if pc.paper:
        probe_set = fit_items(train_set, comps.views)
        spec = train_set.spec
        runtime = ProbeRuntime(dev, make_generator(seed, "probe/views", dev), make_generator(seed, "probe/order"),
                               nw, progress)
        result["paper"] = paper_probe(comps.encoder, comps.views, comps.normalize, probe_set, test_set,
                                      (spec.num_classes_a, spec.num_classes_b), pc, runtime)
    result["over_time"] = folder.fast_probes()
    result["probe_config"] = to_dict(pc)
    save_json(folder.probe, result)
    return result
