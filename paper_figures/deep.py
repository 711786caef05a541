"""Figures of the deep arm, read from run folders of ``deep_experiments`` (figures 4-7).

The results root (``FigureContext.results``, ``--results DIR``) holds run folders laid out as
``DIR/<dataset>/<method>/os<overlay_strength>_p<dropout_p>/seed<k>/`` (what
``scripts/deep_cpu_grid.py`` writes). Each folder is read through its own files only, by
:class:`deep_experiments.run.folder.RunFolder`: ``config.json`` (dataset, method = kind of views,
overlay strength, dropout p, seed - the folder name is not trusted; older formats migrated),
``probe.json`` (final accuracies ``{"fast": {"task_a", "task_b"}, ["paper": ...]}``),
``metrics.jsonl`` (records ``{"kind": "fast_probe", "epoch", "task_a", "task_b"}``) and, for the
viewmaker views, ``checkpoint.pt``. Task A is the base image's class, task B the overlay's.

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
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from deep_experiments.run.folder import RunFolder
from deep_experiments.run.folder import find_runs as find_run_folders
from deep_experiments.views import METHODS
from linear_theory.two_block import TwoBlock
from paper_figures.io import read_runs
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import summarize
from paper_figures.style import CLOSED_FORM, METHOD_COLORS, SIMULATION, TEXT_WIDTH, new_figure, task_color

__all__ = ["DeepRun", "find_runs", "DeepFigureConfig", "TheoryVsDeepConfig", "linear_prediction",
           "FIGURES"]

TASKS = ("task_a", "task_b")
TASK_LABELS = {"task_a": "task A (base image)", "task_b": "task B (overlay)"}
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
                   config.views.dropout.p, config.train.seed, probe)


def find_runs(root: str | Path) -> list[DeepRun]:
    """All finished runs under ``root/<dataset>/<method>/<setting>/seed<k>/``, sorted.

    Raises:
        MissingResults: no finished run (no ``probe.json`` with a ``config.json`` beside it).
    """
    root = Path(root)
    runs = read_runs(find_run_folders(root, "*/*/*/seed*/probe.json"), DeepRun.read)
    if not runs:
        raise MissingResults(root / "<dataset>/<method>/os<s>_p<p>/seed<k>/probe.json", HINT)
    return sorted(runs, key=lambda r: (r.dataset, r.method, r.overlay_strength, r.dropout_p, r.seed))


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
    """Figure 4: per dataset, final per-task probe accuracy (mean +- std over seeds) per method.

    Rows: one per (dataset, method, task): ``mean``, ``std`` (ddof 1), ``n_seeds``, ``seeds``,
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
                mean, std = summarize([r.accuracy(config.protocol, task) for r in group])
                rows.append({"dataset": ds, "method": m, "task": task, "protocol": config.protocol,
                             "overlay_strength": config.overlay_strength,
                             "dropout_p": config.dropout_p if m == "dropout" else None,
                             "mean": mean, "std": std, "n_seeds": len(group),
                             "seeds": ",".join(str(r.seed) for r in group), "folders": _folders(group)})
                x = t + (j - (len(methods) - 1) / 2) * width
                ax.bar(x, mean, width * 0.92, yerr=std, color=METHOD_COLORS.get(m, "0.5"), capsize=2,
                       label=m if t == 0 else None, error_kw={"linewidth": 0.8})
        ax.set_xticks(range(len(TASKS)), [TASK_LABELS[t] for t in TASKS])
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{config.protocol} probe accuracy")
        ax.set_title(f"{ds}: mean $\\pm$ std over seeds\n({CAVEAT})", fontsize=6.5)
        ax.legend(loc="upper right", ncol=len(methods))
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
                ax.set_title(f"{ds}: {TASK_LABELS[task]}")
                ax.set_xlabel("epoch")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[i, 0].set_ylabel("fast probe accuracy")
    axes[0, 0].legend(loc="best")
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
    candidates = [r for r in find_runs(ctx.results) if r.method == "viewmaker" and (r.folder / "checkpoint.pt").exists()]
    if not candidates:
        raise MissingResults(Path(ctx.results) / "<dataset>/viewmaker/<setting>/seed<k>/checkpoint.pt", HINT)
    best = min(candidates, key=lambda r: (r.dataset, abs(r.overlay_strength - 1.0), r.seed))
    return viewmaker_views(best, config)


# ---------------------------------------------------------------------------------------------
# Figure 7: deep runs against the linear theory
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoryVsDeepConfig:
    """The linear two-block model the deep runs are set against, and the mapping between them.

    Mapping (documented in :func:`theory_vs_deep`): the overlay is the strong block 1 (deep
    task B), the base photo the weak block 2 (deep task A) of ``setting``; ``s_1 = strong_strength *
    overlay_strength``, ``s_2 = weak_strength``, so overlay strength 1 is the reference ratio
    ``s_2/s_1 = weak_strength / strong_strength`` (1/3, theory.md) and the ratio scales as
    ``1 / overlay_strength``; feature dropout ``p`` on the overlay is dropout ``p_1`` on block 1.
    """

    protocol: str = "fast"
    setting: TwoBlock = TwoBlock()
    rep_dim: int = 4
    points: int = 201


def _theory_config(quick: bool) -> TheoryVsDeepConfig:
    return TheoryVsDeepConfig()


def linear_prediction(config: TheoryVsDeepConfig, overlay_strength: np.ndarray | float,
                      dropout: np.ndarray | float) -> np.ndarray:
    """Closed-form sign-task accuracy ``(..., 2)`` of (block 1 = overlay, block 2 = base photo).

    ``s_1 = strong_strength * overlay_strength``, ``s_2 = weak_strength``, dropout on block 1;
    :meth:`linear_theory.two_block.TwoBlock.predict` (eigenvalues -> capacity allocation -> probe
    ``R^2`` -> ``1/2 + arcsin(sqrt(R^2))/pi``).
    """
    strong = config.setting.strong_strength * np.asarray(overlay_strength, dtype=float)
    return config.setting.predict(dropout, config.rep_dim, strong=strong).probe_accuracy


def _normalized(acc: float, chance: float) -> float:
    return (acc - chance) / (1.0 - chance)


def theory_vs_deep(runs: list[DeepRun], config: TheoryVsDeepConfig) -> tuple[Figure, list[dict[str, Any]]]:
    """Figure 7: deep task-A/B accuracy vs overlay strength (expert) and vs dropout p, with the linear model.

    Both are drawn as accuracy above chance, ``(acc - chance) / (1 - chance)`` (deep chance:
    ``1 / classes`` of the task; linear sign task: 1/2), on the same axes. Mapping: overlay =
    strong block 1 (task B), base photo = weak block 2 (task A); ``s_1 = 3 * overlay_strength``,
    ``s_2 = 1`` (strength 1 <-> ratio ``s_2/s_1 = 1/3``, theory.md's reference; the ratio scales as
    ``1/overlay_strength``); dropout p on the overlay <-> ``p_1``; ``k = r_1 = 4``. Left: expert
    runs (no dropout) over overlay strength; right: dropout runs at overlay strength 1 over p.
    The deep numbers are CPU-sized runs (see results/README.md), not the paper's runs.

    Rows: ``panel`` ``overlay``/``dropout``, ``source`` ``deep`` (``dataset``, ``task``, ``x``,
    raw ``mean``/``std`` over seeds, ``chance``, ``normalized``, ``folders``) or ``closed_form``
    (``x``, ``task``, ``accuracy``, ``normalized``).
    """
    from deep_experiments.data import DataConfig, dataset_spec

    panels = {
        "overlay": ([r for r in runs if r.method == "expert"], lambda r: r.overlay_strength, "overlay strength"),
        "dropout": ([r for r in runs if r.method == "dropout" and np.isclose(r.overlay_strength, 1.0)],
                    lambda r: r.dropout_p, "feature dropout $p$ on the overlay ($p_1$)"),
    }
    if not any(group for group, _, _ in panels.values()):
        raise MissingResults("expert or dropout runs under the results root", HINT)
    fig, axes = new_figure(2, width=TEXT_WIDTH, height=2.6, sharey=True)
    rows: list[dict[str, Any]] = []
    for ax, (panel, (group, key, label)) in zip(axes, panels.items()):
        xs = sorted({key(r) for r in group})
        hi = max(xs + [1.0])
        grid = np.linspace(0.0, hi if panel == "overlay" else 0.99, config.points)
        pred = linear_prediction(config, grid, 0.0) if panel == "overlay" else linear_prediction(config, 1.0, grid)
        # deep task B = overlay = linear block 1; deep task A = base photo = linear block 2
        for task, block in (("task_b", 0), ("task_a", 1)):
            color = task_color(block)
            ax.plot(grid, [_normalized(a, 0.5) for a in pred[:, block]], color=color, **CLOSED_FORM)
            rows += [{"panel": panel, "source": "closed_form", "task": task, "block": block + 1, "x": float(x),
                      "accuracy": float(a), "normalized": _normalized(float(a), 0.5)}
                     for x, a in zip(grid, pred[:, block])]
            for ds in sorted({r.dataset for r in group}):
                spec = dataset_spec(DataConfig(dataset=ds))
                chance = 1.0 / (spec.num_classes_a if task == "task_a" else spec.num_classes_b)
                means, stds = [], []
                for x in xs:
                    at = [r for r in group if r.dataset == ds and np.isclose(key(r), x)]
                    if not at:
                        continue
                    mean, std = summarize([r.accuracy(config.protocol, task) for r in at])
                    means.append((x, _normalized(mean, chance)))
                    stds.append(std / (1.0 - chance))
                    rows.append({"panel": panel, "source": "deep", "dataset": ds, "task": task, "block": block + 1,
                                 "x": x, "mean": mean, "std": std, "n_seeds": len(at), "chance": chance,
                                 "normalized": _normalized(mean, chance), "protocol": config.protocol,
                                 "folders": _folders(at)})
                if means:
                    mx, my = zip(*means)
                    ax.errorbar(mx, my, yerr=stds, color=color, marker="o", markersize=3.5, capsize=2, **SIMULATION)
        ax.set_xlabel(label)
        ax.axhline(0.0, color="0.7", linewidth=0.5)
    axes[0].set_ylabel("accuracy above chance\n(acc - chance)/(1 - chance)")
    axes[0].set_title("(a) expert views, overlay strength $o$ ($s_2/s_1 = 1/(3o)$)")
    axes[1].set_title("(b) feature dropout at overlay strength 1 ($s_2/s_1 = 1/3$)")
    handles = [Line2D([], [], color=task_color(0), label="task B / block 1 (overlay, strong)"),
               Line2D([], [], color=task_color(1), label="task A / block 2 (photo, weak)"),
               Line2D([], [], color="0.3", marker="o", markersize=3.5, **SIMULATION, label="deep runs (mean ± std)"),
               Line2D([], [], color="0.3", **CLOSED_FORM, label=f"linear closed form ($k = {config.rep_dim}$)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=6)
    fig.suptitle(f"deep runs vs linear theory (deep: {CAVEAT})", fontsize=7)
    return fig, rows


def _theory_draw(config: TheoryVsDeepConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    return theory_vs_deep(find_runs(ctx.results), config)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("deep_probe_accuracy", "deep runs: final per-task probe accuracy per method (mean +- std over seeds)",
               _config, _probe_draw, hint=HINT),
    FigureSpec("deep_probe_over_time", "deep runs: per-task fast-probe accuracy vs epoch (metrics.jsonl)",
               _config, _over_time_draw, hint=HINT),
    FigureSpec("viewmaker_views", "deep runs: test images, viewmaker views and amplified differences",
               _views_config, _views_draw, hint=HINT),
    FigureSpec("theory_vs_deep", "deep accuracy vs overlay strength and dropout p against the linear closed form",
               _theory_config, _theory_draw, hint=HINT),
)
