"""Data-parallel training (deep_experiments.run.distributed): 2 CPU processes on gloo against one process.

The multi-process tests share one pair of processes (torch.multiprocessing spawn, with torchrun's
variables set, a gloo process group on 127.0.0.1 and a free port): starting them is most of the time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from deep_experiments.cli import main as cli_main
from deep_experiments.configs import RunConfig, build_config
from deep_experiments.data import dataset_spec, make_loader
from deep_experiments.run.components import build_components
from deep_experiments.run.distributed import (
    SINGLE,
    GlobalBatchNorm,
    ShardedBatches,
    World,
    check_resume,
    close_world,
    data_parallel,
    global_batchnorm,
    init_world,
    stream_name,
    world_from_env,
)
from deep_experiments.run.train import train
from deep_experiments.views import FixedViews
from featuredrop.distributed import gather_pairs, gather_with_grad

from .datasets import make_dataset

WORLD = 2
GLOBAL_BATCH = 8
STEP_METHODS = ("expert", "hierarchical")


def _tiny(method: str = "viewmaker", epochs: int = 2) -> RunConfig:
    """16 images, global batch 8 (2 steps per epoch), ResNet-18 of width 4, fast probe only."""
    return build_config({
        "data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
        "train": {"epochs": epochs, "batch_size": GLOBAL_BATCH, "width": 4, "probe_at": [1.0]},
        "views": {"kind": method},
        "probe": {"epochs": 1, "batch_size": 8, "fast_max_iter": 50, "paper": False},
    })


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, port: int) -> tuple[World, torch.device]:
    """What torchrun does for a worker: its variables, then :func:`init_world`."""
    torch.set_num_threads(1)
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(WORLD), "LOCAL_RANK": str(rank)})
    return init_world("cpu")


class _RowViews(FixedViews):
    """Deterministic views, row by row (a flip, then a shift): the same rows whatever the process."""

    def __init__(self, normalize) -> None:  # noqa: ANN001
        self.normalize, self.calls = normalize, 0

    def __call__(self, image: torch.Tensor, base: object, generator: torch.Generator) -> torch.Tensor:
        self.calls += 1
        view = image.flip(-1) if self.calls % 2 else 0.9 * image.roll(2, dims=-2)
        return self.normalize(view)


def _global_batch() -> torch.Tensor:
    spec = dataset_spec(_tiny().data)
    g = torch.Generator().manual_seed(7)
    return torch.rand(GLOBAL_BATCH, spec.channels, spec.image_size, spec.image_size, generator=g)


def _row_stage_views(image: torch.Tensor, generator: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Deterministic hierarchical stage views and parameters, row by row (whatever the process): per stage a
    flip and a shift of a stage-dependent brightness, and parameters computed from each row."""
    views, params = [], []
    for k in range(4):
        scale = 1.0 - 0.05 * k
        views.append(torch.cat([scale * image.flip(-1), 0.9 * scale * image.roll(2, dims=-2)]))
        row = image.mean((1, 2, 3))[:, None] * torch.arange(1, 5, dtype=image.dtype)
        params.append(torch.cat([row + k, row.flip(1) - k]))
    return views, params


def _encoder_step(world: World, dtype: torch.dtype, method: str = "expert") -> dict[str, object]:
    """One encoder step of the tiny run in ``dtype`` on this process's rows of the fixed global batch.

    ``expert``: fixed views through the learner's loss; ``hierarchical``: fixed stage views through the
    hierarchical loss (four depths, stage heads with BatchNorm, trained in the encoder's optimizer).
    """
    config = _tiny(method)
    comps = build_components(config, dataset_spec(config.data), torch.device("cpu"))
    for module in comps.modules().values():
        module.to(dtype)
    data_parallel(comps, world)
    if method == "hierarchical":
        comps.views.stage_views = _row_stage_views
    else:
        comps.learner.views = _RowViews(comps.normalize)
    rows = GLOBAL_BATCH // world.size
    image = _global_batch().to(dtype)[world.rank * rows:(world.rank + 1) * rows]
    loss = comps.learner.encoder_step(image, None, torch.Generator())
    modules = comps.modules().items()
    return {"loss": loss,
            "grads": {f"{m}.{name}": p.grad.clone() for m, module in modules for name, p in module.named_parameters()
                      if p.grad is not None},
            "buffers": {f"{m}.{name}": b.clone() for m, module in modules for name, b in module.named_buffers()}}


def _cli_config(root: Path) -> Path:
    path = root / "tiny.json"
    path.write_text(json.dumps({"data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
                                "train": {"epochs": 1, "batch_size": GLOBAL_BATCH, "width": 4, "probe_at": [1.0]},
                                "views": {"kind": "dropout"}, "probe": {"fast_max_iter": 50, "paper": False}}))
    return path


def _cli_flags(root: Path) -> list[str]:
    return ["--config", str(root / "tiny.json"), "--device", "cpu", "--no-progress", "--out", str(root / "cli")]


def _worker(rank: int, port: int, out: str) -> None:
    """Everything the tests below check, in one pair of processes (starting them is the slow part).

    1. one encoder step on fixed views, float32 and float64; 2. a viewmaker run trained
    uninterrupted (``full``) and stopped after an epoch and resumed (``cut``), keeping this
    process's modules after every epoch; 3. the CLI under torchrun's variables (it closes the group).
    """
    from deep_experiments.cli import main
    from deep_experiments.run import train as train_module

    world, _ = _join(rank, port)
    root = Path(out)
    try:
        torch.save({f"{method}/{dtype}": _encoder_step(world, dtype, method) for dtype in (torch.float32, torch.float64)
                    for method in STEP_METHODS}, root / f"step{rank}.pt")
        saved: dict[str, object] = {}
        original = train_module._check_finite

        def spy(comps, epoch: int) -> None:  # noqa: ANN001
            saved.update({name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in comps.modules().items()})
            original(comps, epoch)

        train_module._check_finite = spy
        train(_tiny(), root / "full", device="cpu", progress=False, argv=["test"], world=world)
        train(_tiny(), root / "cut", device="cpu", progress=False, argv=["test"], world=world, stop_after=1)
        train(_tiny(), root / "cut", device="cpu", progress=False, argv=["test"], world=world)
        train_module._check_finite = original
        torch.save(saved, root / f"replica{rank}.pt")
        with (root / f"cli{rank}.txt").open("w") as log, contextlib.redirect_stdout(log):
            status = main(["run", *_cli_flags(root)])
        (root / f"cli{rank}.status").write_text(str(status))
    finally:
        close_world(world)


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one 2-process gloo session of :func:`_worker`."""
    root = tmp_path_factory.mktemp("two_processes")
    _cli_config(root)
    mp.spawn(_worker, args=(_free_port(), str(root)), nprocs=WORLD, join=True)
    return root


def _dying_worker(rank: int, port: int, out: str) -> None:
    """Rank 1 joins and is killed (SIGKILL: no message of its own); rank 0 runs the CLI and records how it ended."""
    import signal
    import sys

    from deep_experiments.cli import main

    world, _ = _join(rank, port)
    root = Path(out)
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    code: object = 0
    with (root / "survivor.err").open("w") as err, contextlib.redirect_stderr(err):
        try:
            code = main(["run", *_cli_flags(root)[:-1], str(root / "dies")])
        except SystemExit as stop:
            code = stop.code
        except BaseException:  # noqa: BLE001 - what the user would see: the traceback
            import traceback

            traceback.print_exc(file=sys.stderr)
            code = "traceback"
    (root / "survivor.status").write_text(str(code))


def test_when_a_rank_dies_the_survivor_names_it_and_the_resume_command_in_one_line(tmp_path: Path) -> None:
    _cli_config(tmp_path)
    context = mp.get_context("spawn")
    port = _free_port()
    procs = [context.Process(target=_dying_worker, args=(rank, port, str(tmp_path))) for rank in range(WORLD)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        if proc.is_alive():
            proc.kill()
    assert (tmp_path / "survivor.status").read_text() == "1"
    lines = (tmp_path / "survivor.err").read_text().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert "rank 0 stopped: rank 1 of the 2 processes died" in lines[0], lines[0]
    assert "resume with torchrun --standalone --nproc_per_node=2 -m deep_experiments run --config" in lines[0]


@pytest.mark.parametrize("method", STEP_METHODS)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_two_processes_compute_the_single_process_loss_and_gradients(two: Path, dtype: torch.dtype,
                                                                      tolerance: float, method: str) -> None:
    """Gathered NT-Xent + global BatchNorm + averaged gradients = the one-process step on the same views.

    For the hierarchical views too, whose stage heads (BatchNorm inside, trained in the encoder's
    optimizer) sit beside the encoder. (Per-process BatchNorm statistics instead change the float32
    loss by ~0.09 and the gradients by ~2.6 for expert views, the hierarchical loss by ~1.2.) The
    hierarchical float32 gradients get 1e-3: summed from two processes' partial gradients through four
    stages, they differ from one process's by float32 round-off (measured 1.8e-4 of the largest
    gradient); in float64 they agree to 1e-12. Loss and BatchNorm buffers keep the tight tolerance.
    """
    grad_tolerance = 1e-3 if method == "hierarchical" and dtype == torch.float32 else tolerance
    ref = _encoder_step(SINGLE, dtype, method)
    scale = max(g.abs().max().item() for g in ref["grads"].values())
    assert scale > 1e-2  # the comparison is not vacuous
    if method == "hierarchical":
        assert any(k.startswith("hierarchical.") for k in ref["grads"])  # the heads' gradients are compared
    for rank in range(WORLD):
        got = torch.load(two / f"step{rank}.pt", weights_only=True)[f"{method}/{dtype}"]
        assert set(got["grads"]) == set(ref["grads"])
        assert abs(got["loss"] - ref["loss"]) <= tolerance * max(1.0, abs(ref["loss"]))
        diff = max((got["grads"][k] - g).abs().max().item() for k, g in ref["grads"].items())
        assert diff <= grad_tolerance * max(1.0, scale), f"rank {rank}: gradients differ by {diff} (largest {scale})"
        for key, value in ref["buffers"].items():  # BatchNorm running statistics of the global batch
            assert torch.allclose(got["buffers"][key].double(), value.double(), rtol=0, atol=10 * tolerance), key


def test_two_process_training_keeps_replicas_equal_and_resumes_exactly(two: Path) -> None:
    """Viewmaker run: both processes hold the same encoder and viewmaker after every epoch (their gradients are
    averaged although their views differ); a run stopped after an epoch and resumed equals an uninterrupted one."""
    first, second = (torch.load(two / f"replica{r}.pt", weights_only=True) for r in range(WORLD))
    assert set(first) == {"encoder", "viewmaker"}
    for name in first:
        for key, value in first[name].items():
            assert torch.equal(value, second[name][key]), f"{name}.{key} differs between the processes"
    records = [[{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in (two / run / "metrics.jsonl").read_text().splitlines()] for run in ("full", "cut")]
    assert records[0] == records[1] and [r["kind"] for r in records[0]] == ["train", "train", "fast_probe"]
    state = torch.load(two / "full" / "checkpoint.pt", weights_only=True)
    assert state["world_size"] == WORLD and set(state["generators"]) == {"order", "augment", "augment/rank1"}
    assert not torch.equal(state["generators"]["augment"], state["generators"]["augment/rank1"])
    for key, value in state["modules"]["viewmaker"].items():
        assert torch.equal(value, first["viewmaker"][key]), key


def test_cli_under_torchrun_writes_one_run_folder_and_refuses_another_world_size(
        two: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = two / "cli"
    assert [(two / f"cli{r}.status").read_text() for r in range(WORLD)] == ["0", "0"]
    assert (two / "cli1.txt").read_text() == ""  # rank 0 alone reports
    assert "trained 1/1 epochs" in (two / "cli0.txt").read_text()
    assert {p.name for p in out.iterdir()} == {"config.json", "command.txt", "metrics.jsonl", "checkpoint.pt",
                                               "backbone.pt", "probe.json"}
    assert [json.loads(line)["kind"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [
        "train", "fast_probe"]
    assert [line.split(":")[0] for line in (out / "command.txt").read_text().splitlines()] == ["train", "probe"]
    with pytest.raises(SystemExit) as stop:
        cli_main(["train", *_cli_flags(two)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "written by 2 process(es), this run has 1" in err and "torchrun --nproc_per_node 2" in err


# -- the pieces, in one process ---------------------------------------------------------------------------
def test_world_from_env_reads_torchrun_variables_and_rejects_bad_ones() -> None:
    assert world_from_env({}) == SINGLE
    assert world_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        world_from_env({"WORLD_SIZE": "2", "RANK": "x"})
    with pytest.raises(ValueError, match="rank 2 of world size 2"):
        world_from_env({"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(ValueError, match="cuda:LOCAL_RANK"):
        init_world("cuda:1", {"WORLD_SIZE": "2", "RANK": "0"})


def test_global_batch_must_split_evenly(tmp_path: Path) -> None:
    assert World(1, 4).local_batch(256) == 64
    with pytest.raises(ValueError, match="--batch-size 250 .* not divisible by the 4 processes"):
        World(1, 4).local_batch(250)
    with pytest.raises(ValueError, match="not divisible"):
        train(_tiny(), tmp_path, device="cpu", world=World(0, 3))
    assert not any(tmp_path.iterdir())


def test_sharded_batches_in_rank_order_are_the_single_process_batches() -> None:
    data = make_dataset("c+shapes", "train", size=24)

    def batches(world: World) -> list[tuple[torch.Tensor, ...]]:
        loader = make_loader(data, 8, shuffle=True, generator=torch.Generator().manual_seed(3), drop_last=True)
        return list(ShardedBatches(loader, 8, world) if world.distributed else loader)

    whole = batches(SINGLE)
    shards = [batches(World(r, 4)) for r in range(4)]
    assert len(whole) == 3 and all(len(s) == 3 for s in shards)
    for i, batch in enumerate(whole):
        for field, tensor in enumerate(batch):
            assert torch.equal(torch.cat([s[i][field] for s in shards]), tensor)


def test_augment_stream_is_per_process_and_unchanged_for_one() -> None:
    assert stream_name("augment", 0) == "augment" and stream_name("augment", 3) == "augment/rank3"
    assert stream_name("data/order", 3) == "data/order"


def test_resume_with_another_number_of_processes_is_refused() -> None:
    state = {"world_size": 2, "generators": {"order": torch.zeros(1), "augment": torch.ones(1),
                                             "augment/rank1": torch.full((1,), 2.0)}}
    with pytest.raises(ValueError, match="written by 2 process.*resume it with torchrun --nproc_per_node 2"):
        check_resume(state, SINGLE, "checkpoint.pt")
    assert check_resume(state, World(1, 2), "x")["augment"].item() == 2.0
    old = {"generators": {"order": torch.zeros(1), "augment": torch.ones(1)}}  # before world_size existed
    assert check_resume(old, SINGLE, "x")["augment"].item() == 1.0
    with pytest.raises(ValueError, match="resume it without torchrun"):
        check_resume(old, World(0, 2), "x")


def test_global_batchnorm_shares_parameters_and_is_batchnorm_in_one_process() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                              torch.nn.LazyLinear(2), torch.nn.BatchNorm1d(2))
    x = torch.randn(6, 3, 8, 8)
    expected = net(x)
    params, keys = list(net.parameters()), list(net.state_dict())
    net[1].running_mean.zero_()
    net[4].running_mean.zero_()
    global_batchnorm(net)
    assert isinstance(net[1], GlobalBatchNorm) and isinstance(net[4], GlobalBatchNorm)
    assert [id(p) for p in net.parameters()] == [id(p) for p in params] and list(net.state_dict()) == keys
    assert torch.allclose(net(x), expected)


def test_gathers_are_the_identity_without_a_process_group() -> None:
    z = torch.randn(4, 3)
    assert gather_with_grad(z) is z
    z1, z2 = gather_pairs(z, 2 * z)
    assert torch.equal(z1, z) and torch.equal(z2, 2 * z)


class _DictStore:
    """The rendezvous store's check/get/set over a dict (what :mod:`distributed` uses of it)."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = dict(entries)

    def check(self, keys: list[str]) -> bool:
        return all(k in self.entries for k in keys)

    def get(self, key: str) -> bytes:
        return self.entries[key].encode()

    def set(self, key: str, value: str) -> None:
        self.entries[key] = value


def test_a_rank_that_died_on_another_host_is_named_with_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its PID cannot be checked from here, but every survivor records that it is stopping: the one that did
    not is named (with its host), the survivor on that host and this process are not."""
    from deep_experiments.run import distributed

    here = socket.gethostname()
    store = _DictStore({"featuredrop/pid/0": f"{here} {os.getpid()}", "featuredrop/pid/1": "node-b 4242",
                        "featuredrop/pid/2": "node-b 4343", "featuredrop/stopped/2": "1"})
    monkeypatch.setattr(distributed, "_store", lambda: store)
    world = distributed.World(size=3, rank=0)
    line = distributed.peer_failure(RuntimeError("[gloo] Connection closed by peer"), world, "RESUME")
    assert line is not None and line.startswith("rank 0 stopped: rank 1 of the 3 processes (on node-b) died or "
                                                 "stopped answering"), line
    assert line.endswith("resume with RESUME") and store.check(["featuredrop/stopped/0"])
    store.set("featuredrop/stopped/1", "1")  # every other process answered: no rank can be named
    line = distributed.peer_failure(RuntimeError("[gloo] Connection closed by peer"), world, "RESUME")
    assert line is not None and "another of the 3 processes died or stopped answering" in line, line
