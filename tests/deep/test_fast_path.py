"""The fast-path switches (``train.perf``) against the reference path, on CPU at tiny size.

Equality is checked where the training is well conditioned: ResNet-18 of width 8, temperature 0.5,
encoder lr 1e-4, 3 steps of batch 8. At the paper's temperature 0.07 and lr 0.03 such a tiny
network turns a rounding difference of 1e-7 in the first forward into losses that differ by tens
of percent two steps later (measured), so no switch that rounds differently can be compared there.

Tolerances (maximum over steps and logged losses of ``|a - b| / |a|``; parameters: relative norm of
the difference after the last step):

- ``device_data``: exactly equal (the same batches; :class:`DeviceLoader` against the DataLoader);
- ``channels_last``, ``fused_optimizer`` (float32): 1e-5 (expert, dropout); 1e-4 for the viewmaker,
  whose Adam step turns rounding-level gradient differences into lr-sized updates (measured
  1.4e-5 at viewmaker lr 1e-5; 2e-7 or less for the others);
- ``bf16``: losses within 2e-2 (measured at most 5.6e-3 over the three kinds of views),
  parameters within 1e-3 (measured 3e-5);
- ``compile``: 1e-4 (ConvN, the expert step only: compiling takes ~20 s on the 2-core CPU).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

import deep_experiments.run.perf as perf_module
from deep_experiments.cli import build_parser, config_from_args
from deep_experiments.configs import PERF_FLAGS, PerfConfig, RunConfig, build_config, load_config
from deep_experiments.data import DeviceLoader, build_dataset, dataset_spec, make_loader, unpack_batch
from deep_experiments.run.checkpoint import load_backbone
from deep_experiments.run.components import build_components
from deep_experiments.run.folder import RunFolder
from deep_experiments.run.perf import check_perf, optimizer_kernel
from deep_experiments.run.train import train
from deep_experiments.seeds import make_generator
from deep_experiments.views import fit_items
from featuredrop.config import to_dict
from tests.deep.test_train import tiny

CPU = torch.device("cpu")


def _config(method: str, encoder: str = "resnet18", **perf: bool) -> RunConfig:
    return build_config({
        "data": {"dataset": "c+shapes", "train_size": 32, "test_size": 8},
        "train": {"batch_size": 8, "width": 8, "lr": 1e-4, "temperature": 0.5, "encoder": encoder, "perf": perf},
        "views": {"kind": method, "viewmaker": {"lr": 1e-5}},
    })


def _steps(config: RunConfig, steps: int = 3) -> tuple[list[dict[str, float]], torch.Tensor]:
    """Losses of ``steps`` training steps on the run's first batches, and the encoder's parameters after."""
    dataset = build_dataset(config.data, "train", config.train.seed)
    comps = build_components(config, dataset.spec, CPU)
    fit = fit_items(dataset, comps.views)
    loader = make_loader(fit, config.train.batch_size, shuffle=True, drop_last=True,
                         generator=make_generator(config.train.seed, "data/order"))
    gen, losses = make_generator(config.train.seed, "augment"), []
    for _, batch in zip(range(steps), loader):
        image, _, _, base = unpack_batch(batch, CPU)
        losses.append(comps.learner.step(image, base, gen))
    return losses, torch.cat([p.detach().flatten() for p in comps.encoder.parameters()])


def _rel(reference: tuple[list[dict[str, float]], torch.Tensor],
         other: tuple[list[dict[str, float]], torch.Tensor]) -> tuple[float, float]:
    """Largest relative difference of the logged losses, and relative norm of the parameter difference."""
    (ref_losses, ref_params), (losses, params) = reference, other
    assert [sorted(r) for r in ref_losses] == [sorted(r) for r in losses]
    loss = max(abs(a[k] - b[k]) / abs(a[k]) for a, b in zip(ref_losses, losses) for k in a)
    return loss, float((ref_params - params).norm() / ref_params.norm())


@pytest.fixture(scope="module")
def reference() -> dict[str, tuple[list[dict[str, float]], torch.Tensor]]:
    """The reference path's steps for every kind of views (computed once)."""
    return {method: _steps(_config(method)) for method in ("expert", "viewmaker", "dropout")}


@pytest.mark.parametrize("method", ["expert", "viewmaker", "dropout"])
@pytest.mark.parametrize("switch", ["channels_last", "fused_optimizer"])
def test_float32_switches_match_the_reference(reference: dict, method: str, switch: str) -> None:
    loss, params = _rel(reference[method], _steps(_config(method, **{switch: True})))
    tolerance = 1e-4 if method == "viewmaker" else 1e-5
    assert loss <= tolerance and params <= tolerance, (loss, params)


@pytest.mark.parametrize("method", ["expert", "viewmaker", "dropout"])
def test_bf16_and_channels_last_stay_close_to_float32(reference: dict, method: str) -> None:
    got = _steps(_config(method, bf16=True, channels_last=True))
    loss, params = _rel(reference[method], got)
    assert loss <= 2e-2 and params <= 1e-3, (loss, params)
    assert loss > 0, "bf16 autocast did not change a single rounding: it is not in effect"


def test_switches_reach_the_encoder_and_embeddings_stay_float32() -> None:
    config = _config("expert", bf16=True, channels_last=True)
    comps = build_components(config, dataset_spec(config.data), CPU)
    stem = comps.encoder.stem[0]
    assert stem.weight.is_contiguous(memory_format=torch.channels_last)
    seen: list[tuple[bool, torch.dtype]] = []
    hooks = [stem.register_forward_hook(lambda m, args, out: seen.append(
                 (args[0].is_contiguous(memory_format=torch.channels_last), out.dtype))),
             comps.encoder.fc.register_forward_hook(lambda m, args, out: seen.append((True, out.dtype)))]
    z = comps.learner.embed(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    for hook in hooks:
        hook.remove()
    assert seen == [(True, torch.bfloat16), (True, torch.bfloat16)] and z.dtype == torch.float32


def test_compiled_encoder_matches_the_eager_one() -> None:
    """The one compile test (ConvN, the expert step; ~20 s of compiling on the 2-core CPU)."""
    if shutil.which("g++") is None and shutil.which("c++") is None and shutil.which("clang++") is None:
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    config = _config("expert", encoder="convn", compile=True)
    comps = build_components(config, dataset_spec(config.data), CPU)
    assert getattr(comps.learner.encoder, "_orig_mod", None) is comps.encoder  # the learner calls the compiled one
    eager = _steps(_config("expert", encoder="convn"))
    compiled = _steps(config)
    loss, params = _rel(eager, compiled)
    assert loss <= 1e-4 and params <= 1e-4, (loss, params)


# --- data kept on the device ------------------------------------------------------------------------
class _EightBit(Dataset):
    """Items whose images are exactly ``k / 255`` (as :class:`ArrayImages` makes them), with a base."""

    def __init__(self, n: int) -> None:
        gen = torch.Generator().manual_seed(3)
        self.codes = torch.randint(0, 256, (n, 3, 6, 6), dtype=torch.uint8, generator=gen)
        self.labels = torch.arange(n) % 3

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        image = self.codes[i].float().div_(255.0)
        return image, int(self.labels[i]), i, image.flip(-1)


def _same_batches(dataset: Dataset, batch_size: int, drop_last: bool, epochs: int = 2) -> int:
    """Compare DeviceLoader with make_loader over ``epochs`` passes; returns the batches compared."""
    g_ref, g_dev = make_generator(5, "data/order"), make_generator(5, "data/order")
    reference = make_loader(dataset, batch_size, shuffle=True, generator=g_ref, drop_last=drop_last)
    on_device = DeviceLoader(dataset, batch_size, generator=g_dev, device=CPU, drop_last=drop_last)
    assert len(on_device) == len(reference)
    compared = 0
    for epoch in range(epochs):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        ref_batches, dev_batches = list(reference), list(on_device)
        assert len(ref_batches) == len(dev_batches) == len(reference)
        for ref, dev in zip(ref_batches, dev_batches):
            assert len(ref) == len(dev)
            for a, b in zip(ref, dev):
                assert a.dtype == b.dtype and torch.equal(a, b)
            compared += 1
        assert torch.equal(g_ref.get_state(), g_dev.get_state()), "the order stream advanced differently"
    return compared


def test_device_loader_yields_the_dataloader_batches_of_a_two_task_dataset() -> None:
    dataset = build_dataset(_config("dropout").data, "train", 0).with_base()
    assert _same_batches(dataset, 8, drop_last=True) == 8
    first, second = (list(DeviceLoader(dataset, 8, generator=make_generator(5, "data/order"), device=CPU))
                     for _ in range(2))
    assert torch.equal(first[0][0], second[0][0])
    dataset.set_epoch(7)  # a new epoch draws new overlays
    later = next(iter(DeviceLoader(dataset, 8, generator=make_generator(5, "data/order"), device=CPU)))
    assert not torch.equal(first[0][0], later[0])


def test_device_loader_stores_eight_bit_images_as_uint8_and_decodes_them_exactly() -> None:
    dataset = _EightBit(10)
    stored = DeviceLoader(dataset, 4, generator=torch.Generator(), device=CPU).materialize()
    assert [t.dtype for t in stored] == [torch.uint8, torch.int64, torch.int64, torch.uint8]
    assert _same_batches(dataset, 4, drop_last=False) == 6  # 10 items: batches of 4, 4, 2 per epoch
    photos = build_dataset(_config("expert").data, "train", 0)  # overlays blend: not 8-bit
    assert DeviceLoader(photos, 8, generator=torch.Generator(), device=CPU).materialize()[0].dtype == torch.float32


def test_device_data_run_equals_the_dataloader_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copies: list[int] = []
    real = DeviceLoader.materialize

    def counted(self: DeviceLoader) -> tuple[torch.Tensor, ...]:
        copies.append(1)
        return real(self)

    monkeypatch.setattr(DeviceLoader, "materialize", counted)
    records = []
    for name, perf in (("loader", {}), ("device", {"device_data": True})):
        config = tiny("c+shapes", "dropout", epochs=2, size=16, probe_at=[1.0], perf=perf)
        records.append([{k: v for k, v in r.items() if k != "seconds"}
                        for r in train(config, tmp_path / name, device="cpu", progress=False, argv=["test"])])
    assert records[0] == records[1] and len(copies) == 2  # one copy of the items per epoch
    a, b = (load_backbone(tmp_path / name / "backbone.pt") for name in ("loader", "device"))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


# --- config, resume, CLI ----------------------------------------------------------------------------
def test_switches_are_recorded_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    perf = {"bf16": True, "channels_last": True, "device_data": True, "fused_optimizer": True}
    config = tiny("c+shapes", "viewmaker", epochs=2, size=8, probe_at=[0.5, 1.0], perf=perf, width=8)  # >= NARROWEST_FAST_PATH
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["test"])
    train(config, tmp_path / "cut", device="cpu", progress=False, stop_after=1, argv=["test"])
    resumed = train(config, tmp_path / "cut", device="cpu", progress=False, argv=["test"])
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["train"]["perf"] == {**perf, "compile": False}
    assert RunFolder(tmp_path / "cut").load_config().train.perf.enabled() == tuple(perf)

    def strip(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert strip(resumed) == strip(full)
    a, b = (load_backbone(tmp_path / name / "backbone.pt") for name in ("full", "cut"))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    state = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    group = state["optimizers"]["encoder"]["param_groups"][0]
    assert group["fused"] or group["foreach"]


def test_a_config_json_without_perf_loads_with_the_switches_off_and_resumes(tmp_path: Path) -> None:
    config = tiny("c+shapes", "expert", epochs=2, size=8)
    train(config, tmp_path, device="cpu", progress=False, stop_after=1, argv=["test"])
    old = json.loads((tmp_path / "config.json").read_text())
    del old["train"]["perf"]  # what a config.json written before the switches existed holds
    (tmp_path / "config.json").write_text(json.dumps(old))
    del old["format"]  # and as format 1 (no format key)
    assert load_config(old).train.perf == PerfConfig() == config.train.perf
    records = train(config, tmp_path, device="cpu", progress=False, argv=["test"])
    assert [r["epoch"] for r in records if r["kind"] == "train"] == [1, 2]


@pytest.mark.parametrize("text,on", [
    ("bf16,channels-last", ("bf16", "channels_last")),
    ("device_data, fused-optimizer", ("device_data", "fused_optimizer")),
    ("all", PERF_FLAGS),
    ("none", ()),
])
def test_perf_flag_sets_exactly_the_listed_switches(tmp_path: Path, text: str, on: tuple[str, ...]) -> None:
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"train": {"perf": {"compile": True, "bf16": True}}}))
    args = build_parser().parse_args(["train", "--out", "x", "--config", str(file), "--perf", text])
    assert config_from_args(args).train.perf.enabled() == on
    plain = build_parser().parse_args(["train", "--out", "x"])
    assert config_from_args(plain).train.perf == PerfConfig()


def test_train_help_lists_the_switches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--perf" in text and all(name in text for name in PERF_FLAGS)


def test_bad_perf_values_are_refused_naming_the_switch() -> None:
    with pytest.raises(ValueError, match="bf16 must be true or false"):
        build_config({"train": {"perf": {"bf16": "yes"}}})
    with pytest.raises(ValueError, match=r"unknown PerfConfig option\(s\) \['turbo'\]"):
        build_config({"train": {"perf": {"turbo": True}}})
    assert to_dict(build_config({}))["train"]["perf"] == dict.fromkeys(PERF_FLAGS, False)


def test_compile_without_a_compiler_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perf_module.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="train.perf.compile.*C\\+\\+ compiler"):
        check_perf(PerfConfig(compile=True), CPU)
    check_perf(PerfConfig(bf16=True, channels_last=True, device_data=True, fused_optimizer=True), CPU)


class _NoFusedSGD(torch.optim.SGD):
    """An SGD of a torch without fused kernels on this device."""

    def __init__(self, params, fused: bool | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        super().__init__(params, **kwargs)


def test_optimizer_kernel_is_fused_where_offered_else_foreach() -> None:
    assert optimizer_kernel(torch.optim.SGD, CPU, False) == {}
    assert optimizer_kernel(_NoFusedSGD, CPU, True) == {"foreach": True}
    kernel = optimizer_kernel(torch.optim.Adam, CPU, True)
    assert kernel in ({"fused": True}, {"foreach": True})
    config = _config("expert", fused_optimizer=True)
    comps = build_components(config, dataset_spec(config.data), CPU)
    group = comps.learner.encoder_opt.param_groups[0]
    assert group["fused"] or group["foreach"]


# --- the throughput benchmark -----------------------------------------------------------------------
def test_step_benchmark_runs_end_to_end_and_writes_its_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tiny size on CPU; checks the output's shape and that every number is positive and finite (no timing)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_deep_step.py"
    spec = importlib.util.spec_from_file_location("bench_deep_step", path)
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    out = tmp_path / "bench.json"
    bench.main(["--device", "cpu", "--batch", "4", "--width", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
                "--methods", "expert,dropout,viewmaker", "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result) >= {"machine", "settings", "encoder_gflop_per_view", "rows", "ratios", "targets"}
    steps = [(r["mode"], r["step"]) for r in result["rows"]]
    assert steps == [(mode, step) for mode in ("fp32", "bf16")
                     for step in ("plain", "project expert", "project dropout",
                                  *(("plain viewmaker",) if mode == "fp32" else ()), "project viewmaker")]
    assert set(result["ratios"]) == {f"{mode}/{m}" for mode in ("fp32", "bf16") for m in ("expert", "dropout", "viewmaker")}
    numbers = [result["encoder_gflop_per_view"], result["viewmaker_to_plain_viewmaker"], *result["ratios"].values()]
    numbers += [r[k] for r in result["rows"] for k in ("ms_per_step", "views_per_s", "ratio_to_plain", "peak_memory_mib")]
    assert all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in numbers), numbers
    assert result["peak_bf16_tflops"] is None and all(r["fraction_of_bf16_peak"] is None for r in result["rows"])
    assert result["targets"]["bf16/expert"]["measured_here"] is False
    printed = capsys.readouterr().out
    assert "threads: torch 1" in printed and "load avg" in printed and "target >= 1.5x" in printed
    assert result["settings"]["preset"] == "cpu" and "# CPU protocol, float32 / plain: expert" in printed
    assert "project / plain viewmaker step" in printed


@pytest.mark.parametrize(("switch", "encoder", "match"), [("channels_last", "resnet18", "channels_last.*width 4"),
                                                          ("compile", "convn", "compile.*width 4")])
def test_switches_that_crash_natively_at_narrow_widths_are_refused_before_any_folder(
        tmp_path: Path, switch: str, encoder: str, match: str) -> None:
    config = build_config({"data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
                           "train": {"encoder": encoder, "width": 4, "epochs": 1, "batch_size": 8,
                                     "perf": {switch: True}}, "probe": {"paper": False}})
    with pytest.raises(ValueError, match=match):
        train(config, tmp_path / "run", device="cpu", progress=False, argv=["test"])
    assert not (tmp_path / "run").exists()
    check_perf(PerfConfig(channels_last=True), CPU, "convn", 4)  # the ConvN's kernels do not crash there


def test_channels_last_runs_at_the_narrowest_allowed_resnet(tmp_path: Path) -> None:
    """The narrowest width the guard lets through (8) trains a step with channels_last on the CPU."""
    width = perf_module.NARROWEST_FAST_PATH
    config = build_config({"data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
                           "train": {"width": width, "epochs": 1, "batch_size": 8, "probe_at": [1.0],
                                     "perf": {"channels_last": True}}, "probe": {"paper": False, "fast_max_iter": 20}})
    records = train(config, tmp_path, device="cpu", progress=False, argv=["test"])
    assert math.isfinite(records[0]["loss"])


def test_retain_freed_memory_takes_effect_where_glibc_runs_the_process() -> None:
    """The deep CLI's allocator setting (run in a child, which keeps it): on where glibc's mallopt exists."""
    import platform
    import subprocess
    import sys

    code = "from deep_experiments.run.perf import retain_freed_memory; print(retain_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == str(platform.libc_ver()[0] == "glibc")
