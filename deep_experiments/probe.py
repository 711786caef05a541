"""Linear probes of a frozen encoder, one per task (A = base class, B = overlay class).

Two protocols:

- **Paper protocol** (:func:`paper_probe`): a linear layer on the flattened pre-pool features
  (512x4x4 = 8,192-d for a width-64 encoder on 32x32 images), SGD lr 0.01, momentum 0.9,
  batch 128, ``epochs`` (100) with the lr x0.1 at 60 % and 80 %, trained on the method's own
  views (a fresh view of every image each epoch, overlays fresh each epoch), tested on clean
  (un-augmented, overlaid) test images; top-1 accuracy. Both tasks' probes see the same batches
  and are trained side by side; their parameters and losses are separate, so this equals two
  independent probes.
- **Fast probe** (:func:`fast_probe`): multinomial logistic regression (scikit-learn, L-BFGS,
  L2 with ``C``) on standardized global-average-pooled features (512-d) of clean train images,
  computed once and cached; tested on clean test images. No augmentation and a convex fit, so it
  runs in seconds and is deterministic: use it for sweeps and for the probes over pretraining
  time. ``probe.json`` reports both protocols on the final encoder so they can be compared.

RandBit (``b`` shared bit planes): task B has ``2**b`` classes, too many for a multinomial probe
once ``b`` is large, and most test ids never occur in training. The fast probe therefore also
reports ``task_b_bits``, the mean test accuracy of ``b`` binary probes (one per bit, chance 1/2),
and reports ``task_b`` as ``None`` when task B has more than :data:`MAX_PROBE_CLASSES` classes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset
from tqdm import tqdm

from deep_experiments.configs import ProbeConfig
from deep_experiments.data import make_loader, unpack_batch
from deep_experiments.seeds import seeded_init
from deep_experiments.views import ViewSource

TASKS = ("task_a", "task_b")
MAX_PROBE_CLASSES = 64
"""Above this many classes the fast probe skips a task (reports ``None``): the fit would be slow and meaningless."""

__all__ = ["TASKS", "MAX_PROBE_CLASSES", "ProbeRuntime", "extract_features", "draw_features", "fit_logistic",
           "fit_logistic_draws", "fast_probe", "paper_probe"]


@dataclass(frozen=True)
class ProbeRuntime:
    """Where and how the paper probe runs: device, random streams, loader workers, progress bar.

    Attributes:
        device: where encoder, views and heads run.
        views_generator: view randomness (on ``device``); order_generator: batch order (CPU).
        num_workers: DataLoader workers; progress: show a progress bar.
    """

    device: torch.device
    views_generator: torch.Generator
    order_generator: torch.Generator
    num_workers: int = 0
    progress: bool = False


@torch.no_grad()
def extract_features(
    featurize: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    device: torch.device,
    batch_size: int = 256,
    num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every (clean) item, in order, with both labels.

    Args:
        featurize: maps a batch of raw images ``(B, C, H, W)`` to features ``(B, d)``.

    Returns:
        ``(features (N, d) float32, label_a (N,), label_b (N,))`` as numpy arrays.
    """
    feats, labels_a, labels_b = [], [], []
    for batch in make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers):
        image, label_a, label_b, _ = unpack_batch(batch[:3], device)
        feats.append(featurize(image).float().cpu())
        labels_a.append(label_a.cpu())
        labels_b.append(label_b.cpu())
    return torch.cat(feats).numpy(), torch.cat(labels_a).numpy(), torch.cat(labels_b).numpy()


def draw_features(
    featurize: Callable[[torch.Tensor], torch.Tensor],
    draws: Sequence[Dataset],
    device: torch.device,
    batch_size: int = 256,
    num_workers: int = 0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`extract_features` of each dataset of ``draws`` (test-overlay draws: the same items, overlays drawn
    anew), without running the encoder again on a draw whose images are the first draw's bit for bit.

    The overlay-free control's draws are such draws: strength 0 leaves every image its base image, and
    only task B's labels (the invisible overlay's class) change from draw to draw. Every draw is still
    loaded (its labels, and the same passes over the data as before); a repeated draw gets the first
    draw's features, which the encoder would have computed from the same batches anyway.
    """
    first: list[torch.Tensor] | None = None
    first_features: np.ndarray | None = None
    out = []
    for dataset in draws:
        images, labels_a, labels_b = [], [], []
        for batch in make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers):
            image, label_a, label_b, _ = unpack_batch(batch[:3], device)
            images.append(image)
            labels_a.append(label_a.cpu())
            labels_b.append(label_b.cpu())
        if first_features is not None and first is not None and _same_bits(first, images):
            features = first_features
        else:
            with torch.no_grad():
                features = torch.cat([featurize(image).float().cpu() for image in images]).numpy()
        if first is None:
            first, first_features = images, features
        out.append((features, torch.cat(labels_a).numpy(), torch.cat(labels_b).numpy()))
    return out


_SAME_WIDTH_INT = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16,
                   torch.bfloat16: torch.int16}


def _same_bits(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> bool:
    """Whether two lists of batches hold the same shapes, dtypes and bits (-0.0 is not 0.0, a NaN equals its bits)."""
    def bits(t: torch.Tensor) -> torch.Tensor:
        return t.view(_SAME_WIDTH_INT[t.dtype]) if t.dtype in _SAME_WIDTH_INT else t

    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype and torch.equal(bits(x), bits(y))
                                    for x, y in zip(a, b))


def fit_logistic(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, c: float, max_iter: int
) -> tuple[float, bool]:
    """Top-1 test accuracy of an L2 multinomial logistic regression on standardized features.

    Shape: ``train_x`` ``(N, d)``, ``train_y`` ``(N,)``, ``test_x`` ``(M, d)``, ``test_y`` ``(M,)``.

    Returns:
        ``(accuracy, converged)``; with a single class in ``train_y`` the constant prediction.
    """
    accs, converged = fit_logistic_draws(train_x, train_y, [(test_x, test_y)], c, max_iter)
    return accs[0], converged


def fit_logistic_draws(
    train_x: np.ndarray, train_y: np.ndarray, tests: Sequence[tuple[np.ndarray, np.ndarray]], c: float, max_iter: int
) -> tuple[list[float], bool]:
    """:func:`fit_logistic` fitted once and scored on each ``(test_x, test_y)`` of ``tests`` (test-overlay draws)."""
    classes = np.unique(train_y)
    if len(classes) < 2:
        return [float(np.mean(test_y == classes[0])) for _, test_y in tests], True
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(scaler.transform(train_x), train_y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return [float(model.score(scaler.transform(test_x), test_y)) for test_x, test_y in tests], converged


def fast_probe(
    encoder: nn.Module,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    train_set: Dataset,
    test_set: Dataset,
    config: ProbeConfig,
    device: torch.device,
    num_workers: int = 0,
    redraws: Sequence[Dataset] = (),
) -> dict[str, Any]:
    """Fast probe accuracies ``{"task_a", "task_b", "converged"}``, + ``"task_b_bits"`` for RandBit (see above).

    ``redraws``: further copies of ``test_set`` with independently drawn overlays (same base images).
    With any, every accuracy is the mean over ``test_set`` and the redraws (each task's probe is
    fitted once and scored on every draw), and ``"draws"`` holds the accuracy of each draw per task,
    ``test_set`` first: the spread that the overlay draw alone puts on a probe number.
    """
    was_training = encoder.training
    encoder.eval()
    try:
        featurize = lambda x: encoder.pooled(normalize(x))  # noqa: E731
        tr = extract_features(featurize, train_set, device, num_workers=num_workers)
        tests = draw_features(featurize, (test_set, *redraws), device, num_workers=num_workers)
    finally:
        encoder.train(was_training)
    spec = getattr(train_set, "spec", None)
    out: dict[str, Any] = {"converged": True}
    draws: dict[str, list[float]] = {}

    def fit(train_y: np.ndarray, labels: Callable[[tuple[np.ndarray, ...]], np.ndarray]) -> list[float]:
        accs, ok = fit_logistic_draws(tr[0], train_y, [(te[0], labels(te)) for te in tests], config.fast_c,
                                      config.fast_max_iter)
        out["converged"] = bool(out["converged"]) and ok
        return accs

    for k, task in enumerate(TASKS):
        classes = 0 if spec is None else (spec.num_classes_a, spec.num_classes_b)[k]
        if classes > MAX_PROBE_CLASSES:
            out[task] = None
            continue
        draws[task] = fit(tr[1 + k], lambda te, k=k: te[1 + k])
        out[task] = float(np.mean(draws[task]))
    bits = 0 if spec is None else spec.shared_channels
    if bits:
        per_bit = np.array([fit((tr[2] >> j) & 1, lambda te, j=j: (te[2] >> j) & 1) for j in range(bits)])
        draws["task_b_bits"] = per_bit.mean(axis=0).tolist()
        out["task_b_bits"] = float(np.mean(per_bit))
    if redraws:
        out["draws"] = draws
    return out


def paper_probe(
    encoder: nn.Module,
    views: ViewSource,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    train_set: Dataset,
    test_set: Dataset,
    num_classes: tuple[int, int],
    config: ProbeConfig,
    runtime: ProbeRuntime,
) -> dict[str, float]:
    """Paper-protocol probe accuracies ``{"task_a", "task_b"}`` (see the module docstring).

    Args:
        views: the method's view source; ``train_set`` must carry ``base`` when it needs one.
        num_classes: classes of task A and task B.
    """
    was_training = encoder.training
    encoder.eval()
    try:
        heads = _train_heads(encoder, views, normalize, train_set, num_classes, config, runtime)
        return _test_heads(encoder, normalize, heads, test_set, runtime.device, runtime.num_workers)
    finally:
        encoder.train(was_training)


def _train_heads(
    encoder: nn.Module,
    views: ViewSource,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    train_set: Dataset,
    num_classes: tuple[int, int],
    config: ProbeConfig,
    runtime: ProbeRuntime,
) -> nn.ModuleList:
    """Train one linear head per task on frozen pre-pool features of fresh views."""
    if len(train_set) == 0:  # type: ignore[arg-type]
        raise ValueError("the probe's training set is empty")
    device, generator, order_generator = runtime.device, runtime.views_generator, runtime.order_generator
    with torch.no_grad():
        dim = encoder.features(normalize(train_set[0][0][None].to(device))).numel()
    with seeded_init(int(torch.randint(0, 2**62, (1,), generator=order_generator)), "probe/heads"):
        heads = nn.ModuleList(nn.Linear(dim, n) for n in num_classes).to(device)
    opt = torch.optim.SGD(heads.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, config.milestone_epochs(), config.gamma)
    loader = make_loader(train_set, config.batch_size, shuffle=True, generator=order_generator,
                         num_workers=runtime.num_workers)
    for epoch in tqdm(range(config.epochs), desc="paper probe", disable=not runtime.progress, leave=False):
        train_set.set_epoch(epoch)  # type: ignore[attr-defined]
        for batch in loader:
            image, label_a, label_b, base = unpack_batch(batch, device)
            with torch.no_grad():
                feats = encoder.features(views(image, base, generator)).flatten(1)
            loss = F.cross_entropy(heads[0](feats), label_a) + F.cross_entropy(heads[1](feats), label_b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return heads


@torch.no_grad()
def _test_heads(
    encoder: nn.Module,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    heads: nn.ModuleList,
    test_set: Dataset,
    device: torch.device,
    num_workers: int,
) -> dict[str, float]:
    """Top-1 accuracy of each head on clean test images."""
    correct = [0, 0]
    total = 0
    for batch in make_loader(test_set, 256, shuffle=False, num_workers=num_workers):
        image, label_a, label_b, _ = unpack_batch(batch[:3], device)
        feats = encoder.features(normalize(image)).flatten(1)
        for k, (head, y) in enumerate(zip(heads, (label_a, label_b))):
            correct[k] += int((head(feats).argmax(dim=1) == y).sum())
        total += len(image)
    return {task: correct[k] / total for k, task in enumerate(TASKS)}
