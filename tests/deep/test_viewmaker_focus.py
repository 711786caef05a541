"""Overlay focus of a perturbation: mean |delta| on the overlay's pixels against elsewhere."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deep_experiments.configs import build_config
from deep_experiments.data import build_dataset
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.viewmaker_focus import overlay_focus, overlay_mask, plane_focus


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


def _planes(n: int = 4, bits: int = 3, size: int = 8) -> torch.Tensor:
    """RandBit-like images: one digit channel in [0, 1], then ``bits`` constant 0 / 1 planes."""
    g = torch.Generator().manual_seed(0)
    digit = torch.rand(n, 1, size, size, generator=g)
    values = torch.randint(0, 2, (n, bits, 1, 1), generator=g).float().expand(n, bits, size, size)
    return torch.cat([digit, values], dim=1)


def test_plane_focus_of_known_perturbations() -> None:
    """A perturbation on the digit only leaves every bit; one that pushes 40 % of each plane's pixels
    0.6 towards the other bit crosses 0.5 there but drops no plane by majority; on 60 %, every plane."""
    x = _planes()
    on_digit = plane_focus(lambda im, g: torch.cat([torch.full_like(im[:, :1], 0.2), torch.zeros_like(im[:, 1:])], 1),
                           x, 1, torch.Generator(), views=2)
    assert on_digit.on_base == pytest.approx(0.2) and on_digit.on_planes == 0
    assert on_digit.overlay_share == 0 and on_digit.flipped == 0 and on_digit.planes_flipped == 0
    assert on_digit.overlay_fraction == pytest.approx(3 / 4)

    def towards_other_bit(share: float):  # noqa: ANN202
        def delta(im: torch.Tensor, g: torch.Generator) -> torch.Tensor:
            d = torch.zeros_like(im)
            cols = int(round(share * im.shape[-1]))
            d[:, 1:, :, :cols] = 0.6 * (1 - 2 * im[:, 1:, :, :cols])  # 0 -> 0.6, 1 -> 0.4
            return d
        return delta

    away = plane_focus(lambda im, g: torch.cat([torch.zeros_like(im[:, :1]), 0.6 * (2 * im[:, 1:] - 1)], 1),
                       x, 1, torch.Generator())  # 0 -> -0.6, 1 -> 1.6: moved far, crossed nothing
    assert away.on_planes == pytest.approx(0.6) and away.flipped == 0 and away.planes_flipped == 0
    half = plane_focus(towards_other_bit(4 / 8), x, 1, torch.Generator())
    assert half.flipped == pytest.approx(0.5) and half.planes_flipped == 0  # a majority is more than half

    def one_plane(im: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        d = towards_other_bit(5 / 8)(im, g)
        d[:, 2:] = 0  # only the first of the three planes
        return d

    single = plane_focus(one_plane, x, 1, torch.Generator())
    assert single.planes_flipped == pytest.approx(1 / 3) and single.flipped == pytest.approx(5 / 24)
    some = plane_focus(towards_other_bit(3 / 8), x, 1, torch.Generator())
    assert some.flipped == pytest.approx(3 / 8) and some.planes_flipped == 0 and some.on_base == 0
    most = plane_focus(towards_other_bit(5 / 8), x, 1, torch.Generator())
    assert most.flipped == pytest.approx(5 / 8) and most.planes_flipped == 1 and most.ratio == float("inf")


def test_a_blind_perturbation_puts_the_planes_share_of_channels_on_them() -> None:
    x = _planes(bits=5)
    blind = plane_focus(lambda im, g: torch.full_like(im, 0.05), x, 1, torch.Generator())
    assert blind.ratio == pytest.approx(1) and blind.overlay_share == pytest.approx(blind.overlay_fraction)
    assert blind.flipped == 0
    torch.manual_seed(0)
    vm = Viewmaker(6, 0.05, num_res_blocks=1, width=4)
    init = plane_focus(vm.eval().delta, _planes(bits=5), 1, torch.Generator().manual_seed(0))
    assert init.flipped == 0 and 0.3 < init.ratio < 3  # an untrained viewmaker: no preference, no bit crossed


def test_plane_focus_rejects_bad_inputs() -> None:
    x = _planes()
    with pytest.raises(ValueError, match="views"):
        plane_focus(lambda im, g: im, x, 1, torch.Generator(), views=0)
    for base in (0, 4):
        with pytest.raises(ValueError, match="base_channels"):
            plane_focus(lambda im, g: im, x, base, torch.Generator())
    blank = x.clone()
    blank[:, 1:] = 0.5  # overlay-free planes: "across 0.5" would mean nothing
    with pytest.raises(ValueError, match="0 or 1"):
        plane_focus(lambda im, g: torch.full_like(im, 0.01), blank, 1, torch.Generator())


def test_focus_script_measures_randbit_runs_per_channel(tmp_path, capsys) -> None:  # noqa: ANN001
    """scripts/viewmaker_focus.py on a RandBit viewmaker run writes viewmaker_planes.json equal to a direct
    plane_focus call on the run's test images (and its initialisation as the control), not the pixel
    focus, which a C+* run beside it still gets (before, RandBit's all-overlay pixels made it raise)."""
    import json

    from deep_experiments.configs import PRESETS
    from deep_experiments.run.checkpoint import initial_viewmaker, save_checkpoint
    from deep_experiments.run.folder import RunFolder
    from featuredrop.config import to_dict
    from tests.scripts import load_script

    def run(dataset: str, channels: int) -> tuple[RunFolder, Viewmaker]:
        bits = {} if channels != 1 else {"randbit_bits": 0}
        config = build_config(PRESETS["smoke"], {"data": {"dataset": dataset, "train_size": 8, "test_size": 8, **bits},
                                                 "views": {"kind": "viewmaker"}})
        folder = RunFolder(tmp_path / dataset / "viewmaker" / "os1_p0.5" / f"seed{channels}")
        folder.root.mkdir(parents=True)
        folder.config.write_text(json.dumps(to_dict(config)))
        torch.manual_seed(1)
        vm = Viewmaker(channels, config.views.viewmaker.budget_for(build_dataset(config.data, "test", 0).spec))
        save_checkpoint(folder.checkpoint, {"epoch": 2, "modules": {"viewmaker": vm.state_dict()}})
        folder.probe.write_text(json.dumps({"fast": {}}))
        return folder, vm

    randbit, vm = run("randbit", 6)
    letters, _ = run("c+letters", 3)
    bitless, _ = run("randbit", 1)  # no bits: no overlay pixel at all, so no on/off split: skipped, said
    assert load_script("viewmaker_focus").main(["--results", str(tmp_path), "--images", "8", "--views", "2"]) == 0
    saved = json.loads((randbit.root / "viewmaker_planes.json").read_text())
    config = randbit.load_config()
    x = torch.stack([build_dataset(config.data, "test", config.train.seed)[i][0] for i in range(8)])
    direct = plane_focus(vm.eval().delta, x, 1, torch.Generator().manual_seed(0), 2)
    control = plane_focus(initial_viewmaker(config).eval().delta, x, 1, torch.Generator().manual_seed(0), 2)
    assert saved["on_planes"] == pytest.approx(direct.on_planes, rel=1e-6) and saved["images"] == 8
    assert saved["init_on_base"] == pytest.approx(control.on_base, rel=1e-6)
    assert not (randbit.root / "viewmaker_focus.json").exists()
    out = capsys.readouterr().out
    assert "on the planes" in out and f"{bitless.root}: skipped (need overlay pixels" in out
    assert not (bitless.root / "viewmaker_focus.json").exists()
    assert (letters.root / "viewmaker_focus.json").exists() and not (letters.root / "viewmaker_planes.json").exists()
