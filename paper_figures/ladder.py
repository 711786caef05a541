"""Figure ``deep_ladder``: suppression and its rescue along the augmentation ladder, crop-only to SimCLR.

Reads ``RESULTS/<step>/<dataset>/<method>/os<s>_p<p>/seed<k>/`` for every step folder under the
results root (the step is read from each run's config, ``data.augmentation``, not from the folder
name; a folder may be a symbolic link to another results root, e.g. the crop-only runs of the claim).
Per step and paired by seed (as :mod:`paper_figures.suppression`)::

    suppression = full_overlay.task_a(no-overlay control) - full_overlay.task_a(expert)
    rescue      = full_overlay.task_a(dropout p 0.5)      - full_overlay.task_a(expert)

each with its paired 95 % t interval and a two-sided p-value Holm-corrected over every difference
of the table. Beside them, the expert encoder's overlay-task accuracy (task B on full-overlay
images) and, when ``RESULTS/overlay_shortcut.json`` exists (``scripts/overlay_shortcut.py``), how
well the overlay's colour alone pairs the two views of an image under the step's views (retrieval
accuracy among a batch): the shortcut that suppression needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from deep_experiments.data.spec import LADDER_POLICIES
from paper_figures.deep import DeepRun, find_runs, runs_by_seed
from paper_figures.io import read_json
from paper_figures.registry import FigureContext, FigureSpec, MissingResults
from paper_figures.stats import paired_t
from paper_figures.style import METHOD_COLORS, TEXT_WIDTH, new_figure
from paper_figures.suppression import ci_error, difference_summary, paired_differences, with_holm

__all__ = ["LADDER_STEPS", "LadderConfig", "ladder_runs", "ladder_rows", "FIGURES"]

LADDER_STEPS: tuple[str, ...] = ("crop_only", *LADDER_POLICIES, "simclr")
"""The steps in order: crop-only, the ladder policies, the full SimCLR policy."""

SHORTCUT_FILE = "overlay_shortcut.json"
HINT = ("OMP_NUM_THREADS=1 python scripts/deep_cpu_grid.py --preset cpu --datasets c+letters --methods expert dropout "
        "--strengths 0 --dropouts 0.5 --augmentations crop_jitter_half crop_jitter crop_jitter_grey simclr --out DIR "
        "--extra --data-dir .data --test-overlay-draws 5, then --results DIR")


@dataclass(frozen=True)
class LadderConfig:
    """``dataset``: the dataset whose ladder is drawn; ``dropout_p``: the dropout runs compared."""

    dataset: str = "c+letters"
    dropout_p: float = 0.5


def ladder_runs(root: str | Path, *, strict: bool = False) -> list[DeepRun]:
    """Every finished run under ``root/<step>/`` (each step folder a :func:`find_runs` root; ``strict`` as there).

    Raises:
        MissingResults: no step folder holds a finished run.
    """
    root = Path(root)
    runs: list[DeepRun] = []
    for step in sorted(p for p in root.glob("*") if p.is_dir()):
        try:
            runs += find_runs(step, strict=strict)
        except MissingResults:
            continue
    if not runs:
        raise MissingResults(root / "<step>/<dataset>/<method>/os<s>_p<p>/seed<k>/probe.json", HINT)
    return runs


def _step(run: DeepRun) -> str:
    return run.augmentation or "simclr"


def _full_a(run: DeepRun) -> float:
    return float(run.probe["fast"]["full_overlay"]["task_a"])


def _mean(values: list[float]) -> dict[str, float]:
    t = paired_t(values)
    return {"mean": t.mean, "ci_low": t.low, "ci_high": t.high, "n": t.n}


def ladder_rows(runs: list[DeepRun], config: LadderConfig, shortcut: dict[str, float] | None = None
                ) -> list[dict[str, Any]]:
    """One row per step that has expert runs: accuracies, suppression and rescue (Holm over the table)."""
    chosen = [r for r in runs if r.dataset == config.dataset and "full_overlay" in r.probe["fast"]
              and (r.method != "dropout" or np.isclose(r.dropout_p, config.dropout_p))]
    rows: list[dict[str, Any]] = []
    steps = [s for s in LADDER_STEPS if any(_step(r) == s for r in chosen)]
    steps += sorted({_step(r) for r in chosen} - set(steps))
    for index, step in enumerate(steps):
        here = [r for r in chosen if _step(r) == step]
        expert = runs_by_seed([r for r in here if r.method == "expert" and r.overlay_strength == 1], "step's expert")
        if not expert:
            continue
        control = runs_by_seed([r for r in here if r.method == "expert" and r.overlay_strength == 0], "step's control")
        dropout = runs_by_seed([r for r in here if r.method == "dropout" and r.overlay_strength == 1], "step's dropout")
        full = {s: _full_a(r) for s, r in expert.items()}
        row: dict[str, Any] = {"step": step, "index": index, "dataset": config.dataset,
                               "seeds": ",".join(map(str, sorted(expert))),
                               "expert_a": _mean(list(full.values())),
                               "expert_b": _mean([float(r.probe["fast"]["full_overlay"]["task_b"]) for r in expert.values()]),
                               "shortcut_retrieval": (shortcut or {}).get(step, float("nan"))}
        if control:
            row["control_a"] = _mean([_full_a(r) for r in control.values()])
        if dropout:
            row["dropout_a"] = _mean([_full_a(r) for r in dropout.values()])
        for quantity, other in (("suppression", control), ("rescue", dropout)):  # other - expert, by seed
            seeds, diffs = paired_differences(full, {s: _full_a(r) for s, r in other.items()})
            if seeds:
                row[quantity] = {**difference_summary(diffs), "seeds": ",".join(map(str, seeds))}
        rows.append(row)
    return _holm_rows(rows)


def _holm_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm over every suppression and rescue of the table; each gets ``p_holm`` and ``significant``."""
    cells = [(i, q) for i, row in enumerate(rows) for q in ("suppression", "rescue") if q in row]
    corrected = with_holm([rows[i][q] for i, q in cells])
    for (i, q), cell in zip(cells, corrected):
        rows[i][q] = cell
    return rows


def read_shortcut(root: Path) -> dict[str, float] | None:
    """Retrieval accuracy per policy from ``root/overlay_shortcut.json``, or None without that file."""
    path = root / SHORTCUT_FILE
    if not path.exists():
        return None
    data = read_json(path)
    return {row["policy"]: float(row["retrieval"]) for row in data["rows"]}


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as flat records (CSV/JSON beside the figure)."""
    out = []
    for row in rows:
        flat = {k: v for k, v in row.items() if not isinstance(v, dict)}
        for key in ("expert_a", "expert_b", "control_a", "dropout_a", "suppression", "rescue"):
            for field, value in row.get(key, {}).items():
                flat[f"{key}_{field}"] = value
        out.append(flat)
    return out


def _draw(config: LadderConfig, ctx: FigureContext) -> tuple[Figure, list[dict[str, Any]]]:
    root = Path(ctx.results)
    rows = ladder_rows(ladder_runs(root), config, read_shortcut(root))
    if not rows:
        raise MissingResults(root / f"<step>/{config.dataset}/expert/os1_p<p>/seed<k>/probe.json", HINT)
    fig, axes = new_figure(2, 1, width=TEXT_WIDTH, height=2.4)
    left, right = np.atleast_1d(axes)
    x = np.arange(len(rows))
    for offset, quantity, colour in ((-0.1, "suppression", METHOD_COLORS.get("expert", "0.4")),
                                     (0.1, "rescue", METHOD_COLORS.get("dropout", "0.2"))):
        for xi, row in zip(x, rows):
            if quantity not in row:
                continue
            cell = row[quantity]
            left.errorbar(xi + offset, cell["mean"], yerr=ci_error(cell), fmt="o", color=colour, markersize=3,
                          capsize=2, linewidth=0.8, label=quantity if xi == x[0] else None)
            if cell["significant"]:
                left.annotate("*", (xi + offset, cell["ci_high"]), ha="center", va="bottom", fontsize=7)
    left.axhline(0, color="0.3", linewidth=0.6)
    left.set_ylabel("task-A accuracy difference\n(mean, paired 95 % CI; * Holm)")
    right.plot(x, [r["expert_b"]["mean"] for r in rows], "o-", color=METHOD_COLORS.get("expert", "0.4"),
               markersize=3, label="overlay task, expert encoder")
    if any(np.isfinite(r["shortcut_retrieval"]) for r in rows):
        right.plot(x, [r["shortcut_retrieval"] for r in rows], "s--", color="0.5", markersize=3,
                   label="partner view retrieved by overlay colour")
    right.set_ylim(0, 1)
    right.set_ylabel("accuracy")
    for ax in (left, right):
        ax.set_xticks(x, [r["step"].replace("_", " ") for r in rows], rotation=30, ha="right", fontsize=6)
        ax.legend(fontsize=6)
    fig.suptitle(f"{config.dataset}: views from crop-only to SimCLR", fontsize=7)
    return fig, flat_rows(rows)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("deep_ladder", "deep runs: suppression and rescue along the augmentation ladder (crop-only to SimCLR)",
               lambda quick: LadderConfig(), _draw, hint=HINT),
)
