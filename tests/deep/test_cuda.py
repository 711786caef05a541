"""The deep arm on CUDA (marker ``cuda``: ``pytest -m cuda``; skipped where there is no GPU).

``scripts/gpu_check.py`` runs these on a machine with a CUDA GPU. They check what CPU tests cannot: training,
resume and probes with device generators and CUDA kernels, the fast-path switches on a GPU, and
that a CUDA step computes what the CPU step computes (TF32 off, float32 round-off apart).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deep_experiments.configs import RunConfig, build_config
from deep_experiments.data import dataset_spec
from deep_experiments.run.checkpoint import load_backbone
from deep_experiments.run.components import build_components
from deep_experiments.run.probe_run import probe_run
from deep_experiments.run.train import train
from deep_experiments.views import METHODS, FixedViews

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _tiny(method: str = "expert", epochs: int = 2, **train_options: object) -> RunConfig:
    """32 images, batch 16 (2 steps per epoch), ResNet-18 of width 8, 1-epoch paper probe."""
    return build_config({
        "data": {"dataset": "c+digits", "train_size": 32, "test_size": 32},
        "train": {"epochs": epochs, "batch_size": 16, "width": 8, "probe_at": [1.0], **train_options},
        "views": {"kind": method},
        "probe": {"epochs": 1, "batch_size": 16, "fast_max_iter": 50},
    })


@pytest.mark.parametrize("method", METHODS)
def test_run_trains_resumes_and_probes_on_cuda(tmp_path: Path, method: str) -> None:
    config = _tiny(method)
    train(config, tmp_path, device="cuda", progress=False, stop_after=1, argv=["test"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["augment_device"] == "cuda" and state["epoch"] == 1
    records = train(config, tmp_path, device="cuda", progress=False, argv=["test"])
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    result = probe_run(tmp_path, device="cuda", progress=False, argv=["test"])
    assert all(0 <= result[p][t] <= 1 for p in ("fast", "paper") for t in ("task_a", "task_b"))
    assert load_backbone(tmp_path / "backbone.pt").width == 8  # loads onto the CPU


def test_cuda_checkpoint_is_resumed_on_cuda_only(tmp_path: Path) -> None:
    train(_tiny(), tmp_path, device="cuda", progress=False, stop_after=1, argv=["test"])
    with pytest.raises(ValueError, match="written on cuda; resume it with --device cuda"):
        train(_tiny(), tmp_path, device="cpu", progress=False, argv=["test"])


def test_fast_path_switches_train_on_cuda(tmp_path: Path) -> None:
    perf = {"bf16": True, "channels_last": True, "device_data": True, "fused_optimizer": True}
    records = train(_tiny("viewmaker", epochs=1, perf=perf), tmp_path, device="cuda", progress=False, argv=["test"])
    assert records[0]["kind"] == "train" and records[0]["steps"] == 2
    assert json.loads((tmp_path / "config.json").read_text())["train"]["perf"]["bf16"] is True


class _Flip(FixedViews):
    """The same deterministic views on any device (a flip, then a darker copy)."""

    def __init__(self, normalize) -> None:  # noqa: ANN001
        self.normalize, self.calls = normalize, 0

    def __call__(self, image: torch.Tensor, base: object, generator: torch.Generator) -> torch.Tensor:
        self.calls += 1
        return self.normalize(image.flip(-1) if self.calls % 2 else 0.8 * image)


def _step(device: str) -> tuple[float, dict[str, torch.Tensor]]:
    config = _tiny()
    comps = build_components(config, dataset_spec(config.data), torch.device(device))
    comps.learner.views = _Flip(comps.normalize)
    spec = dataset_spec(config.data)
    image = torch.rand(16, spec.channels, spec.image_size, spec.image_size, generator=torch.Generator().manual_seed(0))
    with torch.backends.cudnn.flags(enabled=True, deterministic=True, benchmark=False, allow_tf32=False):
        loss = comps.learner.encoder_step(image.to(device), None, torch.Generator(device))
    return loss, {name: p.grad.cpu() for name, p in comps.encoder.named_parameters()}


def test_cuda_encoder_step_computes_the_cpu_step() -> None:
    cpu_loss, cpu_grads = _step("cpu")
    cuda_loss, cuda_grads = _step("cuda")
    assert abs(cuda_loss - cpu_loss) < 1e-4 * max(1.0, abs(cpu_loss))
    scale = max(g.abs().max().item() for g in cpu_grads.values())
    diff = max((cuda_grads[k] - g).abs().max().item() for k, g in cpu_grads.items())
    assert diff < 1e-3 * max(1.0, scale), f"CUDA and CPU gradients differ by {diff} (largest {scale})"
