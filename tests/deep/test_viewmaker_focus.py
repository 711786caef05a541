"""Overlay focus of a perturbation: mean |delta| on the overlay's pixels against elsewhere."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deep_experiments.configs import build_config
from deep_experiments.data import build_dataset
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.viewmaker_focus import overlay_focus, overlay_mask


def _batch(dataset: str = "c+letters", n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    config = build_config({"data": {"dataset": dataset, "train_size": 16, "test_size": 16}})
    items = build_dataset(config.data, "test", 0).with_base()
    images, _, _, bases = zip(*(items[i] for i in range(n)))
    return torch.stack(images), torch.stack(bases)


def test_mask_is_where_the_overlay_changed_the_image() -> None:
    images, bases = _batch()
    mask = overlay_mask(images, bases)
    assert mask.shape == (8, 32, 32) and 0 < mask.float().mean() < 0.5
    off = ~mask[:, None].expand_as(images)
    torch.testing.assert_close(images[off], bases[off], atol=0, rtol=0)  # untouched pixels are the base's
    assert ((images - bases).abs().amax(1)[mask] > 0).all()
    assert overlay_mask(images.clone().fill_(0.3), bases.clone().fill_(0.3)).sum() == 0


@settings(max_examples=20, deadline=None)
@given(on=st.floats(0.01, 1.0), off=st.floats(0.01, 1.0))
def test_ratio_and_share_of_a_known_perturbation(on: float, off: float) -> None:
    """A delta of magnitude ``on`` on overlay pixels and ``off`` elsewhere has ratio on/off and share
    on*f / (on*f + off*(1-f)) with f the overlay's pixel fraction, whatever its signs."""
    images, bases = _batch()
    mask = overlay_mask(images, bases)[:, None].expand_as(images)

    def delta(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        sign = torch.where(torch.rand(x.shape, generator=g) < 0.5, -1.0, 1.0)
        return sign * torch.where(mask, on, off)

    focus = overlay_focus(delta, images, bases, torch.Generator().manual_seed(0), views=2)
    f = focus.overlay_fraction
    assert focus.ratio == pytest.approx(on / off, rel=1e-5)
    assert focus.overlay_share == pytest.approx(on * f / (on * f + off * (1 - f)), rel=1e-5)
    assert focus.on_overlay == pytest.approx(on, rel=1e-5) and focus.off_overlay == pytest.approx(off, rel=1e-5)


def test_an_untrained_viewmaker_is_not_drawn_to_the_overlay() -> None:
    """A fresh viewmaker perturbs by noise, not by content: its ratio stays near 1 (a trained one
    that attacks the overlay scores well above; figure 6 reports it)."""
    images, bases = _batch(n=16)
    torch.manual_seed(0)
    vm = Viewmaker(3, 0.1, num_res_blocks=1, width=8)
    focus = overlay_focus(vm.delta, images, bases, torch.Generator().manual_seed(1))
    assert 0.5 < focus.ratio < 2.0 and focus.images == 16 and focus.views == 4


def test_bad_inputs_raise() -> None:
    images, bases = _batch()
    with pytest.raises(ValueError, match="shape"):
        overlay_mask(images, bases[:, :1])
    with pytest.raises(ValueError, match="overlay pixels"):
        overlay_focus(lambda x, g: x, bases, bases, torch.Generator())
    with pytest.raises(ValueError, match="views"):
        overlay_focus(lambda x, g: x, images, bases, torch.Generator(), views=0)
