"""Final numbers of many InfoNCE (or generalized-loss) runs of the linear model: batched, cached, in processes.

A run is a (:class:`LinearModel`, seed) pair trained by :func:`linear_theory.simulate.simulate_many`
with one :class:`SimulationConfig`. :func:`infonce_runs` trains the runs the cache lacks, one batch
per model shape (the missing models x the missing seeds; a run does not depend on its batch-mates),
on up to ``workers`` processes, and returns every run's final probe ``R^2``, captured strength and
loss. The sweep's ``--loss infonce`` and figure 3 both use it.

The cache is one JSON file per simulation setting (:func:`cache_settings`, which includes a hash of
the source of the trainer and of every project module it imports (:data:`TRAINER_MODULES`), so
a fix to the simulator, the losses or the probe starts a fresh cache instead of re-using stale runs); entries are keyed by the model's parameters and the seed and written after every batch
(atomically), so a grid that grows re-uses the runs it has and an interrupted one resumes. A cache file
that cannot be read, or an entry without the numbers of a run, is ignored (with one warning line) and
its runs are trained again: a corrupt cache costs time, never a wrong number or a crash.

With ``progress``, the runs trained in this process show one bar per block (a batch of at most
:data:`MAX_BATCH` models) under a bar that names the block: ``InfoNCE block 2/4 (250 runs)``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import featuredrop.losses
import linear_theory.closed_form
import linear_theory.infonce_grad
import linear_theory.model
import linear_theory.simulate
import linear_theory.spectral
import linear_theory.trajectory
from featuredrop.atomic import atomic_write
from featuredrop.config import to_dict
from linear_theory.model import LinearModel
from linear_theory.simulate import SimulationConfig, simulate_many

__all__ = ["FinalRuns", "RunCache", "TRAINER_MODULES", "cache_settings", "run_key", "train_batch", "infonce_runs"]

Entry = dict[str, Any]

TRAINER_MODULES = (linear_theory.simulate, linear_theory.infonce_grad, featuredrop.losses, linear_theory.model,
                   linear_theory.closed_form, linear_theory.spectral, linear_theory.trajectory)
"""The modules whose source determines a run's numbers: the trainer and the project modules it imports."""


def run_key(model: LinearModel, seed: int) -> str:
    """The cache key of one run: every model parameter (exact floats) and the seed."""
    blocks = " ".join(f"(r={b.dim} s={b.strength!r} p={b.dropout!r} eta={b.aug_noise!r}{' binary' * b.binary})"
                      for b in model.blocks)
    return f"k={model.rep_dim} d={model.d} sigma={model.noise!r} {blocks} seed={seed}"


def _final_only(simulation: SimulationConfig) -> SimulationConfig:
    """The run as trained here: only the last step is recorded; seeds come per run, not from the config."""
    return replace(simulation, record_every=simulation.steps, seed=0)


def cache_settings(simulation: SimulationConfig) -> dict[str, Any]:
    """Everything that determines a run besides its model and seed (the cache file's identity)."""
    digest = hashlib.sha256()
    for module in TRAINER_MODULES:
        digest.update(Path(module.__file__).read_bytes())  # type: ignore[arg-type]
    source = digest.hexdigest()[:12]
    return {"simulation": to_dict(_final_only(simulation)), "trainer": f"linear_theory.simulate.simulate_many@{source}"}


class RunCache:
    """Final numbers of runs in ``folder/infonce-HASH.json`` (``folder=None``: in memory only)."""

    def __init__(self, folder: Path | None, simulation: SimulationConfig) -> None:
        settings = cache_settings(simulation)
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        self.path = None if folder is None else Path(folder) / f"infonce-{digest}.json"
        self.header = {"what": "final numbers of InfoNCE runs of the linear model (linear_theory.infonce_runs)",
                       "run_settings": settings}
        self.runs: dict[str, Entry] = {}
        if self.path is not None and self.path.exists():
            try:
                runs = json.loads(self.path.read_text())["runs"]
                if not isinstance(runs, dict):
                    raise TypeError("its runs are not a table")
                self.runs = runs
            except (OSError, ValueError, KeyError, TypeError) as err:  # recomputed and rewritten, never trusted
                print(f"warning: the InfoNCE cache {self.path} is unreadable ({type(err).__name__}: "
                      f"{' '.join(str(err).split())}); its runs are trained again", file=sys.stderr, flush=True)

    def get(self, model: LinearModel, seed: int) -> Entry | None:
        """The cached entry of a run, or ``None`` when there is none or it lacks a run's numbers (corrupt)."""
        entry = self.runs.get(run_key(model, seed))
        return entry if _complete(entry, len(model.blocks)) else None

    def put_many(self, entries: dict[tuple[LinearModel, int], Entry]) -> None:
        """Add entries (never overwriting a good cached run, always a corrupt one) and rewrite the file once."""
        for (model, seed), entry in entries.items():
            if self.get(model, seed) is None:
                self.runs[run_key(model, seed)] = entry
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps({**self.header, "runs": self.runs}, indent=1, sort_keys=True) + "\n")


def _complete(entry: Any, blocks: int) -> bool:
    """Whether a cache entry holds a run's numbers: ``probe_r2`` and ``captured_strength`` per block, ``final_loss``."""
    if not isinstance(entry, dict):
        return False
    per_block = [entry.get("probe_r2"), entry.get("captured_strength")]
    return (all(isinstance(v, list) and len(v) == blocks and all(isinstance(x, (int, float)) for x in v)
                for v in per_block)
            and isinstance(entry.get("final_loss"), (int, float)))  # NaN is a number: a run that diverged


@dataclass(frozen=True)
class FinalRuns:
    """Final numbers of ``M`` models x ``S`` seeds: ``probe_r2`` and ``captured_strength`` ``(M, S, K)``, ``loss`` ``(M, S)``."""

    probe_r2: np.ndarray
    captured_strength: np.ndarray
    loss: np.ndarray


def train_batch(models: Sequence[LinearModel], seeds: Sequence[int], simulation: SimulationConfig,
                progress: bool = False) -> dict[tuple[LinearModel, int], Entry]:
    """Train every (model, seed) of one shape in one batch; returns ``{(model, seed): entry}``.

    An entry holds the clean-input ``probe_r2`` and ``captured_strength`` per block and the
    ``final_loss`` at the last step. Module-level, so that a process pool can run it.
    """
    tr = simulate_many(models, seeds, _final_only(simulation), progress=progress, threads=1)
    r2, cs, loss = tr.final_probe_r2(), tr.final_captured_strength(), tr.final_loss()
    return {(m, seed): {"probe_r2": r2[i, j].tolist(), "captured_strength": cs[i, j].tolist(),
                        "final_loss": float(loss[i, j])}
            for i, m in enumerate(models) for j, seed in enumerate(seeds)}


def _shape(model: LinearModel) -> tuple:
    return tuple(b.dim for b in model.blocks), model.rep_dim, model.d


def _missing_batches(models: Sequence[LinearModel], seeds: Sequence[int],
                     store: RunCache) -> list[tuple[tuple[LinearModel, ...], tuple[int, ...]]]:
    """One batch per model shape: the models that miss a run (first-seen order) x their missing seeds."""
    groups: dict[tuple, tuple[dict[LinearModel, None], set[int]]] = {}
    for m in models:
        for s in seeds:
            if store.get(m, s) is None:
                todo, todo_seeds = groups.setdefault(_shape(m), ({}, set()))
                todo[m] = None
                todo_seeds.add(s)
    return [(tuple(todo), tuple(sorted(todo_seeds))) for todo, todo_seeds in groups.values()]


MAX_BATCH = 250
"""Most models per trained batch: beyond it a batch is no faster per run, and the cache is written less often."""


def _split(batches: list[tuple[tuple[LinearModel, ...], tuple[int, ...]]],
           workers: int) -> list[tuple[tuple[LinearModel, ...], tuple[int, ...]]]:
    """Cut each batch's models into equal parts of at most :data:`MAX_BATCH`, and at least ``workers`` parts in all."""
    total = sum(len(bm) for bm, _ in batches)
    out = []
    for bm, bs in batches:
        parts = max(-(-len(bm) // MAX_BATCH), min(len(bm), -(-workers * len(bm) // max(total, 1))))
        size = -(-len(bm) // parts)
        out += [(bm[i:i + size], bs) for i in range(0, len(bm), size)]
    return out


def infonce_runs(models: Sequence[LinearModel], seeds: Sequence[int], simulation: SimulationConfig, *,
                 cache: Path | None = None, workers: int = 1, progress: bool = False,
                 log: Callable[[str], None] = lambda msg: None) -> FinalRuns:
    """Final numbers of every (model, seed) run, training only what the cache in ``cache`` lacks.

    Args:
        models, seeds: the runs are their product (models may differ in shape).
        simulation: the training (its ``seed`` and ``record_every`` are ignored).
        cache: folder of the cache file (``None``: no cache).
        workers: processes for the batches (results do not depend on it: a run depends only on its model
            and seed, not on its batch-mates); a big batch is cut into parts for them.
        progress: a progress bar: per training step in-process, per finished run with ``workers > 1``
            (shown only on a terminal).
    """
    models, seeds = list(models), [int(s) for s in seeds]
    store = RunCache(cache, simulation)
    batches = _split(_missing_batches(models, seeds, store), workers)
    cached = len(models) * len(seeds) - sum(1 for m in models for s in seeds if store.get(m, s) is None)
    if cached:
        log(f"  {cached} InfoNCE run(s) from the cache {store.path}")
    for batch_models, batch_seeds in batches:
        log(f"  k={batch_models[0].rep_dim}: training {len(batch_models) * len(batch_seeds)} InfoNCE runs "
            f"({simulation.steps} steps each) ...")
    start = time.perf_counter()

    def record(entries: dict[tuple[LinearModel, int], Entry]) -> None:
        store.put_many(entries)
        log(f"  {len(entries)} InfoNCE runs done at {time.perf_counter() - start:.0f} s")

    if workers == 1 or len(batches) <= 1:
        blocks = tqdm(total=len(batches), unit="block", disable=not progress or len(batches) < 2)
        for i, (batch_models, batch_seeds) in enumerate(batches, 1):
            blocks.set_description(f"InfoNCE block {i}/{len(batches)} ({len(batch_models) * len(batch_seeds)} runs)")
            record(train_batch(batch_models, batch_seeds, simulation, progress))
            blocks.update()
        blocks.close()
    else:
        # spawn, not fork: the parent has torch (and its thread pools) loaded
        with ProcessPoolExecutor(min(workers, len(batches)), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(train_batch, bm, bs, simulation) for bm, bs in batches]
            total = sum(len(bm) * len(bs) for bm, bs in batches)
            with tqdm(total=total, desc="InfoNCE runs", unit="run", disable=None if progress else True) as bar:
                for future in as_completed(futures):
                    entries = future.result()
                    record(entries)
                    bar.update(len(entries))
    entries = [[store.get(m, s) for s in seeds] for m in models]
    return FinalRuns(np.array([[e["probe_r2"] for e in row] for row in entries]),
                     np.array([[e["captured_strength"] for e in row] for row in entries]),
                     np.array([[e["final_loss"] for e in row] for row in entries]))
