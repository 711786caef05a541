"""Linear probes: the fast logistic probe and the paper-protocol SGD probe on a frozen encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deep_experiments.configs import ProbeConfig
from deep_experiments.probe import ProbeRuntime, fast_probe, fit_logistic, paper_probe


class _Items(torch.utils.data.Dataset):
    """Images whose label A is the mean of channel 0 (bright/dark) and label B of channel 1."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = torch.randint(0, 2, (n,), generator=g)
        self.b = torch.randint(0, 2, (n,), generator=g)
        self.images = 0.1 * torch.rand(n, 3, 8, 8, generator=g)
        self.images[:, 0] += 0.8 * self.a.view(-1, 1, 1).float()
        self.images[:, 1] += 0.8 * self.b.view(-1, 1, 1).float()
        self.epochs: list[int] = []

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return self.images[i], int(self.a[i]), int(self.b[i])

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


class _MeanEncoder(nn.Module):
    """A frozen 'encoder' whose features are per-channel means (pooled) or the 2x2-pooled map."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(x, 4)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_fit_logistic_separable_and_degenerate_cases() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] > 0).astype(int)
    acc, converged = fit_logistic(x[:100], y[:100], x[100:], y[100:], c=1.0, max_iter=500)
    assert acc > 0.9 and converged
    shuffled, _ = fit_logistic(x[:100], rng.permutation(y[:100]), x[100:], y[100:], c=1.0, max_iter=500)
    assert shuffled < 0.75
    acc, _ = fit_logistic(x[:10], np.zeros(10, int), x[10:20], np.array([0] * 7 + [1] * 3), 1.0, 100)
    assert acc == pytest.approx(0.7)


def test_fast_probe_reads_both_tasks_from_pooled_features() -> None:
    out = fast_probe(_MeanEncoder(), lambda x: x, _Items(64, 0), _Items(64, 1), ProbeConfig(), torch.device("cpu"))
    assert out["task_a"] == 1.0 and out["task_b"] == 1.0 and out["converged"] is True


def test_paper_probe_learns_from_views_and_tests_on_clean_images() -> None:
    train, test = _Items(64, 2), _Items(64, 3)
    seen: list[int] = []

    def views(image: torch.Tensor, base: torch.Tensor | None, g: torch.Generator) -> torch.Tensor:
        seen.append(len(image))
        return image + 0.01 * torch.randn(image.shape, generator=g)

    cfg = ProbeConfig(epochs=30, lr=0.5, batch_size=16)
    runtime = ProbeRuntime(torch.device("cpu"), torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    out = paper_probe(_MeanEncoder(), views, lambda x: x, train, test, (2, 2), cfg, runtime)
    assert out["task_a"] > 0.95 and out["task_b"] > 0.95
    assert train.epochs == list(range(30)) and sum(seen) == 30 * 64  # a fresh view of every image each epoch


def test_paper_probe_learning_rate_schedule() -> None:
    cfg = ProbeConfig()
    assert (cfg.epochs, cfg.lr, cfg.momentum, cfg.batch_size) == (100, 0.01, 0.9, 128)
    assert cfg.milestone_epochs() == [60, 80] and cfg.gamma == 0.1
    assert ProbeConfig(epochs=10).milestone_epochs() == [6, 8]


def test_draw_features_runs_the_encoder_once_for_draws_with_the_same_images() -> None:
    """Overlay-free draws (same images, new task-B labels) reuse the first draw's features; other draws do not."""
    from deep_experiments.data import build_dataset
    from deep_experiments.data.config import DataConfig
    from deep_experiments.overlay_control import test_redraws
    from deep_experiments.probe import draw_features, extract_features

    test = build_dataset(DataConfig(dataset="c+letters", train_size=8, test_size=40), "test", 0)
    calls: list[int] = []

    def featurize(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return x.mean(dim=(2, 3))

    for strength, forwards in ((0.0, 40), (1.0, 3 * 40)):
        calls.clear()
        split = test.at_strength(strength)
        draws = [split, *test_redraws(split, 3)]
        got = draw_features(featurize, draws, torch.device("cpu"), batch_size=16)
        assert sum(calls) == forwards
        for (f, a, b), draw in zip(got, draws, strict=True):
            rf, ra, rb = extract_features(featurize, draw, torch.device("cpu"), batch_size=16)
            assert np.array_equal(f, rf) and np.array_equal(a, ra) and np.array_equal(b, rb)
