"""Hierarchical views (Zhang & Ma 2022): add-one pipelines, augmentation parameters, stages, joint training, runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from deep_experiments.augment import POLICY_OPS, ExpertAugment
from deep_experiments.cli import main
from deep_experiments.configs import RunConfig, build_config
from deep_experiments.data import dataset_spec
from deep_experiments.models.convn import ConvN
from deep_experiments.models.resnet import ResNet18
from deep_experiments.models.stages import StageHeads, encoder_stages, stage_embeddings
from deep_experiments.run.checkpoint import load_backbone
from deep_experiments.run.components import build_components
from deep_experiments.run.probe_run import probe_run
from deep_experiments.run.train import train
from deep_experiments.seeds import seeded_init
from deep_experiments.views import HierarchicalConfig
from deep_experiments.views.hierarchical import ADD_ONE, stage_ops


def tiny(dataset: str = "c+digits", encoder: str = "convn", epochs: int = 1, size: int = 16, **views: object) -> RunConfig:
    """``size`` images, batch 8 (2 steps per epoch), width 4, hierarchical views, fast probe only."""
    return build_config({
        "data": {"dataset": dataset, "train_size": size, "test_size": size},
        "train": {"epochs": epochs, "batch_size": 8, "width": 4, "out_dim": 16, "encoder": encoder,
                  "probe_at": [1.0], "temperature": 0.5},
        "views": {"kind": "hierarchical", "hierarchical": views},
        "probe": {"paper": False, "fast_max_iter": 50, "overlay_controls": False},
    })


def _records(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


# --- the add-one pipelines --------------------------------------------------------------------------

def test_stage_pipelines_are_cumulative_add_one_and_end_with_the_whole_policy() -> None:
    simclr = stage_ops("simclr")
    assert ADD_ONE == ("jitter", "grayscale", "blur", "flip")
    assert simclr == (frozenset({"crop", "jitter"}), frozenset({"crop", "jitter", "grayscale"}),
                      frozenset({"crop", "jitter", "grayscale", "blur"}),
                      frozenset({"crop", "jitter", "grayscale", "blur", "flip"}))
    for ops in (simclr, stage_ops("crop_only")):
        assert all(a < b or a == b for a, b in zip(ops, ops[1:]))  # each contains the previous one
    assert simclr[-1] == set(POLICY_OPS["simclr"])
    assert stage_ops("crop_only") == (frozenset({"crop"}),) * 4


def test_the_last_stage_views_are_the_expert_views() -> None:
    comps = build_components(tiny("c+digits", "resnet18"), dataset_spec(tiny().data), torch.device("cpu"))
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expert = ExpertAugment(3, 32, "simclr")
    assert torch.equal(comps.views(x, None, torch.Generator().manual_seed(4)), expert(x, torch.Generator().manual_seed(4)))


# --- ExpertAugment.with_params and ops: the existing call unchanged ----------------------------------

# Outputs of ExpertAugment.__call__ before with_params/ops existed (commit f792b0a): sum, sum of |x|,
# one pixel and the generator's next draw, for 6 random images of 20x20 cropped to 16.
_BEFORE = {
    ("simclr", 3, 0): (-278.60451272985665, 2338.2161549360317, -0.9983201622962952, 0.4525710940361023),
    ("crop_only", 3, 0): (458.5421781031473, 2945.3922489046527, 0.003776931669563055, 0.0693734884262085),
    ("simclr", 1, 0): (-101.34228712320328, 401.57973939180374, -0.4017573595046997, 0.934346616268158),
    ("crop_only", 4, 3): (2286.318898022175, 2786.337385594845, -0.24020999670028687, 0.0693734884262085),
}


@pytest.mark.parametrize("setting", list(_BEFORE))
def test_the_call_is_unchanged_and_with_params_draws_the_same(setting: tuple[str, int, int]) -> None:
    policy, channels, shared = setting
    x = torch.rand(6, channels, 20, 20, generator=torch.Generator().manual_seed(3))
    augment = ExpertAugment(channels, 16, policy, shared)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(11)
    views = augment(x, g)
    total, absolute, pixel, after = _BEFORE[setting]
    assert float(views.double().sum()) == pytest.approx(total, rel=1e-6)
    assert float(views.double().abs().sum()) == pytest.approx(absolute, rel=1e-6)
    assert float(views[1, 0, 3, 5]) == pytest.approx(pixel, abs=1e-6)
    state = g.get_state()
    assert torch.rand(1, generator=g).item() == after
    g2 = torch.Generator().manual_seed(11)
    views2, params = augment.with_params(x, g2)
    assert torch.equal(views, views2) and torch.equal(state, g2.get_state())
    assert params.boxes.shape == (6, 4) and params.jitter.shape == (6, 4) and params.flip.shape == (6,)
    x0, y0, w, h = params.boxes.unbind(1)
    assert bool(((x0 >= 0) & (y0 >= 0) & (x0 + w <= 1 + 1e-6) & (y0 + h <= 1 + 1e-6)).all())


def test_a_subset_of_ops_draws_what_the_policy_draws_and_skips_the_rest() -> None:
    x = torch.rand(64, 3, 20, 20, generator=torch.Generator().manual_seed(3))
    g_all, g_sub = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    full, p_full = ExpertAugment(3, 16, "simclr").with_params(x, g_all)
    part, p_part = ExpertAugment(3, 16, "simclr", ops={"crop", "jitter"}).with_params(x, g_sub)
    assert torch.equal(g_all.get_state(), g_sub.get_state())  # the same draws, in the same order
    assert torch.equal(p_full.boxes, p_part.boxes) and torch.equal(p_full.jitter, p_part.jitter)
    assert p_full.flip.any() and not p_part.flip.any()
    assert not torch.equal(full, part)
    with pytest.raises(ValueError, match="ops"):
        ExpertAugment(3, 16, "crop_only", ops={"crop", "jitter"})
    with pytest.raises(ValueError, match="ops"):
        ExpertAugment(3, 16, "simclr", ops={"jitter"})


def test_jitter_params_are_the_factors_applied() -> None:
    """On a flat grey image crop, contrast, saturation and hue change nothing: the view is 0.5 * brightness."""
    x = torch.full((200, 3, 8, 8), 0.5)
    views, params = ExpertAugment(3, 8, "simclr", normalize=False, ops={"crop", "jitter"}).with_params(
        x, torch.Generator().manual_seed(0))
    brightness = params.jitter[:, 0]
    torch.testing.assert_close(views.mean(dim=(1, 2, 3)), (0.5 * brightness).clamp(0, 1), atol=2e-4, rtol=0)
    untouched = (params.jitter == torch.tensor([1.0, 1.0, 1.0, 0.0])).all(dim=1)
    assert 0.1 < untouched.float().mean() < 0.3  # jitter applied with probability 0.8
    assert bool((params.jitter[~untouched, 3].abs() <= 0.1).all())


# --- the stages of the encoders ---------------------------------------------------------------------

@pytest.mark.parametrize("encoder", [ResNet18(3, 16, 4), ConvN(3, 16, 4, 32)], ids=["resnet18", "convn"])
def test_stages_compose_to_the_encoder_and_the_last_head_takes_a_concatenation(encoder: nn.Module) -> None:
    encoder.eval()
    stages = encoder_stages(encoder)
    x = torch.rand(5, 3, 32, 32)
    h = x
    for block in stages.blocks:
        h = block(h)
    torch.testing.assert_close(h, encoder.pooled(x))
    torch.testing.assert_close(stages.head(h), encoder(x))
    # head(h) + W e == the same head on the concatenation [h, e] with first-layer weights [W_h, W]
    e, w = torch.randn(5, 7), torch.randn(stages.head_first.out_features, 7)
    cat = nn.Linear(h.shape[1] + 7, stages.head_first.out_features, bias=stages.head_first.bias is not None)
    with torch.no_grad():
        cat.weight.copy_(torch.cat([stages.head_first.weight, w], dim=1))
        if cat.bias is not None:
            cat.bias.copy_(stages.head_first.bias)
    torch.testing.assert_close(stages.head(h, e @ w.T), stages.head_rest(cat(torch.cat([h, e], dim=1))))
    with pytest.raises(TypeError):
        encoder_stages(nn.Linear(2, 2))


def test_each_stage_trains_only_the_blocks_below_it() -> None:
    with seeded_init(0):
        encoder = ResNet18(3, 16, 4)
        stages = encoder_stages(encoder)
        heads = StageHeads(stages, 4, 8, (1, 2, 3))
    views = [torch.rand(6, 3, 16, 16) for _ in range(4)]
    params = [torch.rand(6, 4) for _ in range(4)]
    outputs = stage_embeddings(stages, heads, views, params)
    assert [o.shape for o in outputs] == [(6, 16)] * 4
    outputs[0].sum().backward()
    assert all(p.grad is not None for p in encoder.stages[0].parameters())
    assert all(p.grad is None for p in encoder.stages[1].parameters())
    assert all(p.grad is None for p in heads.embeddings.parameters())  # stage 1 has no embedding
    outputs[3].sum().backward()
    assert all(p.grad is not None for p in encoder.fc.parameters()) and heads.last is not None
    assert heads.last.weight.grad is not None


# --- config, joint optimization, loss ---------------------------------------------------------------

def test_config_rejects_unknown_keys_and_bad_values() -> None:
    assert tiny().views.hierarchical == HierarchicalConfig()
    assert [HierarchicalConfig().embedded(p) for p in ("simclr", "crop_only", "audio")] == ["jitter", "crop", "none"]
    with pytest.raises(ValueError, match="bogus"):
        tiny(bogus=1)
    with pytest.raises(ValueError, match="embedding"):
        tiny(embedding="colour")
    with pytest.raises(ValueError, match="embed_dim"):
        HierarchicalConfig(embed_dim=0)
    config = tiny("randbit", embedding="jitter")  # valid alone; randbit's crop-only policy has no jitter
    with pytest.raises(ValueError, match="jitter"):
        build_components(config, dataset_spec(config.data), torch.device("cpu"))
    other = build_config({"train": {"loss": "decoupled"}, "views": {"kind": "hierarchical"},
                          "data": {"train_size": 8, "test_size": 8}})
    comps = build_components(other, dataset_spec(other.data), torch.device("cpu"))
    with pytest.raises(ValueError, match="NT-Xent"):
        comps.learner.loss(torch.rand(4, 3, 32, 32), None, torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("dataset", "embedded"), [("c+digits", "jitter"), ("randbit", "crop")])
def test_heads_train_jointly_with_the_encoder_and_the_loss_decreases(dataset: str, embedded: str) -> None:
    config = tiny(dataset)
    spec = dataset_spec(config.data)
    comps = build_components(config, spec, torch.device("cpu"))
    assert comps.views.embedded == embedded and set(comps.modules()) == {"encoder", "hierarchical"}
    heads = comps.views.modules()["hierarchical"]
    in_opt = {id(p) for group in comps.learner.encoder_opt.param_groups for p in group["params"]}
    assert {id(p) for p in heads.parameters()} <= in_opt and comps.views.optimizers() == {}
    x = torch.rand(16, spec.channels, spec.image_size, spec.image_size, generator=torch.Generator().manual_seed(1))
    before = [p.detach().clone() for p in heads.parameters()]

    def loss_at(seed: int) -> float:
        with torch.no_grad():
            return float(comps.learner.loss(x, None, torch.Generator().manual_seed(seed)))

    start = sum(loss_at(s) for s in range(3))
    g = torch.Generator().manual_seed(7)
    logged = [comps.learner.step(x, None, g) for _ in range(8)]
    assert set(logged[0]) == {"loss", "stage1_loss", "stage2_loss", "stage3_loss", "stage4_loss"}
    assert logged[0]["loss"] == pytest.approx(sum(logged[0][f"stage{k}_loss"] for k in range(1, 5)), rel=1e-5)
    assert sum(loss_at(s) for s in range(3)) < start
    assert all(not torch.equal(a, b) for a, b in zip(before, heads.parameters()))
    assert all(p.requires_grad for p in heads.parameters())


def test_the_loss_follows_the_learners_bf16_and_channels_last_switches() -> None:
    config = tiny("c+digits")
    comps = build_components(config, dataset_spec(config.data), torch.device("cpu"))
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        reference = float(comps.learner.loss(x, None, torch.Generator().manual_seed(0)))
        comps.learner.bf16 = comps.learner.channels_last = True
        fast = comps.learner.loss(x, None, torch.Generator().manual_seed(0))
    assert fast.dtype == torch.float32 and float(fast) == pytest.approx(reference, rel=0.02)
    assert float(fast) != reference  # bf16 did run


# --- runs through train() and the CLI ---------------------------------------------------------------

@pytest.mark.parametrize(("dataset", "encoder"), [("c+digits", "convn"), ("randbit", "convn"), ("c+digits", "resnet18")])
def test_smoke_run_trains_probes_and_exports_the_plain_encoder(tmp_path: Path, dataset: str, encoder: str) -> None:
    config = tiny(dataset, encoder)
    records = train(config, tmp_path, device="cpu", progress=False, argv=["test"])
    assert [r["kind"] for r in records] == ["train", "fast_probe"] and "stage4_loss" in records[0]
    result = probe_run(tmp_path, device="cpu", progress=False, argv=["test"])
    assert result["method"] == "hierarchical" and 0 <= result["fast"]["task_a"] <= 1
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(state["modules"]) == {"encoder", "hierarchical"}
    backbone = load_backbone(tmp_path / "backbone.pt")
    assert type(backbone).__name__ == {"convn": "ConvN", "resnet18": "ResNet18"}[encoder]
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, state["modules"]["encoder"][key]), key


def test_cli_run_with_the_hierarchical_method(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["run", "--dataset", "randbit", "--method", "hierarchical", "--encoder", "convn", "--epochs", "1",
            "--train-size", "16", "--test-size", "16", "--batch-size", "8", "--width", "4", "--device", "cpu",
            "--no-paper-probe", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    assert "trained 1/1 epochs" in capsys.readouterr().out
    assert json.loads((out / "probe.json").read_text())["method"] == "hierarchical"
    assert json.loads((out / "config.json").read_text())["views"]["hierarchical"] == {"embedding": "auto",
                                                                                      "embed_dim": None}


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tiny("c+digits", "convn", epochs=2)
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["test"])
    part = train(config, tmp_path / "cut", device="cpu", progress=False, stop_after=1, argv=["test"])
    assert [r["epoch"] for r in part] == [1]
    resumed = train(config, tmp_path / "cut", device="cpu", progress=False, argv=["test"])
    assert _records(resumed) == _records(full)
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    for name in ("encoder", "hierarchical"):
        for key, value in a["modules"][name].items():
            assert torch.equal(value, b["modules"][name][key]), (name, key)

