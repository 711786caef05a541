"""Figures of the deep arm, read from run folders of ``deep_experiments`` (figures 4-6; figure 7 is :mod:`paper_figures.theory_vs_deep`).

The results root (``FigureContext.results``, ``--results DIR``) holds run folders laid out as
``DIR/<dataset>/<method>/os<overlay_strength>_p<dropout_p>/seed<k>/`` (what
``scripts/deep_cpu_grid.py`` writes). Each folder is read through its own files only, by
:class:`deep_experiments.run.folder.RunFolder`: ``config.json`` (dataset, method = kind of views,
overlay strength, dropout p, seed - the folder name is not trusted; older formats migrated),
``probe.json`` (final accuracies ``{"fast": {"task_a", "task_b"}, ["paper": ...]}``),
``metrics.jsonl`` (records ``{"kind": "fast_probe", "epoch", "task_a", "task_b"}``) and, for the
viewmaker views, ``checkpoint.pt`` or ``viewmaker.pt`` and ``viewmaker_focus.json``
(``scripts/viewmaker_focus.py``). Task A is the base image's class, task B the overlay's.

Caveat: the numbers of ``scripts/deep_cpu_grid.py`` are CPU-sized runs (``--preset smoke``: 2 epochs, tiny
ResNet, 512 images) on offline stand-in data, not the paper's full-size runs; the figure titles
say so. With no run folders a figure is skipped with one line; nothing is ever invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from deep_experiments.run.folder import RunFolder
from deep_experiments.run.folder import find_runs as find_run_folders
from deep_experiments.viewmaker_focus import FOCUS_FILE
from deep_experiments.views import METHODS
from paper_figures.io import read_json, read_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import paired_t, summarize
from paper_figures.style import METHOD_COLORS, SIMULATION, TEXT_WIDTH, new_figure

__all__ = ["DeepRun", "find_runs", "runs_by_seed", "DeepFigureConfig", "FIGURES"]

TASKS = ("task_a", "task_b")
TASK_LABELS = {"task_a": "task A\n(base image)", "task_b": "task B\n(overlay)"}
HINT = "OMP_NUM_THREADS=1 python scripts/deep_cpu_grid.py --out DIR, then --results DIR"
CAVEAT = "CPU-sized runs; see results/README.md"


@dataclass(frozen=True)
class DeepRun:
    """One finished run folder (one with a ``probe.json``)."""

    folder: Path
    dataset: str
    method: str
    overlay_strength: float
    dropout_p: float
    seed: int
    probe: dict[str, Any]
    augmentation: str | None = None
    """The expert views' policy (``data.augmentation``; ``None``: the dataset's own)."""
    encoder: str = "resnet18"
    """``train.encoder`` with its width, e.g. ``"convn-32"`` (the default only for hand-made runs)."""

    def accuracy(self, protocol: str, task: str) -> float:
        """Final probe accuracy of ``task`` under ``protocol`` (``fast`` or ``paper``)."""
        return float(self.probe[protocol][task])

    def fast_probes(self) -> list[dict[str, Any]]:
        """The ``fast_probe`` records of ``metrics.jsonl``, by epoch (a torn line is skipped)."""
        return RunFolder(self.folder).fast_probes()

    @classmethod
    def read(cls, run: RunFolder) -> DeepRun:
        """The figures' view of a finished run folder."""
        config, probe = run.load_config(), run.read_probe()
        for task in TASKS:  # what every deep figure reads; a run without it is skipped (read_runs)
            float(probe["fast"][task])
        return cls(run.root, config.data.dataset, config.views.kind, config.data.overlay_strength,
                   config.views.dropout.p, config.train.seed, probe, config.data.augmentation,
                   f"{config.train.encoder}-{config.train.width}")


def find_runs(root: str | Path, *, strict: bool = False) -> list[DeepRun]:
    """All finished runs under ``root/<dataset>/<method>/<setting>/seed<k>/``, sorted.

    A run whose files cannot be read is skipped with a warning (figures), or with ``strict`` (tables)
    raises :class:`~paper_figures.io.UnreadableRun`.

    Raises:
        MissingResults: no finished run (no ``probe.json`` with a ``config.json`` beside it).
    """
    root = Path(root)
    runs = read_runs(find_run_folders(root, "*/*/*/seed*/probe.json"), DeepRun.read, strict=strict)
    if not runs:
        raise MissingResults(root / "<dataset>/<method>/os<s>_p<p>/seed<k>/probe.json", HINT)
    return sorted(runs, key=lambda r: (r.dataset, r.method, r.overlay_strength, r.dropout_p, r.seed))


def runs_by_seed(runs: list[DeepRun], what: str) -> dict[int, DeepRun]:
    """``runs`` by seed, in seed order; a seed twice (e.g. expert runs whose unused dropout p differs) is an
    error naming both folders: a table never averages a seed twice."""
    out: dict[int, DeepRun] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if run.seed in out:
            raise ValueError(f"two runs of one {what} and seed: {out[run.seed].folder} and {run.folder}")
        out[run.seed] = run
    return out


def _grid(ncols: int, nrows: int, **kw: Any) -> tuple[Figure, np.ndarray]:
    """:func:`new_figure` with the axes always as an ``(nrows, ncols)`` array."""
    fig, axes = new_figure(ncols, nrows, **kw)
    return fig, np.asarray(axes, dtype=object).reshape(nrows, ncols)


def _folders(runs: list[DeepRun]) -> str:
    return ";".join(str(r.folder) for r in runs)


@dataclass(frozen=True)
class DeepFigureConfig:
    """Which runs a deep figure compares.

    Attributes:
        protocol: final probe read from ``probe.json`` (``fast``: logistic regression on clean
            pooled features, always present; ``paper``: the paper's SGD probe).
        overlay_strength, dropout_p: the setting at which methods are compared (the paper's:
            overlay strength 1; ``dropout_p`` only matters for the dropout method).
    """

    protocol: str = "fast"
    overlay_strength: float = 1.0
    dropout_p: float = 0.5


def _config(quick: bool) -> DeepFigureConfig:
    return DeepFigureConfig()


def _at_setting(runs: list[DeepRun], config: DeepFigureConfig) -> list[DeepRun]:
    return [r for r in runs if np.isclose(r.overlay_strength, config.overlay_strength)
            and (r.method != "dropout" or np.isclose(r.dropout_p, config.dropout_p))]


def _method_order(runs: list[DeepRun]) -> list[str]:
    present = {r.method for r in runs}
    return [m for m in METHODS if m in present] + sorted(present - set(METHODS))


# ---------------------------------------------------------------------------------------------
# Figure 4: final probe accuracy per method
# ---------------------------------------------------------------------------------------------
def probe_accuracy(runs: list[DeepRun], config: DeepFigureConfig) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 4: per dataset, final per-task probe accuracy (mean over seeds, 95 % t interval) per method.

    Rows: one per (dataset, method, task): ``mean``, ``std`` (ddof 1), ``ci_low`` / ``ci_high`` (the
    95 % t interval of the mean; NaN for one seed), ``n_seeds``, ``seeds``,
    ``protocol`` and the source run ``folders``.
    """
    chosen = _at_setting(runs, config)
    datasets = sorted({r.dataset for r in chosen})
    if not datasets:
        raise MissingResults(f"runs at overlay strength {config.overlay_strength:g}", HINT)
    fig, axes = _grid(len(datasets), 1, width=min(TEXT_WIDTH, 3.35 * len(datasets)), height=2.4)
    rows: list[dict[str, Any]] = []
    for ax, ds in zip(axes[0], datasets):
        methods = _method_order([r for r in chosen if r.dataset == ds])
        width = 0.8 / len(methods)
        for j, m in enumerate(methods):
            group = [r for r in chosen if r.dataset == ds and r.method == m]
            for t, task in enumerate(TASKS):
                values = [r.accuracy(config.protocol, task) for r in group]
                mean, std = summarize(values)
                t_int = paired_t(values)
                rows.append({"dataset": ds, "method": m, "task": task, "protocol": config.protocol,
                             "overlay_strength": config.overlay_strength,
                             "dropout_p": config.dropout_p if m == "dropout" else None,
                             "mean": mean, "std": std, "ci_low": t_int.low, "ci_high": t_int.high,
                             "n_seeds": len(group),
                             "seeds": ",".join(str(r.seed) for r in group), "folders": _folders(group)})
                x = t + (j - (len(methods) - 1) / 2) * width
                yerr = None if len(values) < 2 else [[mean - t_int.low], [t_int.high - mean]]
                ax.bar(x, mean, width * 0.92, yerr=yerr, color=METHOD_COLORS.get(m, "0.5"), capsize=2,
                       label=m if t == 0 else None, error_kw={"linewidth": 0.8})
        ax.set_xticks(range(len(TASKS)), [TASK_LABELS[t] for t in TASKS])
        ax.set_ylim(0, 1.18)  # headroom above accuracy 1 for the legend, so it never covers a bar
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel(f"{config.protocol} probe accuracy")
        ax.set_title(f"{ds}: mean over seeds, 95 % t interval\n({CAVEAT})", fontsize=6.5)
        ax.legend(loc="upper center", ncol=len(methods), fontsize=5.5, columnspacing=0.8, handlelength=1.2)
    return fig, rows


def _probe_draw(config: DeepFigureConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return probe_accuracy(find_runs(ctx.results), config)


# ---------------------------------------------------------------------------------------------
# Figure 5: fast probe over training
# ---------------------------------------------------------------------------------------------
def probe_over_time(runs: list[DeepRun], config: DeepFigureConfig) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 5: per-task fast-probe accuracy vs epoch (``metrics.jsonl``), per method.

    Thin lines: single seeds; thick: the mean over seeds at each epoch. Rows: one per (dataset,
    method, task, epoch) with ``mean``, ``std`` (ddof 1), ``n_seeds`` and source ``folders``.
    """
    chosen = [r for r in _at_setting(runs, config) if r.fast_probes()]
    datasets = sorted({r.dataset for r in chosen})
    if not datasets:
        raise MissingResults(Path("<run>/metrics.jsonl (fast_probe records)"), HINT)
    fig, axes = _grid(2, len(datasets), width=TEXT_WIDTH * 0.75, height=2.2 * len(datasets), sharey=True)
    rows: list[dict[str, Any]] = []
    for i, ds in enumerate(datasets):
        for m in _method_order([r for r in chosen if r.dataset == ds]):
            group = [r for r in chosen if r.dataset == ds and r.method == m]
            records = {r.folder: {rec["epoch"]: rec for rec in r.fast_probes()} for r in group}
            epochs = sorted({e for recs in records.values() for e in recs})
            for t, task in enumerate(TASKS):
                ax = axes[i, t]
                for r in group:
                    recs = records[r.folder]
                    ax.plot(sorted(recs), [recs[e][task] for e in sorted(recs)], color=METHOD_COLORS.get(m, "0.5"),
                            alpha=0.35, linewidth=0.7)
                means = []
                for e in epochs:
                    have = [r for r in group if e in records[r.folder]]
                    mean, std = summarize([records[r.folder][e][task] for r in have])
                    means.append(mean)
                    rows.append({"dataset": ds, "method": m, "task": task, "epoch": e, "mean": mean, "std": std,
                                 "n_seeds": len(have), "folders": _folders(have)})
                ax.plot(epochs, means, marker="o", markersize=3, color=METHOD_COLORS.get(m, "0.5"), label=m,
                        **SIMULATION)
                ax.set_title(f"{ds}: {TASK_LABELS[task]}".replace("\n", " "))
                ax.set_xlabel("epoch")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[i, 0].set_ylabel("fast probe accuracy")
    labelled: dict[str, Any] = {}
    for ax in axes.ravel():  # every method once, even where the first panel lacks some
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labelled.setdefault(label, handle)
    axes[0, 0].legend(labelled.values(), labelled.keys(), loc="best")
    fig.suptitle(f"fast probe during training ({CAVEAT})", fontsize=6.5)
    return fig, rows


def _over_time_draw(config: DeepFigureConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return probe_over_time(find_runs(ctx.results), config)


# ---------------------------------------------------------------------------------------------
# Figure 6: viewmaker views
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewmakerViewsConfig:
    """Grid of viewmaker views: ``images`` test images, ``views`` views each, differences x ``amplify``."""

    images: int = 4
    views: int = 3
    amplify: float = 5.0
    seed: int = 0


def _views_config(quick: bool) -> ViewmakerViewsConfig:
    return ViewmakerViewsConfig()


def _to_rgb(x: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` -> ``(H, W, 3)`` in [0, 1] (first three channels; grey for one)."""
    img = x[:3] if x.shape[0] >= 3 else np.repeat(x[:1], 3, axis=0)
    return np.clip(np.transpose(img, (1, 2, 0)), 0.0, 1.0)


def viewmaker_views(run: DeepRun, config: ViewmakerViewsConfig) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 6: test images, ``views`` viewmaker views of each and the amplified differences.

    The viewmaker is rebuilt from the run's ``config.json`` and loaded from ``checkpoint.pt``
    (``modules["viewmaker"]``, :meth:`RunFolder.load_viewmaker`); views are ``x + delta`` (pixel
    space), differences ``delta`` shown as ``0.5 + amplify * delta``. Rows: one per (image, view)
    with the test index, mean and max ``|delta|`` and the source run folder.
    """
    import torch

    from deep_experiments.data import build_dataset

    folder = RunFolder(run.folder)
    rc = folder.load_config()
    test_set = build_dataset(rc.data, "test", rc.train.seed)
    vm = folder.load_viewmaker()
    budget = vm.budget
    n = min(config.images, len(test_set))
    x = torch.stack([test_set[i][0] for i in range(n)]).float()
    gen = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        deltas = [vm.delta(x, gen) for _ in range(config.views)]
    cols = 1 + 2 * config.views
    fig, axes = _grid(cols, n, width=TEXT_WIDTH, height=TEXT_WIDTH / cols * n + 0.4)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        xi = x[i].numpy()
        axes[i, 0].imshow(_to_rgb(xi))
        for v, d in enumerate(deltas):
            di = d[i].numpy()
            axes[i, 1 + v].imshow(_to_rgb(xi + di))
            axes[i, 1 + config.views + v].imshow(_to_rgb(0.5 + config.amplify * di))
            rows.append({"image": i, "test_index": i, "view": v, "mean_abs_delta": float(np.abs(di).mean()),
                         "max_abs_delta": float(np.abs(di).max()), "budget": budget, "amplify": config.amplify,
                         "folder": str(run.folder)})
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("original")
    for v in range(config.views):
        axes[0, 1 + v].set_title(f"view {v + 1}")
        axes[0, 1 + config.views + v].set_title(f"$\\times{config.amplify:g}$ diff {v + 1}")
    fig.suptitle(f"viewmaker views ({run.dataset}, seed {run.seed}, epoch {run.probe.get('epoch')}; {CAVEAT})",
                 fontsize=6.5)
    return fig, rows


def _views_draw(config: ViewmakerViewsConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    candidates = [r for r in find_runs(ctx.results) if r.method == "viewmaker" and RunFolder(r.folder).has_viewmaker()]
    if not candidates:
        raise MissingResults(Path(ctx.results) / "<dataset>/viewmaker/<setting>/seed<k>/checkpoint.pt", HINT)
    best = min(candidates, key=lambda r: (r.dataset, abs(r.overlay_strength - 1.0), r.seed))
    return viewmaker_views(best, config)


# ---------------------------------------------------------------------------------------------
# Figure 6b: where the viewmaker spends its budget
# ---------------------------------------------------------------------------------------------
FOCUS_HINT = "python scripts/viewmaker_focus.py --results DIR (after the viewmaker runs), then --results DIR"


def viewmaker_focus(runs: list[DeepRun]) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 6b: per dataset, mean ``|delta|`` on the overlay's pixels over mean ``|delta|`` elsewhere.

    Reads each viewmaker run's ``viewmaker_focus.json`` (measured on full-overlay test images);
    bars: viewmakers trained with the overlay (strength 1), one point per seed; hollow circles: the
    same viewmakers at initialisation; triangles: viewmakers trained *without* the overlay
    (strength 0, where run) — the controls; a dashed line at 1 (a viewmaker blind to the overlay).
    Rows: one per (dataset, trained overlay strength) with ``mean``, ``std`` (ddof 1), ``n_seeds``,
    ``init_mean``/``init_std``, the overlay's share of pixels and of ``|delta|``, and the folders.
    """
    every = [(r, read_json(r.folder / FOCUS_FILE)) for r in runs
             if r.method == "viewmaker" and (r.folder / FOCUS_FILE).exists()]
    found = [(r, f) for r, f in every if r.overlay_strength > 0]
    untrained = [(r, f) for r, f in every if r.overlay_strength == 0]
    if not found:
        raise MissingResults(f"<dataset>/viewmaker/<setting>/seed<k>/{FOCUS_FILE}", FOCUS_HINT)
    datasets = sorted({r.dataset for r, _ in found})
    fig, axes = _grid(1, 1, width=min(TEXT_WIDTH, 1.4 + 1.1 * len(datasets)), height=2.2)
    ax = axes[0, 0]
    rows: list[dict[str, Any]] = []
    labels = {"control": "trained without the overlay", "init": "at initialisation"}  # each put on once
    for i, ds in enumerate(datasets):
        own = [(r, f) for r, f in untrained if r.dataset == ds]
        if own:
            controls = [float(f["ratio"]) for _, f in own]
            ax.plot([i - 0.42] * len(controls), controls, "^", markerfacecolor="none", color="black", markersize=3,
                    label=labels.pop("control", None))
            c_mean, c_std = summarize(controls)
            rows.append({"dataset": ds, "trained_overlay_strength": 0.0, "mean": c_mean, "std": c_std,
                         "n_seeds": len(own), "seeds": ",".join(str(r.seed) for r, _ in own),
                         "folders": _folders([r for r, _ in own])})
        group = [(r, f) for r, f in found if r.dataset == ds]
        ratios = [float(f["ratio"]) for _, f in group]
        mean, std = summarize(ratios)
        ax.bar(i, mean, 0.6, yerr=std, color=METHOD_COLORS.get("viewmaker", "0.5"), capsize=2, error_kw={"linewidth": 0.8})
        ax.plot([i] * len(ratios), ratios, "o", color="black", markersize=2.5)
        init = [float(f["init_ratio"]) for _, f in group if "init_ratio" in f]
        init_mean, init_std = summarize(init) if init else (float("nan"), float("nan"))
        if init:
            ax.plot([i + 0.42] * len(init), init, "o", markerfacecolor="none", color="black", markersize=2.5,
                    label=labels.pop("init", None))
        rows.append({"dataset": ds, "trained_overlay_strength": group[0][0].overlay_strength, "mean": mean, "std": std,
                     "n_seeds": len(group), "init_mean": init_mean, "init_std": init_std,
                     "seeds": ",".join(str(r.seed) for r, _ in group),
                     "overlay_fraction": float(np.mean([f["overlay_fraction"] for _, f in group])),
                     "overlay_share": float(np.mean([f["overlay_share"] for _, f in group])),
                     "images": group[0][1]["images"], "views": group[0][1]["views"], "folders": _folders([r for r, _ in group])})
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=0.8)
    if len(labels) < 2:  # something labelled
        ax.legend(loc="upper left", fontsize=5.5)
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylim(0, None)
    ax.set_ylabel("mean |delta| on overlay /\nmean |delta| elsewhere")
    ax.set_title(f"where the viewmaker perturbs (1 = blind to the overlay)\n({CAVEAT})", fontsize=6.5)
    return fig, rows


def _focus_draw(config: DeepFigureConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return viewmaker_focus(find_runs(ctx.results))


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("deep_probe_accuracy", "deep runs: final per-task probe accuracy per method (mean, 95 % t interval)",
               _config, _probe_draw, hint=HINT),
    FigureSpec("deep_probe_over_time", "deep runs: per-task fast-probe accuracy vs epoch (metrics.jsonl)",
               _config, _over_time_draw, hint=HINT),
    FigureSpec("viewmaker_views", "deep runs: test images, viewmaker views and amplified differences",
               _views_config, _views_draw, hint=HINT),
    FigureSpec("viewmaker_focus", "deep runs: viewmaker |delta| on the overlay's pixels over elsewhere, per dataset",
               _config, _focus_draw, hint=FOCUS_HINT),
)
