"""View sources: feature dropout really removes the overlay; expert and viewmaker views are wired right."""

from __future__ import annotations

import pytest
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.normalize import Normalize
from deep_experiments.seeds import seeded_init
from deep_experiments.views import DropoutViews, ExpertViews, ViewmakerViews
from tests.deep.datasets import make_dataset


def _identity(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _digits_batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    items = [make_dataset("c+digits", "train", size=n).with_base()[i] for i in range(n)]
    return torch.stack([it[0] for it in items]), torch.stack([it[3] for it in items])


@pytest.mark.parametrize(("p", "source"), [(1.0, "base"), (0.0, "image")])
def test_dropout_extremes_pick_one_source(p: float, source: str) -> None:
    image, base = _digits_batch()
    assert (image - base).abs().amax(dim=(1, 2, 3)).min() > 0.1  # every item has a visible overlay
    views = DropoutViews(_identity, p)  # type: ignore[arg-type]
    expected = base if source == "base" else image
    for seed in range(3):
        torch.testing.assert_close(views(image, base, _gen(seed)), expected, atol=0, rtol=0)


def test_dropout_with_real_augmentation_is_an_expert_view_of_the_base() -> None:
    image, base = _digits_batch()
    aug = ExpertAugment(3, 32)
    g = _gen(4)
    dropped = DropoutViews(aug, 1.0)(image, base, g)
    g_ref = _gen(4)
    torch.rand(len(image), generator=g_ref)  # the per-view keep/drop draw comes first
    torch.testing.assert_close(dropped, aug(base, g_ref), atol=0, rtol=0)
    assert not torch.allclose(dropped, aug(image, _gen(4)))


def test_dropout_is_independent_per_view_with_rate_p() -> None:
    n, p = 4000, 0.3
    image, base = torch.ones(n, 1, 1, 1), torch.zeros(n, 1, 1, 1)
    views, g = DropoutViews(_identity, p), _gen(5)  # type: ignore[arg-type]
    v1, v2 = views(image, base, g).flatten(), views(image, base, g).flatten()
    assert abs(float((v1 == 0).float().mean()) - p) < 0.03
    # independent views: one dropped and one kept with probability 2 p (1 - p)
    assert abs(float((v1 != v2).float().mean()) - 2 * p * (1 - p)) < 0.03


def test_dropout_needs_base_and_a_valid_p() -> None:
    with pytest.raises(ValueError, match="base"):
        DropoutViews(_identity, 0.5)(torch.ones(2, 1, 1, 1), None, _gen())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probability"):
        DropoutViews(_identity, 1.5)  # type: ignore[arg-type]
    assert DropoutViews.needs_base and not ExpertViews.needs_base and not ViewmakerViews.needs_base


def test_expert_views_augment_the_overlaid_image() -> None:
    image, base = _digits_batch()
    aug = ExpertAugment(3, 32)
    torch.testing.assert_close(ExpertViews(aug)(image, base, _gen(6)), aug(image, _gen(6)), atol=0, rtol=0)


def test_viewmaker_views_are_normalized_perturbed_images() -> None:
    image, _ = _digits_batch(4)
    with seeded_init(0):
        vm = Viewmaker(3, 0.05)
    norm = Normalize(3)
    views = ViewmakerViews(vm, norm)(image, None, _gen(7))
    torch.testing.assert_close(views, norm(vm(image, _gen(7))), atol=0, rtol=0)


@pytest.mark.parametrize("kind", ["expert", "dropout"])
@pytest.mark.parametrize(("channels", "shared", "policy"), [(3, 0, "crop_only"), (3, 0, "simclr"), (4, 3, "crop_only")])
def test_both_views_are_two_calls_concatenated_bit_for_bit(kind: str, channels: int, shared: int, policy: str) -> None:
    """``both`` (what the learner calls) writes each view into its half: the same draws, order and bits as two calls."""
    g = _gen(3)
    image, base = torch.rand(6, channels, 12, 12, generator=g), torch.rand(6, channels, 12, 12, generator=g)
    augment = ExpertAugment(channels, 8, policy, shared)  # type: ignore[arg-type]
    views = ExpertViews(augment) if kind == "expert" else DropoutViews(augment, 0.5)
    g1, g2 = _gen(11), _gen(11)
    both = views.both(image, base, g1)
    reference = torch.cat([views(image, base, g2), views(image, base, g2)])
    assert both.shape == (12, channels, 8, 8) and both.is_contiguous()
    assert torch.equal(both.view(torch.int32), reference.view(torch.int32))
    assert torch.equal(g1.get_state(), g2.get_state())
