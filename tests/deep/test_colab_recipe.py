"""The RandBits-MNIST colab recipe: ConvN, Adam with linear decay, bits = 0, per-bit probes, the grid runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from deep_experiments.configs import PRESETS, ProbeConfig, build_config
from deep_experiments.models.convn import ConvN
from deep_experiments.probe import MAX_PROBE_CLASSES, fast_probe
from deep_experiments.run.checkpoint import load_backbone
from deep_experiments.run.grid import GridRun, run_grid
from deep_experiments.run.train import train
from featuredrop.config import to_dict
from tests.deep.datasets import make_dataset


def colab_tiny(epochs: int = 2, bits: int = 5, **train_overrides: object):  # noqa: ANN201
    """The randbits-colab preset on 16 sklearn digits, batch 8 (2 steps per epoch), width 4."""
    return build_config(PRESETS["randbits-colab"], {
        "data": {"digit_source": "sklearn", "train_size": 16, "test_size": 16, "randbit_bits": bits},
        "train": {"epochs": epochs, "batch_size": 8, "width": 4, "probe_at": [1.0], **train_overrides},
        "probe": {"fast_max_iter": 50},
    })


@pytest.mark.parametrize(("size", "sides"), [(28, (14, 7, 4)), (32, (16, 8, 4)), (9, (5, 3, 2))])
def test_convn_follows_the_colab_architecture(size: int, sides: tuple[int, int, int]) -> None:
    """3 x [conv3x3 stride 2 + BN + ReLU] (w, 2w, 2w), dense 4w + BN + ReLU, projection 8w + BN + ReLU -> out.

    No layer has a bias (the colab's ``use_bias=False``): the count is kernels + BN scale and shift.
    """
    net = ConvN(6, 64, 32, size).eval()
    x = torch.rand(3, 6, size, size)
    side = size
    for layer, expected in zip([m for m in net.convs if isinstance(m, nn.Conv2d)], sides):
        side = layer(torch.zeros(1, layer.in_channels, side, side)).shape[-1]
        assert side == expected and layer.stride == (2, 2) and layer.kernel_size == (3, 3)
    assert net.features(x).shape == (3, 128) and net(x).shape == (3, 64)
    torch.testing.assert_close(net.pooled(x), net.features(x))
    assert all(m.bias is None for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    convs = 6 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9 + 2 * (32 + 64 + 64)
    dense = 64 * sides[-1] ** 2 * 128 + 2 * 128 + 128 * 256 + 2 * 256 + 256 * 64
    assert sum(p.numel() for p in net.parameters()) == convs + dense


def test_convn_rejects_other_image_sizes_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="28x28"):
        ConvN(1, 64, 8, 28)(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError):
        ConvN(1, 64, 0, 28)


@pytest.mark.parametrize(("size", "sides"), [(28, (13, 6, 2)), (32, (15, 7, 3)), (15, (7, 3, 1))])
def test_valid_padding_is_the_colabs_keras_default(size: int, sides: tuple[int, int, int]) -> None:
    """``padding="valid"``: no padding, as Keras' ``Conv2D`` default in the colab (28 -> 13, 6, 2), so the
    dense layer reads 64 x 2 x 2 values; the default ``"same"`` keeps padding 1 (28 -> 14, 7, 4)."""
    net = ConvN(6, 64, 32, size, padding="valid").eval()
    side = size
    for layer, expected in zip([m for m in net.convs if isinstance(m, nn.Conv2d)], sides):
        side = layer(torch.zeros(1, layer.in_channels, side, side)).shape[-1]
        assert side == expected and layer.padding == (0, 0)
    assert net.representation[1].in_features == 64 * sides[-1] ** 2
    assert net(torch.rand(3, 6, size, size)).shape == (3, 64)
    assert ConvN(6, 64, 32, 28).representation[1].in_features == 64 * 4 * 4
    with pytest.raises(ValueError, match="larger input"):
        ConvN(6, 64, 32, 7, padding="valid")
    with pytest.raises(ValueError, match="padding"):
        ConvN(6, 64, 32, 28, padding="reflect")


def test_keras_batchnorm_has_the_colabs_momentum_and_eps() -> None:
    """``batchnorm="keras"``: every BatchNorm with Keras' momentum 0.99 (torch's 0.01) and eps 1e-3; the
    default keeps torch's 0.1 and 1e-5."""
    for name, momentum, eps in (("keras", 0.01, 1e-3), ("torch", 0.1, 1e-5)):
        norms = [m for m in ConvN(6, 64, 8, 28, batchnorm=name).modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert len(norms) == 5 and all(m.momentum == momentum and m.eps == eps for m in norms)
    with pytest.raises(ValueError, match="batchnorm"):
        ConvN(6, 64, 8, 28, batchnorm="tf")


def test_colab_model_options_train_and_reload(tmp_path: Path) -> None:
    """A run with ``train.convn_padding="valid"`` and ``train.batchnorm="keras"`` trains that network, and its
    backbone file rebuilds the same network (the options travel with the weights)."""
    train(colab_tiny(epochs=1, convn_padding="valid", batchnorm="keras"), tmp_path, device="cpu", progress=False,
          argv=["t"])
    model = load_backbone(tmp_path / "backbone.pt")
    assert isinstance(model, ConvN) and model.padding == "valid" and model.batchnorm == "keras"
    assert model.representation[1].in_features == 8 * 2 * 2 and model.convs[1].eps == 1e-3
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["modules"]["encoder"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_colab_model_options_are_convn_only() -> None:
    with pytest.raises(ValueError, match="ConvN options"):
        build_config(PRESETS["smoke"], {"train": {"encoder": "resnet18", "convn_padding": "valid"}})
    with pytest.raises(ValueError, match="ConvN options"):
        build_config(PRESETS["smoke"], {"train": {"encoder": "resnet18", "batchnorm": "keras"}})
    with pytest.raises(ValueError, match="view_forwards"):
        build_config(PRESETS["smoke"], {"train": {"view_forwards": "separate"}, "views": {"kind": "viewmaker"}})


def test_every_colab_difference_at_once_trains_with_the_online_head(tmp_path: Path) -> None:
    """Padding, BatchNorm settings and one encoder pass per view together, with the online head (which reads
    view 1 from the first of the two passes): the run finishes with both read-outs."""
    base = colab_tiny(epochs=1, convn_padding="valid", batchnorm="keras", view_forwards="separate")
    config = build_config(to_dict(base), {"probe": {"online_head": True}})
    records = train(config, tmp_path, device="cpu", progress=False, argv=["t"])
    assert any(r["kind"] == "online_head" for r in records)
    assert all(0 <= r["online_head_loss"] < float("inf") for r in records if r["kind"] == "train")


def test_online_head_reads_view_one_when_each_view_has_its_own_pass() -> None:
    """With ``view_forwards="separate"`` the head captures the representation of view 1's own forward pass: the
    same numbers as the encoder's representation of view 1 alone (training mode, statistics of view 1)."""
    import copy

    from deep_experiments.data import build_dataset, dataset_spec
    from deep_experiments.run.components import build_components
    from deep_experiments.run.online_head import OnlineHead

    config = build_config(to_dict(colab_tiny(epochs=1, view_forwards="separate")), {"probe": {"online_head": True}})
    spec = dataset_spec(config.data)
    images = torch.stack([build_dataset(config.data, "train")[i][0] for i in range(8)])
    comps = build_components(config, spec, torch.device("cpu"))
    head = OnlineHead(comps.encoder, spec, config, 2).attach()
    reference = copy.deepcopy(comps.encoder)
    view1 = comps.learner.views.both(images, None, torch.Generator().manual_seed(3)).chunk(2)[0]
    head.arm(len(images))
    with torch.no_grad():
        comps.learner.loss(images, None, torch.Generator().manual_seed(3))
        expected = reference.features(view1)
    torch.testing.assert_close(head._features, expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["expert", "dropout"])
def test_no_normalization_feeds_the_encoder_pixels_in_unit_range(kind: str, tmp_path: Path) -> None:
    """``data.normalization="none"`` (the colab's input): the views the learner makes and the clean images the
    probes read are the pixels in [0, 1], and the backbone file records mean 0 / std 1; ``"standard"`` maps the
    image channel to [-1, 1] (negative values) and leaves the bits 0/1."""
    from deep_experiments.data import build_dataset, dataset_spec
    from deep_experiments.run.components import build_components

    for normalization, lowest in (("none", 0.0), ("standard", -1.0)):
        config = build_config(to_dict(colab_tiny(epochs=1, bits=3)),
                              {"data": {"normalization": normalization}, "views": {"kind": kind}})
        spec = dataset_spec(config.data)
        items = [build_dataset(config.data, "train")._load(i) for i in range(8)]
        images, bases = torch.stack([it[0] for it in items]), torch.stack([it[3] for it in items])
        comps = build_components(config, spec, torch.device("cpu"))
        views = comps.learner.views.both(images, bases, torch.Generator().manual_seed(0))
        clean = comps.normalize(images)
        for x in (views, clean):
            assert x[:, 0].min() >= lowest and (x[:, 0].min() < 0) == (lowest < 0)
            assert set(x[:, 1:].unique().tolist()) <= {0.0, 0.5, 1.0}  # the bits (0.5: dropped), never rescaled
        if normalization == "none":
            torch.testing.assert_close(clean, images, rtol=0, atol=0)
    train(build_config(to_dict(colab_tiny(epochs=1)), {"data": {"normalization": "none"}}), tmp_path, device="cpu",
          progress=False, argv=["t"])
    saved = torch.load(tmp_path / "backbone.pt", weights_only=True)["normalization"]
    assert saved["mean"] == [0.0] and saved["std"] == [1.0]


def test_a_normalizer_for_other_channels_is_refused() -> None:
    from deep_experiments.augment import ExpertAugment
    from deep_experiments.normalize import Normalize

    with pytest.raises(ValueError, match="normalizer"):
        ExpertAugment(6, 28, "crop_only", 5, normalizer=Normalize(6, 3))
    with pytest.raises(ValueError, match="data.normalization"):
        build_config(PRESETS["smoke"], {"data": {"normalization": "zscore"}})


def test_linear_decay_reaches_zero_and_resume_matches(tmp_path: Path) -> None:
    """Adam lr after epoch e of E (2 steps each) is lr (1 - e/E); a resumed run equals an uninterrupted one."""
    config = colab_tiny(epochs=2)
    full = train(config, tmp_path / "full", device="cpu", progress=False, argv=["test"])
    part = train(config, tmp_path / "cut", device="cpu", progress=False, stop_after=1, argv=["test"])
    half = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["optimizers"]["encoder"]
    assert half["param_groups"][0]["lr"] == pytest.approx(0.5e-3) and "exp_avg_sq" in half["state"][0]
    assert [r["epoch"] for r in part] == [1]
    resumed = train(config, tmp_path / "cut", device="cpu", progress=False, argv=["test"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(resumed) == strip(full)
    end = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["optimizers"]["encoder"]
    assert end["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-15)
    model = load_backbone(tmp_path / "full" / "backbone.pt")
    assert isinstance(model, ConvN) and model.width == 4 and model.in_channels == 6
    state = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["modules"]["encoder"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_constant_schedule_keeps_the_learning_rate(tmp_path: Path) -> None:
    train(colab_tiny(epochs=1, lr_schedule="constant"), tmp_path, device="cpu", progress=False, argv=["t"])
    opt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["optimizers"]["encoder"]
    assert opt["param_groups"][0]["lr"] == pytest.approx(1e-3)


def test_zero_bits_is_the_digits_alone() -> None:
    ds = make_dataset("randbit", "train", digit_source="sklearn", randbit_bits=0, size=8)
    image, label_a, label_b = ds[3]
    assert image.shape == (1, 28, 28) and label_b == 0 and ds.spec.num_classes_b == 1
    assert 0 <= label_a < 10


class _BitReader(nn.Module):
    """An 'encoder' whose representation is the bit planes' centre pixels: it holds the bits and nothing else."""

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 1:, 14, 14] + 0.01 * torch.randn(x.shape[0], x.shape[1] - 1, generator=_GEN)


_GEN = torch.Generator().manual_seed(0)


@pytest.mark.parametrize("bits", [3, MAX_PROBE_CLASSES.bit_length()])
def test_per_bit_probe_reads_the_bits(bits: int) -> None:
    """Features = the bits: every bit probe is perfect; above MAX_PROBE_CLASSES ids task B is skipped (None)."""
    sets = [make_dataset("randbit", split, digit_source="sklearn", randbit_bits=bits, size=200, seed=1)
            for split in ("train", "test")]
    out = fast_probe(_BitReader(), lambda x: x, *sets, ProbeConfig(fast_max_iter=200), torch.device("cpu"))
    assert out["task_b_bits"] == 1.0
    assert out["task_a"] < 0.4  # the digits are not in these features
    if 2**bits > MAX_PROBE_CLASSES:
        assert out["task_b"] is None
    else:
        assert isinstance(out["task_b"], float)


def test_per_bit_probe_is_at_chance_without_the_bits() -> None:
    sets = [make_dataset("randbit", split, digit_source="sklearn", randbit_bits=4, size=300, seed=2)
            for split in ("train", "test")]
    blind = nn.Module()
    blind.pooled = lambda x: x[:, :1].flatten(1)  # type: ignore[assignment]  # the digit channel only
    out = fast_probe(blind, lambda x: x, *sets, ProbeConfig(fast_max_iter=300), torch.device("cpu"))
    assert 0.35 < out["task_b_bits"] < 0.65 and out["task_a"] > 0.7


def test_grid_runner_skips_finished_runs_and_reports_failures(tmp_path: Path) -> None:
    done = tmp_path / "done"
    done.mkdir()
    (done / "probe.json").write_text(json.dumps({"fast": {"task_a": 0.5}}))
    runs = [GridRun("done", ("--preset", "smoke")), GridRun("bad", ("--preset", "smoke", "--epochs", "0"))]
    seen: list[str] = []
    results = run_grid(runs, tmp_path, jobs=2, report=lambda r: seen.append(r.run.folder))
    assert seen == ["done", "bad"]
    assert results[0].probe == {"fast": {"task_a": 0.5}} and results[0].status.startswith("skipped")
    assert results[1].probe is None and results[1].status.startswith("FAILED (exit 2)")
    assert "epochs" in results[1].status
    with pytest.raises(ValueError, match="share a folder"):
        run_grid([runs[0], runs[0]], tmp_path)


def test_preset_round_trips_and_names_the_colab_settings() -> None:
    config = build_config(PRESETS["randbits-colab"])
    tc = config.train
    assert (tc.encoder, tc.optimizer, tc.lr_schedule, tc.loss_variant) == ("convn", "adam", "linear_decay",
                                                                           "cross_view_both")
    assert (tc.batch_size, tc.epochs, tc.lr, tc.out_dim, tc.width) == (1000, 10, 1e-3, 64, 32)
    assert build_config(to_dict(config)) == config
    with pytest.raises(ValueError, match="encoder"):
        build_config({"train": {"encoder": "vit"}})


def test_colab_decays_kernels_only() -> None:
    """decay_on='kernels': conv and dense kernels get the decay, BatchNorm scale / shift get none."""
    from deep_experiments.data import dataset_spec
    from deep_experiments.run.components import build_components

    comps = build_components(colab_tiny(), dataset_spec(colab_tiny().data), torch.device("cpu"))
    decayed, free = comps.learner.encoder_opt.param_groups
    assert decayed["weight_decay"] == 2e-4 and free["weight_decay"] == 0.0
    kernels = {id(m.weight) for m in comps.encoder.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert {id(p) for p in decayed["params"]} == kernels and len(kernels) == 6
    norms = [m for m in comps.encoder.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert {id(p) for p in free["params"]} == {id(p) for m in norms for p in (m.weight, m.bias)}
    everything = build_components(colab_tiny(decay_on="all"), dataset_spec(colab_tiny().data), torch.device("cpu"))
    (group,) = everything.learner.encoder_opt.param_groups
    assert group["weight_decay"] == 2e-4 and len(group["params"]) == len(list(everything.encoder.parameters()))
