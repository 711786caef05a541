"""The colab's online read-out (``probe.online_head``): it never moves the encoder, it is read on the
fast probe's test split, it resumes exactly, and it is refused where it cannot apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from deep_experiments.configs import PRESETS, RunConfig, build_config
from deep_experiments.data import build_dataset
from deep_experiments.models import build_encoder
from deep_experiments.run.components import build_normalize
from deep_experiments.run.distributed import World
from deep_experiments.run.online_head import ADAM_EPS, OnlineHead
from deep_experiments.run.probe_run import probe_run
from deep_experiments.run.train import train


def colab_tiny(online: bool, epochs: int = 2, **overrides: Any) -> RunConfig:
    """The randbits-colab preset on 16 sklearn digits with 3 bits, batch 8 (2 steps per epoch), width 4."""
    return build_config(PRESETS["randbits-colab"], {
        "data": {"digit_source": "sklearn", "train_size": 16, "test_size": 16, "randbit_bits": 3},
        "train": {"epochs": epochs, "batch_size": 8, "width": 4, "probe_at": [0.5, 1.0]},
        "probe": {"fast_max_iter": 50, "online_head": online},
    }, overrides)


def _checkpoint(folder: Path) -> dict[str, Any]:
    return torch.load(folder / "checkpoint.pt", weights_only=True)


def _assert_same_tensors(a: Any, b: Any, where: str = "") -> None:
    """Equal nested dicts / lists of tensors and plain values, tensors bit for bit."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "online_head_loss")}
            for r in records if r["kind"] != "online_head"]


@pytest.mark.parametrize(("overrides", "label"), [
    ({}, "randbit-convn-expert"),
    ({"data": {"dataset": "c+shapes", "randbit_bits": 0}, "train": {"encoder": "resnet18"},
      "views": {"kind": "viewmaker"}}, "c+shapes-resnet18-viewmaker"),
])
def test_the_head_never_changes_the_encoders_trajectory(tmp_path: Path, overrides: dict, label: str) -> None:
    """Same seed with and without the head: encoder (weights and BatchNorm statistics), optimizers, schedule,
    random streams, losses and fast probes all equal, bit for bit (ConvN with expert views; ResNet-18 with the
    viewmaker, whose own step runs a second encoder forward)."""
    without = train(colab_tiny(False, **overrides), tmp_path / "off", device="cpu", progress=False, argv=["t"])
    with_head = train(colab_tiny(True, **overrides), tmp_path / "on", device="cpu", progress=False, argv=["t"])
    assert _strip(with_head) == _strip(without)
    assert [r["kind"] for r in with_head].count("online_head") == 2 and all("online_head_loss" in r for r in
                                                                         with_head if r["kind"] == "train")
    off, on = _checkpoint(tmp_path / "off"), _checkpoint(tmp_path / "on")
    assert "online_head" in on and "online_head" not in off
    for key in ("modules", "optimizers", "schedule", "generators", "epoch"):
        _assert_same_tensors(off[key], on[key], key)
    assert probe_run(tmp_path / "off", device="cpu", progress=False, argv=["t"]).keys() == {
        "epoch", "dataset", "method", "fast", "over_time", "probe_config"}


def test_the_heads_settings_are_the_colabs(tmp_path: Path) -> None:
    """Adam 1e-3 (Keras' epsilon), no weight decay, decayed linearly to 0 at the last step even when the encoder's
    schedule is constant; the task-B head exists only where the fast probe reads task B (at most 64 classes)."""
    config = colab_tiny(True, train={"lr_schedule": "constant"})
    train(config, tmp_path / "run", device="cpu", progress=False, argv=["t"])
    state = _checkpoint(tmp_path / "run")["online_head"]
    group = state["optimizer"]["param_groups"][0]
    assert group["eps"] == ADAM_EPS and group["weight_decay"] == 0 and group["betas"] == (0.9, 0.999)
    assert group["lr"] == pytest.approx(0.0, abs=1e-15) and group["initial_lr"] == 1e-3
    assert {k.split(".")[0] for k in state["heads"]} == {"task_a", "task_b", "task_b_bits"}
    assert state["heads"]["task_b_bits.weight"].shape == (3, 16) and state["heads"]["task_b.weight"].shape == (8, 16)
    many = colab_tiny(True, data={"randbit_bits": 7})  # 128 ids: no task-B head, as no task-B fast probe
    spec = build_dataset(many.data, "test", 0).spec
    head = OnlineHead(build_encoder("convn", spec.channels, 64, 4, spec.image_size), spec, many, 2)
    assert set(head.heads) == {"task_a", "task_b_bits"}


@pytest.mark.parametrize("encoder", ["convn", "resnet18"])
def test_the_head_reads_view_one_of_the_steps_own_forward(encoder: str) -> None:
    """The captured features are the first ``rows`` rows of ``encoder.pooled`` of the forward's batch (training-mode
    BatchNorm), detached; a forward that was not armed is not captured."""
    config = colab_tiny(True, train={"encoder": encoder})
    spec = build_dataset(config.data, "test", 0).spec
    net = build_encoder(encoder, spec.channels, 16, 4, spec.image_size).train()
    head = OnlineHead(net, spec, config, 2).attach()
    x = torch.rand(6, spec.channels, spec.image_size, spec.image_size)
    net(x)
    assert head._features is None
    head.arm(3)
    net(x)
    expected = net.pooled(x)[:3]
    torch.testing.assert_close(head._features, expected, rtol=0, atol=0)
    assert not head._features.requires_grad
    head.step(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(RuntimeError, match="captured no view-1"):
        head.step(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    head.detach()


def test_probe_json_reports_the_head_on_the_fast_probes_test_split(tmp_path: Path) -> None:
    """``probe.json``'s ``online_head`` holds task A, task B and the bits, equal to the heads of the checkpoint applied
    to the clean test split (recomputed here independently), and to the last ``online_head`` metrics record."""
    config = colab_tiny(True)
    records = train(config, tmp_path / "run", device="cpu", progress=False, argv=["t"])
    result = probe_run(tmp_path / "run", device="cpu", progress=False, argv=["t"])
    online = result["online_head"]
    assert set(online) == {"task_a", "task_b", "task_b_bits"} and all(0 <= v <= 1 for v in online.values())
    assert json.loads((tmp_path / "run" / "probe.json").read_text())["online_head"] == online
    assert [r for r in records if r["kind"] == "online_head"][-1] == {"kind": "online_head", "epoch": 2, **online}

    state = _checkpoint(tmp_path / "run")
    test_set = build_dataset(config.data, "test", config.train.seed)
    spec = test_set.spec
    net = build_encoder("convn", spec.channels, config.train.out_dim, 4, spec.image_size)
    net.load_state_dict(state["modules"]["encoder"])
    net.eval()
    images = torch.stack([test_set[i][0] for i in range(len(test_set))])
    label_a = torch.tensor([int(test_set[i][1]) for i in range(len(test_set))])
    label_b = torch.tensor([int(test_set[i][2]) for i in range(len(test_set))])
    with torch.no_grad():
        feats = net.pooled(build_normalize(spec)(images))
    heads = state["online_head"]["heads"]
    logits = {task: feats @ heads[f"{task}.weight"].T + heads[f"{task}.bias"] for task in online}
    assert online["task_a"] == pytest.approx(float((logits["task_a"].argmax(1) == label_a).float().mean()))
    assert online["task_b"] == pytest.approx(float((logits["task_b"].argmax(1) == label_b).float().mean()))
    bits = (label_b[:, None] >> torch.arange(3)) & 1
    assert online["task_b_bits"] == pytest.approx(float(((logits["task_b_bits"] > 0).long() == bits).float().mean()))


def test_a_resumed_run_with_the_head_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    """The checkpoint holds the heads, their Adam state and schedule: cut after epoch 1 and resumed, the run's
    records (head losses and accuracies included), checkpoint and probe.json equal an uninterrupted run's."""
    config = colab_tiny(True)
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["t"])
    train(config, tmp_path / "cut", device="cpu", progress=False, stop_after=1, argv=["t"])
    half = _checkpoint(tmp_path / "cut")["online_head"]
    assert half["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.5e-3) and half["optimizer"]["state"]
    resumed = train(config, tmp_path / "cut", device="cpu", progress=False, argv=["t"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(resumed) == strip(full)
    a, b = _checkpoint(tmp_path / "full"), _checkpoint(tmp_path / "cut")
    for key in ("modules", "optimizers", "online_head"):
        _assert_same_tensors(a[key], b[key], key)
    pa = probe_run(tmp_path / "full", device="cpu", progress=False, argv=["t"])
    pb = probe_run(tmp_path / "cut", device="cpu", progress=False, argv=["t"])
    assert pa["online_head"] == pb["online_head"]


def test_the_head_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    """Hierarchical views (a staged loss with no view-1 representation), a compiled encoder (hooks do not run) and
    data-parallel runs (the heads train in one process) are refused before anything is written; a bad learning rate
    is refused by the config."""
    with pytest.raises(ValueError, match="online_head.*hierarchical"):
        colab_tiny(True, views={"kind": "hierarchical"})
    with pytest.raises(ValueError, match="online_head.*compile"):
        colab_tiny(True, train={"perf": {"compile": True}})
    for lr in (0.0, -1e-3, float("nan"), float("inf"), 1e39):
        with pytest.raises(ValueError, match="online_head_lr"):
            colab_tiny(True, probe={"online_head_lr": lr})
    with pytest.raises(ValueError, match="online_head.*torchrun"):
        train(colab_tiny(True), tmp_path / "ddp", device="cpu", progress=False, world=World(rank=0, size=2))
    assert not (tmp_path / "ddp").exists()
    colab_tiny(False, views={"kind": "hierarchical"})  # off, nothing is refused
