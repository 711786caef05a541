"""The occlusion-aware linear model calibrated on the deep expert strength sweep, then asked to predict.

Deep measurements (one run, the fast probe; :data:`OBSERVABLES`): task A (the photo) on test images
carrying the overlay at strength 1 (``full_overlay``) and on overlay-free ones (``overlay_free``),
and task B (the overlay) on the overlaid ones. The model (:mod:`linear_theory.occlusion`) gives the
matching probe ``R^2`` of the spectral optimum trained at overlay strength ``s_o = scale * o`` and
opacity ``min(alpha * o, 1)`` (the deep overlay is alpha-blended: ``base * (1 - a) + colour * a``
with ``a = min(alpha * o, 1)`` and ``alpha`` the overlay's own, :func:`peak_opacity`, so ``o`` sets
both how strong the overlay is and how much base it hides),
dropout ``p`` on the overlay, shared or de-shared, probed at strength ``scale * 1`` and opacity ``alpha``.

**Free parameters** (:class:`Fit`): the overlay's strength scale, the overlap ``w`` (the share of
the base under the overlay's mask), the capacity ``k``, and an affine read-out per task from ``R^2``
to accuracy (``floor + gain * R^2``, floor at least the task's chance accuracy; task A's read-out is the same for overlaid and overlay-free
images, so the model, not the read-out, must produce the occlusion gap). The read-outs are weighted
least squares (weights ``1 / sem^2``, the standard error over seeds floored at
:attr:`FitConfig.sem_floor`) bounded to accuracy read-outs (floor at least chance, gain >= 0,
floor + gain <= 1; the unbounded optimum is kept beside them, :attr:`Fit.free_floor`), and
``scale``, ``w`` and ``k`` are searched on grids whose edges are reported when the optimum sits on one. Fixed by hand: the block sizes, the augmentation
noise and the input noise (:attr:`FitConfig.setting`). The **orthogonal two-block model** is the
same family at ``w = 0`` (``tests/linear/test_occlusion.py`` proves the reduction), fitted the same way.

**Calibration** uses the expert runs at overlay strengths above 0. **Predictions** (no refit): the
no-overlay control (strength 0), the dropout ``p`` sweep at strength 1, the de-shared overlay, and
the same cells with the other dataset's mechanism (leave one dataset out). Each prediction is scored
per seed, out of sample: the fits and the null that predict a seed are made without that seed
(:func:`score`), and its error is the root-mean-square error over the target's cells against that
seed's runs. Two nulls:
**"nothing changes"** (each target cell equals the expert cell at strength 1 of the same dataset)
and **the orthogonal model**. Leaving one dataset out, the mechanism (scale, overlap, capacity) of
the other dataset's fit is kept and only the read-outs are fitted on this dataset's sweep (its
tasks, e.g. its number of classes, are its own); both models are carried over the same way.
Verdicts come from the paired t test of the per-seed errors (model minus null), Holm's correction
over the table (:func:`verdicts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from linear_theory.occlusion import OcclusionSetting, moments, optimal_encoders, probe_r2
from paper_figures.deep import DeepRun
from paper_figures.stats import holm, paired_t, summarize

__all__ = ["OBSERVABLES", "Cell", "Measurement", "FitConfig", "Fit", "Profile", "Score", "measurements", "chance_levels", "peak_opacity",
           "r2_grid", "fit", "score", "verdicts", "TARGETS"]

OBSERVABLES: dict[str, tuple[str, str]] = {
    "a_overlaid": ("full_overlay", "task_a"),
    "a_free": ("overlay_free", "task_a"),
    "b_overlaid": ("full_overlay", "task_b"),
}
"""Observable -> (the fast probe's test images, task) in ``probe.json``."""

READOUT = {"a_overlaid": "a", "a_free": "a", "b_overlaid": "b"}
"""Observable -> its read-out (task A's is shared by overlaid and overlay-free images)."""

TARGETS = ("control", "dropout", "deshared", "other_dataset")
"""What the calibrated model predicts, in table order. ``other_dataset``: the control, dropout and
de-shared cells of a dataset predicted by the mechanism (scale, overlap, capacity) fitted on the other
dataset, with read-outs fitted on this dataset's sweep."""

ALPHA = 0.05


@dataclass(frozen=True, order=True)
class Cell:
    """A deep condition: the kind of views, the training overlay strength ``o`` and dropout ``p`` on it."""

    kind: str
    strength: float
    dropout: float = 0.0

    @property
    def shared(self) -> bool:
        """Both views carry the same overlay (all kinds but the de-shared control)."""
        return self.kind != "deshared"

    def label(self) -> str:
        if self.kind == "dropout":
            return f"dropout p={self.dropout:g}"
        if self.kind == "expert" and self.strength == 0:
            return "no-overlay control"
        return f"{self.kind} o={self.strength:g}"


def cell_of(run: DeepRun) -> Cell | None:
    """The run's cell (``None`` for a kind of view the model has no analogue of, e.g. the viewmaker)."""
    if run.method == "expert":
        return Cell("expert", float(run.overlay_strength))
    if run.method == "dropout":
        return Cell("dropout", float(run.overlay_strength), float(run.dropout_p))
    if run.method == "deshared":
        return Cell("deshared", float(run.overlay_strength))
    return None


@dataclass(frozen=True)
class Measurement:
    """One observable of one cell of one dataset: the accuracy of each seed."""

    dataset: str
    cell: Cell
    observable: str
    by_seed: dict[int, float]

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.by_seed.values())))

    def sem(self, floor: float) -> float:
        """Standard error over seeds, at least ``floor`` (one seed has no spread of its own)."""
        _, std = summarize(list(self.by_seed.values()))  # std 0 for one seed
        return max(std / math.sqrt(len(self.by_seed)), floor)

    def interval(self) -> tuple[float, float]:
        """The 95 % t interval of the mean over seeds (NaN for one seed)."""
        d = paired_t(list(self.by_seed.values()))
        return d.low, d.high


def measurements(runs: Iterable[DeepRun], dataset: str, protocol: str = "fast") -> list[Measurement]:
    """Every observable of every modelled cell of ``dataset``, one value per seed.

    Raises:
        ValueError: a run without the overlay-control probes, or two runs of one cell and seed.
    """
    table: dict[tuple[Cell, str], dict[int, float]] = {}
    for run in runs:
        cell = cell_of(run)
        if run.dataset != dataset or cell is None:
            continue
        for name, (images, task) in OBSERVABLES.items():
            probe = run.probe[protocol].get(images)
            if probe is None:
                raise ValueError(f"{run.folder}/probe.json has no {protocol}.{images} probe: rerun its probe")
            seeds = table.setdefault((cell, name), {})
            if run.seed in seeds:
                raise ValueError(f"two runs of {dataset} {cell.label()} seed {run.seed} (one is {run.folder})")
            seeds[run.seed] = float(probe[task])
    return [Measurement(dataset, cell, name, dict(sorted(seeds.items()))) for (cell, name), seeds in sorted(table.items())]


def peak_opacity(dataset: str) -> float:
    """The overlay's alpha at strength 1: C+Shapes draws its shapes at 180/255, the other overlays opaque."""
    from deep_experiments.data.overlays import SHAPE_ALPHA

    return SHAPE_ALPHA if dataset == "c+shapes" else 1.0


def chance_levels(runs: Iterable[DeepRun], dataset: str) -> dict[str, float]:
    """``{"a": 1 / classes of task A, "b": 1 / classes of task B}`` of ``dataset``, from a run's config:
    the accuracy of a read-out that sees nothing (the lowest floor a read-out may have)."""
    from deep_experiments.data.recipes import dataset_recipe
    from deep_experiments.run.folder import RunFolder

    run = next((r for r in runs if r.dataset == dataset), None)
    if run is None:
        raise ValueError(f"no run of {dataset}")
    data = RunFolder(run.folder).load_config().data
    spec = dataset_recipe(data.dataset).spec(data)
    return {"a": 1.0 / spec.num_classes_a, "b": 1.0 / spec.num_classes_b}


@dataclass(frozen=True)
class FitConfig:
    """The fixed part of the model and the search grids.

    Attributes:
        setting: block sizes, augmentation noise and input noise (its ``overlay_strength`` and
            ``overlap`` are replaced by the fitted ones); ``base_strength`` sets the units.
        scale_range, scale_points: the log grid of the overlay strength scale.
        overlap_points: the grid of ``w`` on [0, 1] (0 included: the orthogonal model).
        sem_floor: the smallest standard error a measurement is given.
        test_strength: the deep overlay strength of the overlaid test images (the ``full_overlay`` probe).
    """

    setting: OcclusionSetting = field(default_factory=lambda: OcclusionSetting(1.0, 1.0, (8, 4), (1.0, 0.0), 0.1, 0.0))
    scale_range: tuple[float, float] = (0.1, 30.0)
    scale_points: int = 48
    overlap_points: int = 21
    sem_floor: float = 0.005
    test_strength: float = 1.0

    def __post_init__(self) -> None:
        lo, hi = self.scale_range
        if not 0 < lo < hi < math.inf:
            raise ValueError(f"scale_range must satisfy 0 < low < high, got {self.scale_range}")
        if self.scale_points < 2 or self.overlap_points < 2:
            raise ValueError("scale_points and overlap_points must be >= 2")
        if not self.sem_floor > 0:
            raise ValueError(f"sem_floor must be > 0, got {self.sem_floor}")
        if not self.test_strength > 0:
            raise ValueError(f"test_strength must be > 0, got {self.test_strength}")

    def scales(self) -> np.ndarray:
        return np.geomspace(*self.scale_range, self.scale_points)

    def overlaps(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.overlap_points)

    def ranks(self) -> list[int]:
        r_a, r_o = self.setting.dims
        return list(range(1, r_a + max(r_a, r_o) + 1))


def r2_grid(config: FitConfig, cells: Sequence[Cell], overlaps: Sequence[float], scales: Sequence[float],
            ranks: Sequence[int], peak_opacity: float = 1.0, deshared_kappa: float = 0.0) -> np.ndarray:
    """Model ``R^2`` of every observable: shape ``(overlaps, ranks, scales, cells, observables)``.

    ``peak_opacity``: the overlay's alpha at strength 1 (the deep opacity at strength ``o`` is
    ``min(peak_opacity * o, 1)``), e.g. 180/255 for C+Shapes' shapes, 1 for opaque letters.
    ``deshared_kappa``: the share of de-shared pairs whose two overlays carry the same class by chance
    (1 / classes of task B: the deep de-shared views draw each view's overlay independently)."""
    if not 0 < peak_opacity <= 1:
        raise ValueError(f"peak_opacity must be in (0, 1], got {peak_opacity}")
    scales = np.asarray(scales, dtype=float)
    strengths = np.array([c.strength for c in cells])
    drops = np.array([c.dropout for c in cells])
    out = np.zeros((len(overlaps), len(ranks), len(scales), len(cells), len(OBSERVABLES)))
    for i, w in enumerate(overlaps):
        setting = replace(config.setting, overlap=float(w))
        for shared in (True, False):
            idx = [j for j, c in enumerate(cells) if c.shared == shared]
            if not idx:
                continue
            train = np.outer(scales, strengths[idx])
            opacity = np.broadcast_to(np.minimum(peak_opacity * strengths[idx], 1.0), train.shape)
            cross, view = moments(setting, np.broadcast_to(drops[idx], train.shape), True if shared else deshared_kappa,
                                  train, opacity)
            test = np.broadcast_to(config.test_strength * scales[:, None], train.shape)
            for r, encoder in enumerate(optimal_encoders(cross, view, list(ranks))):
                a_over, b_over = probe_r2(setting, encoder, True, test, min(peak_opacity * config.test_strength, 1.0))
                a_free, _ = probe_r2(setting, encoder, False)
                out[i, r][:, idx] = np.stack([a_over, a_free, b_over], axis=-1)
    return out


def _readout(x: np.ndarray, y: np.ndarray, w: np.ndarray, bounded: bool = True, low: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares ``y ~ floor + gain * x`` over the last axis of ``x`` (batched):
    ``(floor, gain, chi2)``.

    ``bounded``: the read-out must be an accuracy read-out, ``low <= floor`` (accuracy at ``R^2 = 0``
    is at least chance, ``low``),
    ``gain >= 0`` (more signal never lowers accuracy) and ``floor + gain <= 1`` (accuracy at
    ``R^2 = 1``); the optimum is the free one when it is inside, else the best point of the three edges.
    ``bounded=False`` gives the free optimum (reported beside the bounded one)."""
    sw = w.sum()
    mx, my = (x * w).sum(-1) / sw, (y * w).sum() / sw
    var = (w * (x - mx[..., None]) ** 2).sum(-1)
    cov = (w * (x - mx[..., None]) * (y - my)).sum(-1)
    gain = np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), 0.0)
    floor = my - gain * mx

    def chi2(f: np.ndarray, g: np.ndarray) -> np.ndarray:
        return (w * (y - f[..., None] - g[..., None] * x) ** 2).sum(-1)

    if not bounded:
        return floor, gain, chi2(floor, gain)
    candidates = []
    if not 0 <= low < 1:
        raise ValueError(f"the read-out's lowest floor must be in [0, 1), got {low}")
    inside = (floor >= low) & (gain >= 0) & (floor + gain <= 1)
    candidates.append((floor, gain, np.where(inside, chi2(floor, gain), np.inf)))
    flat = np.broadcast_to(np.clip(my, low, 1.0), mx.shape)  # gain = 0
    candidates.append((flat, np.zeros_like(mx), chi2(flat, np.zeros_like(mx))))
    sxx = (w * x**2).sum(-1)
    g0 = np.clip(np.where(sxx > 1e-12, (w * x * (y - low)).sum(-1) / np.where(sxx > 1e-12, sxx, 1.0), 0.0),
                 0.0, 1.0 - low)
    at_low = np.full_like(mx, low)
    candidates.append((at_low, g0, chi2(at_low, g0)))  # floor = low
    s11 = (w * (x - 1) ** 2).sum(-1)
    g1 = np.clip(np.where(s11 > 1e-12, (w * (x - 1) * (y - 1)).sum(-1) / np.where(s11 > 1e-12, s11, 1.0), 0.0),
                 0.0, 1.0 - low)
    candidates.append((1.0 - g1, g1, chi2(1.0 - g1, g1)))  # floor + gain = 1
    errs = np.stack([c[2] for c in candidates])
    best = errs.min(axis=0)
    # the first candidate as good as the best (within rounding): the free optimum when it is inside,
    # so a read-out the data do not identify (constant R^2) keeps the free convention, gain 0
    pick = np.argmax(errs <= best * (1 + 1e-9) + 1e-12, axis=0)
    choose = lambda k: np.choose(pick, [c[k] for c in candidates])  # noqa: E731
    return choose(0), choose(1), best


@dataclass(frozen=True)
class Profile:
    """``chi2`` minimized over every other parameter, at each grid value of one parameter, and the
    values whose profile is within ``cut`` of the minimum: 3.84 (the 95 % point of chi-square with 1
    df) times the fit's reduced chi-square when that exceeds 1 (a model that misfits its points by
    more than their errors must not claim the precision a good fit would have)."""

    parameter: str
    values: tuple[float, ...]
    chi2: tuple[float, ...]
    cut: float = 3.84

    def inside(self) -> list[bool]:
        best = min(self.chi2)
        return [c - best <= self.cut for c in self.chi2]

    def interval(self) -> tuple[float, float]:
        """The smallest and largest grid value inside (see :meth:`describe` for gaps and the whole grid)."""
        inside = [v for v, ok in zip(self.values, self.inside()) if ok]
        return min(inside), max(inside)

    def describe(self) -> str:
        """``""``, ``"unidentified"`` (every grid value inside) or ``"disconnected"`` (a gap inside the range)."""
        flags = self.inside()
        if len(flags) > 1 and all(flags):
            return "unidentified"
        first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
        return "disconnected" if not all(flags[first:last + 1]) else ""


@dataclass(frozen=True)
class Fit:
    """A calibrated model: mechanism (``scale``, ``overlap``, ``rep_dim``), read-outs and fit quality."""

    dataset: str
    model: str
    scale: float
    overlap: float
    rep_dim: int
    floor: dict[str, float]
    gain: dict[str, float]
    gain_se: dict[str, float]
    free_floor: dict[str, float]
    free_gain: dict[str, float]
    chi2: float
    rmse: float
    n_points: int
    n_params: int
    at_edge: tuple[str, ...]
    profiles: tuple[Profile, ...]
    peak_opacity: float = 1.0
    deshared_kappa: float = 0.0

    def predict(self, config: FitConfig, cells: Sequence[Cell]) -> np.ndarray:
        """Predicted accuracy, shape ``(cells, observables)``."""
        r2 = r2_grid(config, cells, [self.overlap], [self.scale], [self.rep_dim], self.peak_opacity,
                     self.deshared_kappa)[0, 0, 0]
        return np.stack([self.floor[READOUT[o]] + self.gain[READOUT[o]] * r2[:, j]
                         for j, o in enumerate(OBSERVABLES)], axis=-1)


def _obs_index(ms: Sequence[Measurement], cells: list[Cell]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([cells.index(m.cell) for m in ms]), np.array([list(OBSERVABLES).index(m.observable) for m in ms])


def fit(calibration: Sequence[Measurement], config: FitConfig, orthogonal: bool = False,
        mechanism: Fit | None = None, chance: dict[str, float] | None = None, peak_opacity: float = 1.0,
        deshared_kappa: float = 0.0) -> Fit:
    """Calibrate on ``calibration`` (every observable of the expert cells above strength 0).

    ``orthogonal``: fix ``w = 0`` (the two-block model). ``mechanism``: keep that fit's scale, overlap
    and capacity and fit the read-outs only (a mechanism carried to another dataset, whose read-outs,
    e.g. its number of classes, are its own). ``chance``: per read-out (``a``, ``b``) the lowest floor,
    the task's chance accuracy (default 0). ``peak_opacity``, ``deshared_kappa``: the dataset's overlay
    alpha at strength 1 and its de-shared pairs' chance of one class (:func:`r2_grid`). Raises ValueError with fewer than three strengths (too
    few points for 7 parameters), or with a measurement that is not an expert cell.
    """
    if len({m.cell.strength for m in calibration}) < 3:
        raise ValueError("calibration needs expert runs at three or more overlay strengths above 0")
    if any(m.cell.kind != "expert" or m.cell.strength <= 0 for m in calibration):
        raise ValueError("calibration takes expert cells above overlay strength 0 only")
    if mechanism is not None:  # a carried mechanism decides which model this is
        orthogonal = mechanism.model == "orthogonal"
    cells = sorted({m.cell for m in calibration})
    overlaps = np.array([0.0]) if orthogonal else config.overlaps()
    scales, ranks = config.scales(), config.ranks()
    if mechanism is not None:
        overlaps, scales, ranks = np.array([mechanism.overlap]), np.array([mechanism.scale]), [mechanism.rep_dim]
    r2 = r2_grid(config, cells, overlaps, scales, ranks, peak_opacity, deshared_kappa)
    ci, oi = _obs_index(calibration, cells)
    x_all = r2[..., ci, oi]  # (overlaps, ranks, scales, measurements)
    y = np.array([m.mean for m in calibration])
    w = np.array([1.0 / m.sem(config.sem_floor) ** 2 for m in calibration])
    groups = {g: np.array([READOUT[m.observable] == g for m in calibration]) for g in ("a", "b")}
    parts = {g: _readout(x_all[..., sel], y[sel], w[sel], low=(chance or {}).get(g, 0.0)) for g, sel in groups.items()}
    chi2 = sum(part[2] for part in parts.values())
    i, r, s = np.unravel_index(int(np.argmin(chi2)), chi2.shape)
    best = x_all[i, r, s]
    floor = {g: float(parts[g][0][i, r, s]) for g in parts}
    gain = {g: float(parts[g][1][i, r, s]) for g in parts}
    free = {g: _readout(best[sel], y[sel], w[sel], bounded=False) for g, sel in groups.items()}
    n_params = 6 if orthogonal else 7
    dof = len(calibration) - n_params
    inflation = max(1.0, float(chi2[i, r, s]) / dof) if dof > 0 else math.inf
    gain_se = {}
    for g, sel in groups.items():
        x, ww = best[sel], w[sel]
        var = (ww * (x - (ww * x).sum() / ww.sum()) ** 2).sum()
        at_bound = not math.isclose(gain[g], float(free[g][1]), abs_tol=1e-9)
        # scaled by the fit's reduced chi-square; none where the bound binds (the free slope's would mislead)
        gain_se[g] = math.nan if at_bound else (math.sqrt(inflation / var) if var > 1e-12 else math.inf)
    fitted = np.array([floor[READOUT[m.observable]] + gain[READOUT[m.observable]] * best[j]
                       for j, m in enumerate(calibration)])
    rmse = float(np.sqrt(np.mean((fitted - y) ** 2)))
    grids = {"scale": scales, "overlap": overlaps, "rep_dim": np.array(ranks, dtype=float)}
    axes = {"overlap": (1, 2), "rep_dim": (0, 2), "scale": (0, 1)}
    profiles = tuple(Profile(name, tuple(float(v) for v in grids[name]), tuple(float(c) for c in chi2.min(axis=axes[name])),
                             3.84 * inflation)
                     for name in ("scale", "overlap", "rep_dim") if not (orthogonal and name == "overlap"))
    picked = {"scale": s, "overlap": i, "rep_dim": r}
    edges = tuple(name for name in ("scale", "overlap", "rep_dim") if len(grids[name]) > 1
                  and picked[name] in (0, len(grids[name]) - 1) and not (name == "overlap" and picked[name] == 0))
    return Fit(calibration[0].dataset, "orthogonal" if orthogonal else "occlusion", float(scales[s]),
               float(overlaps[i]), int(ranks[r]), floor, gain, gain_se,
               {g: float(free[g][0]) for g in free}, {g: float(free[g][1]) for g in free}, float(chi2[i, r, s]), rmse, len(calibration),
               n_params, edges, profiles, peak_opacity, deshared_kappa)


def calibration_set(ms: Sequence[Measurement]) -> list[Measurement]:
    """The expert cells above overlay strength 0."""
    return [m for m in ms if m.cell.kind == "expert" and m.cell.strength > 0]


def target_set(ms: Sequence[Measurement], target: str) -> list[Measurement]:
    """The measurements a target predicts (``other_dataset``: the control, dropout and de-shared ones)."""
    if target == "control":
        return [m for m in ms if m.cell == Cell("expert", 0.0)]
    if target == "dropout":
        return [m for m in ms if m.cell.kind == "dropout" and m.cell.strength == 1.0]
    if target == "deshared":
        return [m for m in ms if m.cell.kind == "deshared" and m.cell.strength == 1.0]
    if target == "other_dataset":
        return [m for t in ("control", "dropout", "deshared") for m in target_set(ms, t)]
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


@dataclass(frozen=True)
class Score:
    """Per-seed prediction errors of the model and both nulls on one target (each seed left out of the
    fits and of the null that predict it)."""

    dataset: str
    target: str
    fitted_on: str
    n_cells: int
    seeds: tuple[int, ...]
    model: tuple[float, ...]
    nothing_changes: tuple[float, ...]
    orthogonal: tuple[float, ...]


def without_seed(ms: Sequence[Measurement], seed: int) -> list[Measurement]:
    """``ms`` with ``seed``'s value removed (a measurement left with no seed is dropped)."""
    out = []
    for m in ms:
        rest = {s: v for s, v in m.by_seed.items() if s != seed}
        if rest:
            out.append(Measurement(m.dataset, m.cell, m.observable, rest))
    return out


def score(target: str, ms: Sequence[Measurement], fits_without: Any, fitted_on: str,
          config: FitConfig) -> Score | None:
    """Score ``target`` (measurements ``ms`` of one dataset), seed by seed and out of sample.

    ``fits_without(seed)`` returns ``(occlusion fit, orthogonal fit, measurements)`` made without that
    seed; the "nothing changes" null is those measurements' expert cell at strength 1. Each seed's
    error is the root-mean-square difference between the predictions and that seed's values over the
    target's measurements, so neither the fits nor the null have seen the numbers they are scored on.
    ``None`` when the target has no runs, no seed has every cell of it, or there is no expert cell at
    strength 1 to read the null from.
    """
    if not ms:
        return None
    seeds = sorted(set.intersection(*(set(m.by_seed) for m in ms)))
    if not seeds:
        return None
    cells = sorted({m.cell for m in ms})
    ci, oi = _obs_index(ms, cells)
    errors: dict[str, list[float]] = {"model": [], "nothing_changes": [], "orthogonal": []}
    for seed in seeds:
        occlusion, orthogonal, rest = fits_without(seed)
        ref = {m.observable: m.mean for m in rest if m.cell == Cell("expert", 1.0)}
        if any(m.observable not in ref for m in ms):
            return None
        truth = np.array([m.by_seed[seed] for m in ms])
        for name, pred in (("model", occlusion.predict(config, cells)[ci, oi]),
                           ("orthogonal", orthogonal.predict(config, cells)[ci, oi]),
                           ("nothing_changes", np.array([ref[m.observable] for m in ms]))):
            errors[name].append(float(np.sqrt(np.mean((pred - truth) ** 2))))
    return Score(ms[0].dataset, target, fitted_on, len(cells), tuple(seeds), tuple(errors["model"]),
                 tuple(errors["nothing_changes"]), tuple(errors["orthogonal"]))


def verdicts(scores: Sequence[Score]) -> list[dict[str, Any]]:
    """One row per (score, null): the paired difference of per-seed errors (model minus null), its
    95 % t interval, the Holm-adjusted p over the table and the verdict (``beats``: the model's error
    is lower and the difference significant; ``worse``: higher and significant; ``tie`` otherwise,
    ``n/a`` with one seed)."""
    rows = []
    for sc in scores:
        for null in ("nothing_changes", "orthogonal"):
            d = paired_t(np.subtract(sc.model, getattr(sc, null)).tolist())
            rows.append({"dataset": sc.dataset, "target": sc.target, "fitted_on": sc.fitted_on, "null": null,
                         "n_cells": sc.n_cells, "n_seeds": len(sc.seeds), "model_rmse": float(np.mean(sc.model)),
                         "null_rmse": float(np.mean(getattr(sc, null))), "difference": d.mean, "ci_low": d.low,
                         "ci_high": d.high, "p_value": d.p_value, "model_by_seed": list(sc.model),
                         "null_by_seed": list(getattr(sc, null))})
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows])):
        row["p_holm"] = adjusted
        row["verdict"] = verdict(row["difference"], adjusted)
    return rows


def verdict(difference: float, p_holm: float) -> str:
    """``beats`` / ``worse`` / ``tie`` / ``n/a`` from a mean difference (model minus null) and its adjusted p."""
    if math.isnan(p_holm):
        return "n/a"
    if p_holm > ALPHA:
        return "tie"
    return "beats" if difference < 0 else "worse"
