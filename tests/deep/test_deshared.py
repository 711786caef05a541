"""De-shared overlay views: both views carry an overlay, each its own draw, over the same base image."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.cli import main
from deep_experiments.configs import build_config
from deep_experiments.data import DATASETS
from deep_experiments.views import DesharedViews, fit_items
from deep_experiments.views.deshared import DESHARED_DATASETS
from tests.deep.datasets import make_dataset


def _identity(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x


@pytest.mark.parametrize("name", DESHARED_DATASETS)
def test_second_overlay_is_present_independent_and_on_the_same_base(name: str) -> None:
    """Item ``i``'s second image is its base under another overlay: overlaid, not the first overlay, and
    equal to the base wherever neither overlay covers it; the labels are those of the first draw."""
    data = make_dataset(name, "train", size=24)
    data.set_epoch(2)
    second, with_base = data.with_second_overlay(), data.with_base()
    differs = 0
    for i in range(len(data)):
        image, label_a, label_b, other = second[i]
        _, _, _, base = with_base[i]
        assert torch.equal(image, data[i][0]) and (label_a, label_b) == data[i][1:]
        assert (other - base).abs().amax() > 0.1  # an overlay is present in the second image
        untouched = ((image - base).abs().amax(0) < 1e-6) & ((other - base).abs().amax(0) < 1e-6)
        assert untouched.any() and torch.equal(other[:, untouched], base[:, untouched])
        differs += not torch.equal(other, image)
    assert differs == len(data)  # never the same overlay as the first view's
    before = second[0][3]
    data.set_epoch(3)  # a fresh second overlay every epoch, like the first
    assert not torch.equal(before, second[0][3])


def test_pair_is_one_view_per_overlay_draw_and_a_single_view_is_expert() -> None:
    image, other = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    views = DesharedViews(_identity)  # type: ignore[arg-type]
    v1, v2 = views.pair(image, other, torch.Generator())
    assert torch.equal(v1, image) and torch.equal(v2, other)
    assert torch.equal(views(image, None, torch.Generator()), image)
    with pytest.raises(ValueError, match="second overlay"):
        views.pair(image, None, torch.Generator())
    aug = ExpertAugment(3, 32)
    g, ref = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    v1, v2 = DesharedViews(aug).pair(image, other, g)
    assert torch.equal(v1, aug(image, ref)) and torch.equal(v2, aug(other, ref))


def test_training_items_follow_the_kind_of_views() -> None:
    data = make_dataset("c+letters", "train", size=4)
    assert type(fit_items(data, DesharedViews(_identity))).__name__ == "WithSecondOverlay"  # type: ignore[arg-type]
    torch.testing.assert_close(fit_items(data, DesharedViews(_identity))[1][3],  # type: ignore[arg-type]
                               data.with_second_overlay()[1][3], atol=0, rtol=0)


@pytest.mark.parametrize("name", [d for d in DATASETS if d not in DESHARED_DATASETS])
def test_datasets_without_a_second_overlay_are_refused_before_any_folder(
        tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="deshared"):
        build_config({"data": {"dataset": name}, "views": {"kind": "deshared"}})
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--preset", "smoke", "--dataset", name, "--method", "deshared", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "deshared" in err and "\n" not in err and not out.exists()


def test_the_learner_contrasts_the_image_with_its_second_overlay() -> None:
    """With de-shared views the loss pairs view(image) with view(other), not two views of ``image``."""
    from deep_experiments.run.learner import ContrastiveLearner
    from featuredrop.losses import nt_xent

    encoder = torch.nn.Flatten()
    image, other = torch.rand(6, 3, 4, 4), torch.rand(6, 3, 4, 4)
    learner = ContrastiveLearner(encoder, DesharedViews(_identity), torch.optim.SGD([torch.zeros(1)], lr=0.1), 0.5)  # type: ignore[arg-type]
    loss = learner.loss(image, other, torch.Generator())
    torch.testing.assert_close(loss, nt_xent(image.flatten(1), other.flatten(1), 0.5, "symmetric"))
    assert not torch.allclose(loss, nt_xent(image.flatten(1), image.flatten(1), 0.5, "symmetric"))
