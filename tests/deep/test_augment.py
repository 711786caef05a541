"""Batched expert augmentations: each op against torchvision's per-image functional reference,
then the whole policy's shapes, ranges, per-example randomness, determinism and shared channels."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from deep_experiments import augment as A
from deep_experiments import normalize as N


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(n: int = 6, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=_gen(seed))


@pytest.mark.parametrize(
    ("ours", "reference", "low", "high"),
    [
        (A.adjust_brightness, TF.adjust_brightness, 0.6, 1.4),
        (A.adjust_contrast, TF.adjust_contrast, 0.6, 1.4),
        (A.adjust_saturation, TF.adjust_saturation, 0.6, 1.4),
        (A.adjust_hue, TF.adjust_hue, -0.1, 0.1),
    ],
)
def test_color_ops_match_torchvision_per_example(ours, reference, low: float, high: float) -> None:
    x = _images()
    factors = low + (high - low) * torch.rand(len(x), generator=_gen(1))
    expected = torch.stack([reference(img, float(f)) for img, f in zip(x, factors)])
    torch.testing.assert_close(ours(x, factors), expected, atol=2e-6, rtol=0)


def test_contrast_on_one_channel_matches_torchvision() -> None:
    x = _images(c=1)
    factors = torch.linspace(0.6, 1.4, len(x))
    expected = torch.stack([TF.adjust_contrast(img, float(f)) for img, f in zip(x, factors)])
    torch.testing.assert_close(A.adjust_contrast(x, factors), expected, atol=1e-6, rtol=0)


def test_grayscale_matches_torchvision() -> None:
    x = _images()
    torch.testing.assert_close(A.rgb_to_grayscale(x), TF.rgb_to_grayscale(x), atol=1e-6, rtol=0)


def test_blur_matches_torchvision_per_example() -> None:
    x = _images()
    sigma = torch.tensor([0.1, 0.5, 1.0, 1.5, 2.0, 0.3])
    expected = torch.stack([TF.gaussian_blur(img, [13, 13], [float(s)] * 2) for img, s in zip(x, sigma)])
    torch.testing.assert_close(A.gaussian_blur(x, sigma, 13), expected, atol=2e-6, rtol=0)


def test_hue_shift_by_zero_and_full_turn_is_identity() -> None:
    x = _images()
    torch.testing.assert_close(A.adjust_hue(x, torch.zeros(len(x))), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(A.adjust_hue(x, torch.full((len(x),), 0.5)), A.adjust_hue(x, torch.full((len(x),), -0.5)),
                               atol=1e-5, rtol=0)


def test_crop_flip_geometry() -> None:
    x = _images(n=2, size=8)
    whole = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2)
    no, yes = torch.tensor([False, False]), torch.tensor([True, True])
    torch.testing.assert_close(A.crop_flip(x, whole, no, 8), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(A.crop_flip(x, whole, yes, 8), x.flip(-1), atol=1e-6, rtol=0)
    # the top-left quadrant at its own resolution is an exact pixel copy
    quadrant = torch.tensor([[0.0, 0.0, 0.5, 0.5]] * 2)
    torch.testing.assert_close(A.crop_flip(x, quadrant, no, 4), x[:, :, :4, :4], atol=1e-6, rtol=0)
    corner = torch.tensor([[0.5, 0.5, 0.5, 0.5]] * 2)
    torch.testing.assert_close(A.crop_flip(x, corner, yes, 4), x[:, :, 4:, 4:].flip(-1), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("n", "size", "dtype"), [(256, 32, torch.float32), (37, 28, torch.float32), (5, 9, torch.float64)])
def test_crop_flip_equals_affine_grid_bit_for_bit(n: int, size: int, dtype: torch.dtype) -> None:
    """The grid is built without affine_grid's matrix product; the views must not move by one bit."""
    g = _gen(n)
    x = torch.rand(n, 3, 32, 32, generator=g, dtype=dtype)
    boxes = A.sample_crop_boxes(n, 32, 32, (0.2, 1.0), (3 / 4, 4 / 3), g, x.device).to(dtype)
    flip = torch.rand(n, generator=g) < 0.5
    x0, y0, w, h = boxes.unbind(dim=1)
    theta = torch.zeros(n, 2, 3, dtype=dtype)
    theta[:, 0, 0] = w * (1.0 - 2.0 * flip.to(dtype))
    theta[:, 0, 2] = 2 * x0 + w - 1
    theta[:, 1, 1] = h
    theta[:, 1, 2] = 2 * y0 + h - 1
    grid = torch.nn.functional.affine_grid(theta, [n, 3, size, size], align_corners=False)
    reference = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert torch.equal(A.crop_flip(x, boxes, flip, size), reference)


@pytest.mark.parametrize(("scale", "ratio"), [((0.2, 1.0), (3 / 4, 4 / 3)), ((0.5, 1.0), (3 / 4, 4 / 3))])
def test_crop_boxes_respect_scale_ratio_and_bounds(scale, ratio) -> None:
    boxes = A.sample_crop_boxes(4000, 32, 32, scale, ratio, _gen(3), torch.device("cpu"))
    x0, y0, w, h = boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x0 + w <= 1 + 1e-6).all() and (y0 + h <= 1 + 1e-6).all()
    area, aspect = w * h, w / h
    assert area.min() >= scale[0] - 1e-5 and area.max() <= scale[1] + 1e-5
    assert aspect.min() >= ratio[0] - 1e-5 and aspect.max() <= ratio[1] + 1e-5
    assert area.max() - area.min() > 0.5 * (scale[1] - scale[0])  # the range is actually used
    assert (x0.std() > 0.01) and (y0.std() > 0.01)


def test_normalize_uses_cifar_stats_for_rgb_and_half_otherwise() -> None:
    x = torch.full((2, 3, 4, 4), 0.5)
    out = N.Normalize(3)(x)
    expected = (0.5 - torch.tensor(N.CIFAR_MEAN)) / torch.tensor(N.CIFAR_STD)
    torch.testing.assert_close(out[0, :, 0, 0], expected)
    y = torch.rand(2, 6, 4, 4, generator=_gen())
    out = N.Normalize(6, shared_channels=5)(y)
    torch.testing.assert_close(out[:, :1], (y[:, :1] - 0.5) / 0.5)
    torch.testing.assert_close(out[:, 1:], y[:, 1:])


def test_views_have_the_right_shape_dtype_and_range() -> None:
    x = _images(n=8)
    raw = A.ExpertAugment(3, 32, normalize=False)(x, _gen(5))
    assert raw.shape == (8, 3, 32, 32) and raw.dtype == torch.float32
    assert raw.min() >= 0 and raw.max() <= 1
    normed = A.ExpertAugment(3, 32)(x, _gen(5))
    torch.testing.assert_close(normed, N.Normalize(3)(raw))
    assert A.ExpertAugment(3, 16)(x, _gen(5)).shape == (8, 3, 16, 16)


def test_same_generator_state_gives_same_views_and_new_draws_differ() -> None:
    aug, x = A.ExpertAugment(3, 32), _images()
    torch.testing.assert_close(aug(x, _gen(7)), aug(x, _gen(7)), atol=0, rtol=0)
    g = _gen(7)
    first, second = aug(x, g), aug(x, g)
    assert not torch.allclose(first, second)
    assert not torch.allclose(aug(x, _gen(8)), first)


def test_parameters_differ_per_example() -> None:
    """The same image repeated in a batch gets a different view in every slot."""
    x = _images(n=1).expand(16, -1, -1, -1).contiguous()
    views = A.ExpertAugment(3, 32)(x, _gen(9))
    flat = views.flatten(1)
    distances = torch.cdist(flat, flat) + torch.eye(16) * 1e9
    assert distances.min() > 1e-3


def test_simclr_policy_applies_each_op_at_its_rate() -> None:
    """Grayscale views (equal channels) appear about 20 % of the time, p 0.2 of the policy."""
    x = _images(n=1, seed=11).expand(2000, -1, -1, -1).contiguous()
    raw = A.ExpertAugment(3, 8, normalize=False)(x[:, :, :8, :8], _gen(10))
    grey = ((raw[:, 0] - raw[:, 1]).abs().amax(dim=(1, 2)) < 1e-6).float().mean()
    assert abs(float(grey) - 0.2) < 0.04


def test_shared_channels_are_untouched() -> None:
    """RandBit-like input: one augmented channel and five constant bit planes passed through as is."""
    base = torch.rand(4, 1, 28, 28, generator=_gen())
    bits = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0]).view(1, 5, 1, 1).expand(4, 5, 28, 28)
    x = torch.cat([base, bits], dim=1)
    for policy in ("simclr", "crop_only"):
        out = A.ExpertAugment(6, 28, policy, shared_channels=5)(x, _gen(12))
        assert out.shape == (4, 6, 28, 28)
        torch.testing.assert_close(out[:, 1:], bits, atol=0, rtol=0)
        assert not torch.allclose(out[:, :1], (base - 0.5) / 0.5)


def test_crop_only_policy_changes_geometry_not_colour() -> None:
    flat = torch.full((8, 3, 32, 32), 0.3)
    out = A.ExpertAugment(3, 32, "crop_only", normalize=False)(flat, _gen(13))
    torch.testing.assert_close(out, flat)
    jittered = A.ExpertAugment(3, 32, "simclr", normalize=False)(flat, _gen(13))
    assert not torch.allclose(jittered, flat)
    x = _images()
    assert not torch.allclose(A.ExpertAugment(3, 32, "crop_only", normalize=False)(x, _gen(14)), x)


def test_kernel_covers_three_sigma() -> None:
    assert A.ExpertAugment(3, 32).kernel_size == 2 * math.ceil(3 * 2.0) + 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"policy": "autoaugment"}, "policy"), ({"shared_channels": 3}, "shared_channels"), ({"size": 0}, "size")],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        A.ExpertAugment(3, kwargs.pop("size", 32), **kwargs)


def test_wrong_channel_count_raises() -> None:
    with pytest.raises(ValueError, match="expected images"):
        A.ExpertAugment(3, 32)(torch.rand(2, 1, 32, 32), _gen())


def test_ladder_names_match_the_specs_policies() -> None:
    from deep_experiments.data.spec import AUGMENTATIONS, LADDER_POLICIES

    assert tuple(A.LADDER) == LADDER_POLICIES and set(LADDER_POLICIES) <= set(AUGMENTATIONS)


@pytest.mark.parametrize("policy", ["crop_jitter_half", "crop_jitter", "crop_jitter_grey", "crop_simclr"])
def test_each_ladder_step_is_simclr_with_its_ops_at_the_crop_only_area(policy: str) -> None:
    """A ladder step's views equal the SimCLR code path restricted to the step's operations, with the
    crop-only crop area (0.5-1) and the colour jitter scaled by the step's strength: same draws, same views."""
    ops, strength = A.LADDER[policy]
    reference = A.ExpertAugment(3, 32, "simclr", ops=ops)
    reference.scale = (0.5, 1.0)
    full = A._Probabilities()
    reference.p = A._Probabilities(brightness=full.brightness * strength, contrast=full.contrast * strength,
                                   saturation=full.saturation * strength, hue=full.hue * strength)
    x = _images(n=64)
    step = A.ExpertAugment(3, 32, policy)
    torch.testing.assert_close(step(x, _gen(3)), reference(x, _gen(3)), atol=0, rtol=0)
    _, params = step.with_params(x, _gen(3))
    areas = params.boxes[:, 2] * params.boxes[:, 3]
    assert areas.min() >= 0.5 - 1e-6  # never the SimCLR policy's small crops
    jittered = params.jitter[(params.jitter != torch.tensor([1.0, 1.0, 1.0, 0.0])).any(dim=1)]
    assert len(jittered) > 30  # p 0.8 of 64
    limit = torch.tensor([0.4, 0.4, 0.4, 0.1]) * strength
    assert ((jittered - torch.tensor([1.0, 1.0, 1.0, 0.0])).abs() <= limit + 1e-6).all()
    assert ((jittered - torch.tensor([1.0, 1.0, 1.0, 0.0])).abs().amax(dim=0) > 0.8 * limit).all()
    assert bool(params.flip.any()) == ("flip" in ops)


def test_ladder_steps_add_their_operations_in_order() -> None:
    """Each step's operations contain the previous step's; the last is every SimCLR operation."""
    steps = list(A.LADDER.values())
    for (before, s0), (after, s1) in zip(steps, steps[1:]):
        assert set(before) <= set(after) and s0 <= s1
    assert set(steps[-1][0]) == set(A.POLICY_OPS["simclr"])
