"""One training step: encoder descends, the viewmaker (the views' own step) ascends the same NT-Xent, NaN stops.

The direction checks use a small encoder step (lr 1e-4): at temperature 0.07 with a tiny batch the
gradient is large (squared norm ~7e3), so the paper's lr 0.03 overshoots a single batch's loss.
"""

from __future__ import annotations

import copy

import pytest
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.guards import NonFiniteLossError
from deep_experiments.models.resnet import ResNet18
from deep_experiments.models.viewmaker import Viewmaker
from deep_experiments.normalize import Normalize
from deep_experiments.run.learner import ContrastiveLearner
from deep_experiments.seeds import seeded_init
from deep_experiments.views import ExpertViews, ViewmakerViews


def _batch(n: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def _learner(adversarial: bool, lr: float = 1e-4) -> ContrastiveLearner:
    with seeded_init(1):
        encoder = ResNet18(3, 16, 4)
        viewmaker = Viewmaker(3, 0.05)
    enc_opt = torch.optim.SGD(encoder.parameters(), lr=lr, momentum=0.9)
    if not adversarial:
        return ContrastiveLearner(encoder, ExpertViews(ExpertAugment(3, 16)), enc_opt, 0.07)
    vm_opt = torch.optim.Adam(viewmaker.parameters(), lr=1e-3)
    return ContrastiveLearner(encoder, ViewmakerViews(viewmaker, Normalize(3), vm_opt), enc_opt, 0.07)


def _viewmaker(learner: ContrastiveLearner) -> torch.nn.Module:
    return learner.views.modules()["viewmaker"]


def _viewmaker_step(learner: ContrastiveLearner, x: torch.Tensor, g: torch.Generator) -> float:
    return learner.views.train_step(learner, x, None, g, "step")["viewmaker_loss"]


def _loss_at(learner: ContrastiveLearner, x: torch.Tensor, seed: int) -> float:
    """The loss on ``x`` with the views (noise / augmentation) of generator seed ``seed``."""
    with torch.no_grad():
        return float(learner.loss(x, None, torch.Generator().manual_seed(seed)))


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_adversarial_step_moves_each_network_in_its_direction() -> None:
    learner, x = _learner(adversarial=True), _batch()
    viewmaker = _viewmaker(learner)
    enc0, vm0 = _params(learner.encoder), _params(viewmaker)

    before = _loss_at(learner, x, seed=10)
    learner.encoder_step(x, None, torch.Generator().manual_seed(10))
    after = _loss_at(learner, x, seed=10)
    assert after < before, "the encoder step must lower the contrastive loss"
    assert _changed(enc0, learner.encoder) and not _changed(vm0, viewmaker)

    enc1 = _params(learner.encoder)
    before = _loss_at(learner, x, seed=11)
    _viewmaker_step(learner, x, torch.Generator().manual_seed(11))
    after = _loss_at(learner, x, seed=11)
    assert after > before, "the viewmaker step must raise the contrastive loss"
    assert _changed(vm0, viewmaker) and not _changed(enc1, learner.encoder)
    assert all(p.requires_grad for p in learner.encoder.parameters())
    assert all(p.requires_grad for p in viewmaker.parameters())


def test_full_step_uses_fresh_views_for_each_network() -> None:
    learner, x = _learner(adversarial=True), _batch()
    g = torch.Generator().manual_seed(3)
    replay = copy.deepcopy(learner)
    out = learner.step(x, None, g)
    assert set(out) == {"loss", "viewmaker_loss"}
    g2 = torch.Generator().manual_seed(3)
    enc_loss = replay.encoder_step(x, None, g2)
    assert enc_loss == out["loss"]
    assert _viewmaker_step(replay, x, g2) == out["viewmaker_loss"]  # continues the same stream


def test_expert_encoder_step_lowers_the_loss() -> None:
    learner, x = _learner(adversarial=False), _batch()
    before = _loss_at(learner, x, seed=5)
    assert set(learner.step(x, None, torch.Generator().manual_seed(5))) == {"loss"}
    assert _loss_at(learner, x, seed=5) < before


def test_non_finite_loss_names_the_step_and_leaves_weights_alone() -> None:
    learner = _learner(adversarial=False)
    x = _batch()
    x[0] = float("nan")
    before = _params(learner.encoder)
    with pytest.raises(NonFiniteLossError, match="encoder loss at epoch 3 step 7"):
        learner.step(x, None, torch.Generator().manual_seed(0), where="epoch 3 step 7")
    assert not _changed(before, learner.encoder)


def test_fixed_views_have_no_step_and_viewmaker_views_without_optimizer_refuse_one() -> None:
    learner = _learner(adversarial=False)
    assert learner.views.train_step(learner, _batch(), None, torch.Generator(), "step") == {}
    assert learner.views.modules() == {} and learner.views.optimizers() == {}
    untrained = ViewmakerViews(Viewmaker(3), Normalize(3))
    assert untrained.optimizers() == {}
    with pytest.raises(RuntimeError, match="no optimizer"):
        untrained.train_step(learner, _batch(), None, torch.Generator(), "step")


def test_separate_view_forwards_normalize_each_view_by_its_own_batch() -> None:
    """``separate_views``: the loss is NT-Xent of ``encoder(v1)`` and ``encoder(v2)`` from two forward passes (training
    mode: BatchNorm statistics per view), which is not the loss of one pass over both views; the views are the same."""
    from featuredrop.losses import nt_xent

    x = _batch()
    joint, separate = _learner(False), _learner(False)
    separate.separate_views = True
    both = separate.views.both(x, None, torch.Generator().manual_seed(5))  # the two views the step draws
    with torch.no_grad():
        v1, v2 = both.chunk(2)
        expected = nt_xent(copy.deepcopy(separate.encoder)(v1), copy.deepcopy(separate.encoder)(v2), 0.07)
        got = separate.loss(x, None, torch.Generator().manual_seed(5))
        one_pass = joint.loss(x, None, torch.Generator().manual_seed(5))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert not torch.equal(got, one_pass)
