"""The viewmaker: the paper's architecture, the exact per-example budget, fresh noise per call."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.seeds import seeded_init


def _setup(channels: int = 3, budget: float = 0.05, size: int = 16) -> tuple[Viewmaker, torch.Tensor]:
    with seeded_init(0):
        vm = Viewmaker(channels, budget)
    return vm, torch.rand(4, channels, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("channels", "budget", "size"), [(3, 0.05, 16), (3, 0.1, 32), (6, 0.05, 28)])
def test_mean_abs_delta_equals_budget_per_example(channels: int, budget: float, size: int) -> None:
    vm, x = _setup(channels, budget, size)
    view = vm(x, torch.Generator().manual_seed(1))
    assert view.shape == x.shape
    per_example = (view - x).abs().mean(dim=(1, 2, 3))
    torch.testing.assert_close(per_example, torch.full((4,), budget), atol=1e-6, rtol=1e-5)


def test_two_calls_differ_and_the_generator_makes_them_reproducible() -> None:
    vm, x = _setup()
    g = torch.Generator().manual_seed(2)
    first, second = vm(x, g), vm(x, g)
    assert (first - second).abs().mean() > 1e-3
    torch.testing.assert_close(vm(x, torch.Generator().manual_seed(2)), first, atol=0, rtol=0)


def test_view_is_not_clamped() -> None:
    vm, _ = _setup()
    x = torch.ones(2, 3, 16, 16)
    view = vm(x, torch.Generator().manual_seed(3))
    assert view.max() > 1.0  # x + delta without clamping


def test_architecture_follows_the_paper() -> None:
    vm = Viewmaker(3)
    convs = [m for m in vm.modules() if isinstance(m, nn.Conv2d)]
    assert (convs[0].in_channels, convs[0].out_channels, convs[0].kernel_size) == (4, 32, (9, 9))
    assert [(c.out_channels, c.stride) for c in convs[1:3]] == [(64, (2, 2)), (128, (2, 2))]
    assert [blk.body[0][1].in_channels for blk in vm.res] == [129, 130, 131]
    assert (convs[-1].in_channels, convs[-1].out_channels, convs[-1].kernel_size) == (32, 3, (9, 9))
    norms = [m for m in vm.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(n.affine for n in norms)
    assert all(c.padding == (0, 0) for c in convs)  # all padding is reflection padding
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in vm.modules()) == len(convs)
    assert sum(isinstance(m, nn.Upsample) and m.mode == "nearest" for m in vm.modules()) == 2


def test_width_scales_every_layer_and_keeps_the_budget() -> None:
    """``width`` w gives the paper's layout with channels w, 2w, 4w (the CPU protocol's w = 8)."""
    vm = Viewmaker(3, 0.1, num_res_blocks=1, width=8)
    convs = [m for m in vm.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs[:3]] == [8, 16, 32]
    assert [blk.body[0][1].in_channels for blk in vm.res] == [33]
    assert (convs[-1].in_channels, convs[-1].out_channels, convs[-1].kernel_size) == (8, 3, (9, 9))
    assert sum(p.numel() for p in vm.parameters()) < sum(p.numel() for p in Viewmaker(3, 0.1, 1).parameters()) / 10
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    delta = vm(x, torch.Generator().manual_seed(1)) - x
    torch.testing.assert_close(delta.abs().mean(dim=(1, 2, 3)), torch.full((2,), 0.1), atol=1e-6, rtol=1e-5)


def test_gradients_reach_every_parameter() -> None:
    vm, x = _setup()
    (vm(x, torch.Generator().manual_seed(4)) ** 2).sum().backward()
    for name, p in vm.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"channels": 0}, "channels"), ({"budget": 0.0}, "budget"), ({"num_res_blocks": -1}, "res"), ({"width": 0}, "width")],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    args = {"channels": 3, "budget": 0.05, "num_res_blocks": 3} | kwargs
    with pytest.raises(ValueError, match=match):
        Viewmaker(**args)


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (2, 3, 18, 16), (3, 16, 16)])
def test_bad_inputs_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        Viewmaker(3)(torch.rand(*shape), torch.Generator())


def test_initial_viewmaker_is_the_one_a_run_of_that_seed_starts_from() -> None:
    """``checkpoint.initial_viewmaker(config)`` (the control of ``scripts/viewmaker_focus.py``) equals the
    viewmaker the run's components build, leaves the global RNG alone, and depends on the seed."""
    from deep_experiments.configs import build_config
    from deep_experiments.data import dataset_spec
    from deep_experiments.run.checkpoint import initial_viewmaker
    from deep_experiments.run.components import build_components

    def config(seed: int):  # noqa: ANN202
        return build_config({"data": {"dataset": "c+digits", "train_size": 16, "test_size": 16},
                             "train": {"width": 4, "seed": seed}, "views": {"kind": "viewmaker",
                                                                            "viewmaker": {"width": 4}}})

    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    init = initial_viewmaker(config(3)).state_dict()
    assert torch.equal(torch.rand(3), before)  # the global RNG is untouched
    built = build_components(config(3), dataset_spec(config(3).data), torch.device("cpu")).modules()["viewmaker"]
    assert all(torch.equal(init[k], v) for k, v in built.state_dict().items())
    other = initial_viewmaker(config(4)).state_dict()
    assert any(not torch.equal(init[k], v) for k, v in other.items())


def _plain_upsampling(vm: Viewmaker) -> Viewmaker:
    """A copy of ``vm`` whose upsampling is torch's own ``nn.Upsample`` (the obvious network)."""
    import copy

    from deep_experiments.models.viewmaker import _Upsample2x

    plain = copy.deepcopy(vm)
    for block in plain.up:
        assert isinstance(block[0], _Upsample2x)
        block[0] = nn.Upsample(scale_factor=2, mode="nearest")
    return plain


@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (2, 33, 8, 8)])
def test_fast_upsampling_is_torchs_bit_for_bit(shape: tuple[int, ...]) -> None:
    """Values and gradient of the strided-copy upsampling equal ``nn.Upsample``'s exactly (not just closely)."""
    from deep_experiments.models.viewmaker import _Upsample2x

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=gen)
    grad = torch.randn(shape[0], shape[1], 2 * shape[2], 2 * shape[3], generator=gen)
    outs, grads = [], []
    for module in (nn.Upsample(scale_factor=2, mode="nearest"), _Upsample2x()):
        leaf = x.clone().requires_grad_()
        out = module(leaf)
        out.backward(grad)
        outs.append(out)
        grads.append(leaf.grad)
    assert torch.equal(outs[0], outs[1]) and torch.equal(grads[0], grads[1])
    assert not torch.equal(grads[1], grad[:, :, ::2, ::2])  # four pixels' gradients are summed, not one taken


def test_viewmaker_computes_what_the_plain_network_computes() -> None:
    """The viewmaker's views and parameter gradients equal those of the same network with ``nn.Upsample``."""
    with seeded_init(0):
        vm = Viewmaker(3, 0.1, num_res_blocks=1, width=8)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    weights = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    results = []
    for net in (_plain_upsampling(vm), vm):
        view = net(x, torch.Generator().manual_seed(2))
        (view * weights).sum().backward()
        results.append((view, [p.grad for p in net.parameters()]))
    (plain_view, plain_grads), (view, grads) = results
    assert torch.equal(plain_view, view)
    assert all(torch.equal(a, b) for a, b in zip(plain_grads, grads, strict=True))


def test_the_projects_viewmaker_step_computes_the_plain_step_exactly() -> None:
    """The benchmark's plain viewmaker step (eager, ``nn.Upsample``, no guards) and the project's step give the
    same losses bit for bit over three steps: the speed comparison is between two ways of one computation."""
    import argparse
    import importlib.util
    from pathlib import Path

    from deep_experiments.data import dataset_spec
    from deep_experiments.run.components import build_components
    from deep_experiments.seeds import make_generator

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_deep_step.py"
    spec = importlib.util.spec_from_file_location("bench_deep_step", path)
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    args = argparse.Namespace(preset="cpu", dataset="c+letters", encoder="convn", width=4, batch=4, compile=False)
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    plain = bench.plain_viewmaker_step(args, images)
    config = bench._config(args, "viewmaker", "fp32")
    assert config.views.viewmaker.width == 8 and config.views.viewmaker.num_res_blocks == 1  # the CPU preset's
    comps = build_components(config, dataset_spec(config.data), torch.device("cpu"))
    for module in comps.modules().values():
        module.train()
    gen = make_generator(config.train.seed, "augment")
    for _ in range(3):
        ours = comps.learner.step(images, None, gen)
        assert plain() == (ours["loss"], ours["viewmaker_loss"])


def _precision_steps(precision: str, steps: int = 3) -> tuple[list[dict[str, float]], torch.Tensor, torch.Tensor]:
    """Losses of ``steps`` viewmaker steps on one batch at ``views.viewmaker.precision``, the viewmaker's
    parameters after them, and the augment stream's state. The well-conditioned tiny setting of
    ``tests/deep/test_fast_path.py`` (temperature 0.5, small learning rates): in an ill-conditioned one
    any rounding difference grows within two steps, bf16 or not."""
    from deep_experiments.configs import build_config
    from deep_experiments.data import dataset_spec
    from deep_experiments.run.components import build_components
    from deep_experiments.seeds import make_generator

    config = build_config({"data": {"dataset": "c+shapes"},
                           "train": {"batch_size": 8, "width": 8, "lr": 1e-4, "temperature": 0.5},
                           "views": {"kind": "viewmaker", "viewmaker": {"lr": 1e-5, "precision": precision}}})
    comps = build_components(config, dataset_spec(config.data), torch.device("cpu"))
    for module in comps.modules().values():
        module.train()
    images = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    gen = make_generator(config.train.seed, "augment")
    losses = [comps.learner.step(images, None, gen) for _ in range(steps)]
    params = torch.cat([p.detach().flatten() for p in comps.views.viewmaker.parameters()])
    return losses, params, gen.get_state()


def test_bf16_viewmaker_stays_within_a_percent_of_float32_and_draws_the_same_noise() -> None:
    """``precision="bf16"`` moves the losses of three steps by at most 2 % (the encoder's bf16 switch's
    bound), is in effect (some loss moves), and consumes the augment stream exactly as float32 does."""
    ref_losses, ref_params, ref_state = _precision_steps("float32")
    losses, params, state = _precision_steps("bf16")
    rel = [abs(a[k] - b[k]) / abs(a[k]) for a, b in zip(ref_losses, losses, strict=True) for k in a]
    assert max(rel) <= 2e-2 and max(rel) > 0, rel
    assert float((params - ref_params).norm() / ref_params.norm()) <= 1e-2
    assert torch.equal(state, ref_state)


def test_bf16_viewmaker_keeps_the_budget_and_float32_views() -> None:
    """The bf16 views are float32 ``x + delta`` whose mean ``|delta|`` is the budget up to bf16 rounding."""
    from deep_experiments.normalize import Normalize
    from deep_experiments.views.viewmaker import ViewmakerViews

    with seeded_init(0):
        vm = Viewmaker(3, 0.1, num_res_blocks=1, width=8).to(memory_format=torch.channels_last)
    identity = Normalize(3)
    identity.mean, identity.std = (0.0,) * 3, (1.0,) * 3
    views = ViewmakerViews(vm, identity, bf16=True)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    view = views(x, None, torch.Generator().manual_seed(1))
    assert view.dtype == torch.float32 and view.is_contiguous()
    torch.testing.assert_close((view - x).abs().mean(dim=(1, 2, 3)), torch.full((4,), 0.1), rtol=1e-2, atol=0)


@pytest.mark.parametrize("precision", ["float16", "fp32", ""])
def test_unknown_precision_is_refused(precision: str) -> None:
    from deep_experiments.views.viewmaker import ViewmakerConfig

    with pytest.raises(ValueError, match="precision"):
        ViewmakerConfig(precision=precision)
