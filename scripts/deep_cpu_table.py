"""Print deep CPU results as the README's markdown table (mean +- std over seeds, paired differences).

::

    python scripts/deep_cpu_table.py results/claim-cpu --dataset c+letters
    python scripts/deep_cpu_table.py results/audio-cpu/cpu-protocol --dataset audio
    python scripts/deep_cpu_table.py results/claim-cpu --dataset c+digits --sweeps
    python scripts/deep_cpu_table.py results/claim5-cpu --add results/viewmaker-cpu --dataset c+letters
    python scripts/deep_cpu_table.py results/hierarchical-cpu --dataset c+digits randbit --versus-expert

Reads every finished run of ``--dataset`` under ``ROOT/<dataset>/<method>/os<s>_p<p>/seed<k>/``
(``paper_figures.deep.find_runs``). Rows: the no-overlay control (expert views at overlay strength
0), then each method at strength 1 (dropout at p 0.5 only), each followed by its own no-overlay
run where there is one (the viewmaker's). Columns: the fast probe's task A accuracy on full-overlay
and on overlay-free test images (the probe's ``full_overlay`` and ``overlay_free`` controls; audio:
noisy and clean clips), its task B accuracy on full-overlay images, and, paired by seed
(``paper_figures.suppression.suppression_rows``), suppression (control minus run, task A on
full-overlay images: occlusion cancels), the overlay-free gap (control minus run, overlay-free
images), rescue (run minus expert, full-overlay images) and own-views suppression (the method's own
no-overlay run minus the run). Accuracy cells are the mean over seeds with the 95 % t interval of
the mean; difference cells are the mean of the per-seed differences with their paired 95 % t
interval (``paper_figures.stats.paired_t``), and a ``*`` marks a difference whose two-sided p-value
survives Holm's correction over every difference cell of the table (family-wise 5 %). A single
seed is printed as such, without an interval. When the probes averaged several test-overlay draws
(``--test-overlay-draws``), a line under the table gives the spread of a run's probe over its draws.

``--add ROOT2 ...`` joins further roots' runs to ROOT's in the main table (e.g. the viewmaker's runs beside
expert views' of the same code revision): every run must record one code revision in its ``provenance.json``,
and a seed found twice in one row is refused.

``--sweeps`` prints the sweeps instead: expert views at every overlay strength, then dropout at every
overlay strength below 1 (the strength sweep), then dropout at strength 1 at every p (the p sweep),
one row per (views, strength, p) (expert rows ignore p), with task A on full-overlay and
overlay-free images, task B on the run's own images, and dropout's rescue over expert views at the
same strength, paired by seed (``n=k`` when only k of the row's seeds have an expert run to pair with).

``--versus-expert`` prints the method comparison of the hierarchical section instead, for one or more
datasets: per dataset the no-overlay control, then each method at strength 1 (dropout at p 0.5),
with task A on full-overlay and overlay-free images, the overlay task (per bit, ``task_b_bits``,
where the probe has it: RandBit) and each method's difference from expert views on both kinds of
images (run minus expert, paired by seed; ``n=k`` when only k of the row's seeds have an expert run).

``--contrasts`` prints the paired contrasts that separate the explanations, for one or more datasets:
suppression (control − expert), the overlay-free gap, sharing (de-shared − expert: the overlay present
in both views but drawn per view), presence (control − de-shared), rescue (dropout − expert) and dropout
against the control and against de-shared views; each mean with its paired 95 % t interval, Holm over
the whole table.

``--ladder`` prints the augmentation ladder of one dataset instead (``paper_figures.ladder``: ROOT holds one
results root per step, ``ROOT/<step>/<dataset>/...``): per step the no-overlay control, expert and dropout
task A on full-overlay images, suppression and dropout's rescue paired by seed, the expert encoder's
overlay task, and the partner-view retrieval by overlay colour when ``ROOT/overlay_shortcut.json`` exists.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from deep_experiments.data import DATASETS
from featuredrop.cli import OneLineParser, unique
from featuredrop.config import to_dict
from paper_figures import theory_vs_deep
from paper_figures.deep import find_runs, runs_by_seed
from paper_figures.io import UnreadableRun
from paper_figures.ladder import LadderConfig, ladder_rows, ladder_runs, read_shortcut
from paper_figures.registry import MissingResults
from paper_figures.stats import holm, interval_text, paired_t
from paper_figures.suppression import (
    ALPHA,
    SuppressionConfig,
    difference_summary,
    paired_differences,
    suppression_rows,
)

QUANTITIES = ("suppression", "overlay_free_gap", "rescue", "own_views_suppression")


Cell = str | dict
"""A table cell: text, or a paired difference (``difference_summary``) formatted once the table's Holm
correction is known (:func:`_render`)."""


def _difference_cell(row: dict, significant: bool) -> str:
    """A paired difference as ``mean [low, high]``, ``*`` when it survives the table's Holm correction."""
    text = interval_text(row["mean"], row["ci_low"], row["ci_high"], row["n_seeds"], signed=True)
    return text + (" *" if significant and row["n_seeds"] > 1 else "")


def _holm_marks(rows: list[list[Cell]]) -> dict[int, bool]:
    """``id(cell) -> significant`` for every difference cell of ``rows``, Holm-corrected together (the family)."""
    found = [cell for row in rows for cell in row if isinstance(cell, dict)]
    return {id(cell): p <= ALPHA for cell, p in zip(found, holm([cell["p_value"] for cell in found]))}


def _render(rows: list[list[Cell]]) -> list[str]:
    """Markdown lines of ``rows``; the difference cells Holm-corrected together (this table is the family)."""
    marks = _holm_marks(rows)
    out = []
    for row in rows:
        texts = [c if isinstance(c, str) else _difference_cell(c, marks[id(c)]) + c.get("suffix", "")
                 for c in row]
        out.append("| " + " | ".join(texts) + " |")
    return out


def _cell(values: list[float | None]) -> str:
    """Mean over seeds with the 95 % t interval of the mean (one seed: the value alone; "—" if any is missing)."""
    if any(v is None or not np.isfinite(v) for v in values):
        return "—"
    t = paired_t(values)
    return interval_text(t.mean, t.low, t.high, t.n)


def draw_spread(runs: list) -> str:  # noqa: ANN001
    """One line on how much the test-overlay draw alone moves a run's task-A probe (full overlay), or ""."""
    drawn = [r.probe["fast"]["full_overlay"]["draws"]["task_a"] for r in runs
             if len(r.probe["fast"].get("full_overlay", {}).get("draws", {}).get("task_a", [])) > 1]
    if not drawn:
        return ""
    spreads = [float(np.std(d, ddof=1)) for d in drawn]
    counts = sorted({len(d) for d in drawn})
    many = " or ".join(map(str, counts))
    alone = len(runs) - len(drawn)
    return (f"Test-overlay draws: {len(drawn)} runs' probe numbers are means over {many} draws of the test overlays"
            + (f" ({alone} runs: one draw)" if alone else "") + "; over them one run's task A (full overlay) has a "
            f"standard deviation of {np.mean(spreads):.4f} on average (largest {max(spreads):.4f}).")


def _method_groups(runs: list, own_controls: bool) -> list[tuple[str, list]]:  # noqa: ANN001
    """(row label, runs) in table order: the no-overlay control (expert views at strength 0), then each
    method at strength 1, expert first; with ``own_controls``, each other method's own strength-0 runs after it."""
    groups = [("no-overlay control (expert)", [r for r in runs if r.method == "expert" and r.overlay_strength == 0])]
    for method in sorted({r.method for r in runs}, key=lambda m: (m != "expert", m)):
        label = {"dropout": "dropout p 0.5", "deshared": "de-shared overlays"}.get(method, method)
        groups.append((label, [r for r in runs if r.method == method and r.overlay_strength == 1]))
        if own_controls and method != "expert":
            groups.append((f"{label}, no overlay", [r for r in runs if r.method == method and r.overlay_strength == 0]))
    return groups


def code_revision(folder: Path) -> str:
    """The code revision a run folder's ``provenance.json`` records (``scripts/collect_runs.py`` writes it).

    Raises:
        ValueError: no provenance file, or one without a revision.
        UnreadableRun: a provenance file that is not a JSON object.
    """
    prov = folder / "provenance.json"
    if not prov.is_file():
        raise ValueError(f"{folder}: no provenance.json (code revision unknown); roots are joined only when every "
                         f"run records its revision")
    try:
        data = json.loads(prov.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnreadableRun(f"{prov}: unreadable ({err})") from err
    if not isinstance(data, dict):
        raise UnreadableRun(f"{prov}: not a JSON object")
    revision = data.get("code_revision")
    if not isinstance(revision, str) or not revision.strip():
        raise ValueError(f"{prov}: no code_revision; roots are joined only when every run records its revision")
    return revision.strip()


def _table_runs(found: list, dataset: str) -> list:  # noqa: ANN001
    """The runs the main table of ``dataset`` reads (dropout at p 0.5 only)."""
    return [r for r in found if r.dataset == dataset and (r.method != "dropout" or r.dropout_p == 0.5)]


def one_revision_runs(roots: Sequence[str], dataset: str) -> list:
    """The main table's runs of ``dataset`` under ``roots`` (``find_runs``, strict), when every one of them names
    the same code revision (:func:`code_revision`; runs of other datasets are not read).

    Raises:
        ValueError: a run without a recorded revision, or two revisions: a table joining roots compares runs
            of one code revision only (revisions compare as recorded: give ``collect_runs.py`` one spelling).
    """
    runs = _table_runs([run for root in roots for run in find_runs(root, strict=True)], dataset)
    revisions: dict[str, str] = {}
    for run in runs:
        revisions.setdefault(code_revision(Path(run.folder)), str(run.folder))
    if len(revisions) > 1:
        named = ", ".join(f"{rev} ({folder})" for rev, folder in sorted(revisions.items()))
        raise ValueError(f"the roots' runs come from {len(revisions)} code revisions: {named}; one table compares "
                         f"runs of one revision")
    return runs


def table(root: str | Sequence[str], dataset: str = "audio") -> str:
    """The markdown table of ``dataset``'s runs under ``root`` (several roots: :func:`one_revision_runs`)."""
    roots = [root] if isinstance(root, str) else list(root)
    runs = (_table_runs(find_runs(roots[0], strict=True), dataset) if len(roots) == 1
            else one_revision_runs(roots, dataset))
    if not runs:
        raise MissingResults(" or ".join(f"{r}/{dataset}/<method>/os<s>_p<p>/seed<k>/probe.json" for r in roots))
    paired = {(row["method"], row["quantity"]): row for row in suppression_rows(runs, SuppressionConfig(0.5))}
    lines = ["| views | overlay | seeds | task A, full overlay | task A, overlay-free | task B, full overlay | "
             "suppression | overlay-free gap | rescue | own-views suppression |", "|---" * 10 + "|"]
    rows: list[list[Cell]] = []
    shown = []
    for label, group in _method_groups(runs, own_controls=True):
        if not group:
            continue
        group = _seed_ordered(group, "method")
        shown += group
        fast = [r.probe["fast"] for r in group]
        cells: list[Cell] = [label, f"{group[0].overlay_strength:g}", ",".join(str(r.seed) for r in group),
                             _cell([f["full_overlay"]["task_a"] for f in fast]),
                             _cell([f["overlay_free"]["task_a"] for f in fast]),
                             _cell([f["full_overlay"]["task_b"] for f in fast])]
        method = group[0].method
        for quantity in QUANTITIES:
            row = paired.get((method, quantity)) if group[0].overlay_strength == 1 else None
            cells.append("—" if row is None else row)
        rows.append(cells)
    spread = draw_spread(shown)
    return "\n".join(lines + _render(rows) + (["", spread] if spread else []))


def _full_overlay_a(run) -> float:  # noqa: ANN001
    """Task A of the fast probe on full-overlay images."""
    return run.probe["fast"]["full_overlay"]["task_a"]


def _seed_ordered(group: list, what: str) -> list:  # noqa: ANN001
    """``group`` in seed order, one run per seed (``paper_figures.deep.runs_by_seed``)."""
    return list(runs_by_seed(group, what).values())


def _paired_cell(reference: dict[int, float], values: dict[int, float]) -> Cell:
    """``values - reference`` paired by seed as a cell; ``(n=k)`` when only k of the row's seeds pair; "—" if none."""
    _, diffs = paired_differences(reference, values)
    if not diffs:
        return "—"
    cell = difference_summary(diffs)
    return {**cell, "suffix": f" (n={len(diffs)})"} if 1 < len(diffs) < len(values) else cell


def _sweep_cell(run) -> tuple[str, float, float | None]:  # noqa: ANN001
    """The row a sweep run belongs to: (views, strength, p); ``None`` p for expert views (they ignore it)."""
    return run.method, run.overlay_strength, None if run.method == "expert" else run.dropout_p


def sweep_table(root: str, dataset: str) -> str:
    """The markdown table of ``dataset``'s sweeps under ``root`` (``--sweeps``)."""
    runs = [r for r in find_runs(root, strict=True) if r.dataset == dataset and r.method in ("expert", "dropout")]
    if not runs:
        raise MissingResults(f"{root}/{dataset}/{{expert,dropout}}/os<s>_p<p>/seed<k>/probe.json")
    cells = sorted({_sweep_cell(r) for r in runs},
                   key=lambda c: (c[0] != "expert", c[1] == 1, c[2] if c[1] == 1 else c[1], c[1], c[2] or 0.0))
    lines = ["| views | overlay | dropout p | seeds | task A, full overlay | task A, overlay-free | task B, own images | "
             "rescue over expert |", "|---" * 8 + "|"]
    rows: list[list[Cell]] = []
    for method, strength, p in cells:
        group = _seed_ordered([r for r in runs if _sweep_cell(r) == (method, strength, p)], "sweep cell")
        fast = [r.probe["fast"] for r in group]
        rescue: Cell = "—"
        if method == "dropout":
            expert = {r.seed: _full_overlay_a(r) for r in runs if r.method == "expert" and r.overlay_strength == strength}
            rescue = _paired_cell(expert, {r.seed: _full_overlay_a(r) for r in group})  # dropout - expert
        rows.append([method, f"{strength:g}", "—" if p is None else f"{p:g}", ",".join(str(r.seed) for r in group),
                     _cell([f["full_overlay"]["task_a"] for f in fast]), _cell([f["overlay_free"]["task_a"] for f in fast]),
                     _cell([f["task_b"] for f in fast]), rescue])
    return "\n".join(lines + _render(rows))


def _overlay_task(fast: dict) -> float:
    """Task B on full-overlay images; RandBit's per-bit accuracy where the probe has it (``task_b_bits``, on
    the run's own images: full-overlay ones for the strength-1 rows this is called for)."""
    return fast.get("task_b_bits", fast["full_overlay"]["task_b"])


def versus_table(root: str, datasets: list[str]) -> str:
    """The markdown table comparing each method with expert views (``--versus-expert``)."""
    all_runs = find_runs(root, strict=True)
    lines = ["| dataset | views | seeds | task A, full overlay | task A, overlay-free | task B, full overlay (RandBit: per bit) | "
             "Δ full overlay | Δ overlay-free |", "|---" * 8 + "|"]
    rows: list[list[Cell]] = []
    for dataset in datasets:
        runs = [r for r in all_runs if r.dataset == dataset and (r.method != "dropout" or r.dropout_p == 0.5)]
        if not runs:
            raise MissingResults(f"{root}/{dataset}/<method>/os<s>_p<p>/seed<k>/probe.json")
        uncontrolled = [str(r.folder) for r in runs if "full_overlay" not in r.probe["fast"]]
        if uncontrolled:
            raise ValueError(f"probe without overlay controls (full_overlay / overlay_free): {uncontrolled[0]}")
        expert = {r.seed: r.probe["fast"] for r in _seed_ordered(
            [r for r in runs if r.method == "expert" and r.overlay_strength == 1], "method")}
        for label, group in _method_groups(runs, own_controls=False):
            if not group:
                continue
            group = _seed_ordered(group, "method")
            fast = {r.seed: r.probe["fast"] for r in group}
            cells: list[Cell] = [dataset, label, ",".join(map(str, fast)), _cell([f["full_overlay"]["task_a"] for f in fast.values()]),
                     _cell([f["overlay_free"]["task_a"] for f in fast.values()]),
                     "—" if group[0].overlay_strength == 0 else _cell([_overlay_task(f) for f in fast.values()])]
            for images in ("full_overlay", "overlay_free"):
                compared = group[0].overlay_strength == 1 and group[0].method != "expert"
                cells.append(_paired_cell({s: f[images]["task_a"] for s, f in expert.items()},  # run - expert
                                          {s: f[images]["task_a"] for s, f in fast.items()}) if compared else "—")
            rows.append(cells)
    return "\n".join(lines + _render(rows))


CONTRASTS: tuple[tuple[str, str, str, str, str], ...] = (
    # name, what it measures, minuend (runs), subtrahend (runs), images
    ("suppression", "the shared overlay's cost to the base task, occlusion cancelled", "control", "expert", "full_overlay"),
    ("overlay-free gap", "the same on overlay-free images", "control", "expert", "overlay_free"),
    ("sharing", "what de-sharing the overlay gives back", "deshared", "expert", "full_overlay"),
    ("presence", "the cost of an overlay present in both views but drawn per view", "control", "deshared",
     "full_overlay"),
    ("rescue", "feature dropout p 0.5 against expert views", "dropout", "expert", "full_overlay"),
    ("dropout beyond the control", "dropout against the encoder that never saw an overlay", "dropout", "control",
     "full_overlay"),
    ("dropout beyond de-sharing", "dropout against views that always carry an overlay drawn per view", "dropout",
     "deshared", "full_overlay"),
)
"""The paired contrasts of ``--contrasts``: (name, meaning, minuend, subtrahend, test images); runs are
``control`` (expert views at overlay strength 0), ``expert``, ``deshared``, ``dropout`` (p 0.5) at strength 1."""


def _contrast_groups(runs: list) -> dict[str, dict[int, dict]]:  # noqa: ANN001
    """seed -> fast probe of each run kind a contrast names."""
    kinds = {"control": lambda r: r.method == "expert" and r.overlay_strength == 0,
             "expert": lambda r: r.method == "expert" and r.overlay_strength == 1,
             "deshared": lambda r: r.method == "deshared" and r.overlay_strength == 1,
             "dropout": lambda r: r.method == "dropout" and r.overlay_strength == 1 and r.dropout_p == 0.5}
    return {kind: {r.seed: r.probe["fast"] for r in _seed_ordered([r for r in runs if keep(r)], kind)}
            for kind, keep in kinds.items()}


def _contrast_rows(all_runs: list, root: str, datasets: list[str]) -> list[list[Cell]]:  # noqa: ANN001
    """``[dataset, contrast, meaning, difference summary, seeds]`` per contrast that has paired runs (``all_runs``:
    the runs found under ``root``)."""
    rows: list[list[Cell]] = []
    for dataset in datasets:
        groups = _contrast_groups([r for r in all_runs if r.dataset == dataset])
        if not groups["expert"]:
            raise MissingResults(f"{root}/{dataset}/expert/os1_p0.5/seed<k>/probe.json")
        for name, meaning, minuend, subtrahend, images in CONTRASTS:
            a, b = groups[minuend], groups[subtrahend]
            seeds, diffs = paired_differences({s: f[images]["task_a"] for s, f in b.items()},
                                              {s: f[images]["task_a"] for s, f in a.items()})
            if not seeds:
                continue
            label = f"{meaning} ({minuend} − {subtrahend}, {images.replace('_', '-')} images)"
            rows.append([dataset, name, label, difference_summary(diffs), ",".join(map(str, seeds))])
    return rows


def contrast_table(root: str, datasets: list[str]) -> str:
    """The paired contrasts (``CONTRASTS``) of each dataset, Holm-corrected over the whole table (``--contrasts``)."""
    lines = ["| dataset | contrast | what it measures | difference (task A, paired) | seeds |", "|---" * 5 + "|"]
    return "\n".join(lines + _render(_contrast_rows(find_runs(root, strict=True), root, datasets)))


def _regime(all_runs: list, root: str, dataset: str) -> str:  # noqa: ANN001
    """The protocol of ``dataset``'s runs (of ``all_runs``, found under ``root``) in words (views, encoder, steps),
    from their configs."""
    from deep_experiments.data import dataset_spec
    from deep_experiments.run.folder import RunFolder

    runs = [r for r in all_runs if r.dataset == dataset]
    if not runs:
        raise MissingResults(f"{root}/{dataset}/<method>/os<s>_p<p>/seed<k>/probe.json")
    loaded = [RunFolder(r.folder).load_config() for r in runs]
    regimes = set()
    for c in loaded:  # what may differ between the runs of one regime: seed, method, overlay strength, dropout p
        c = replace(c, train=replace(c.train, seed=0), data=replace(c.data, overlay_strength=1.0),
                    views=type(c.views)())
        regimes.add(json.dumps(to_dict(c), sort_keys=True))
    if len(regimes) != 1:
        raise ValueError(f"{root}/{dataset}: the runs differ in more than seed, method, overlay strength and dropout "
                         f"p; no single regime")
    config = loaded[0]
    tc, data = config.train, config.data
    views = (data.augmentation or dataset_spec(data).expert_augmentation).replace("_", "-")
    steps = tc.epochs * (data.train_size // tc.batch_size) if data.train_size else None
    budget = f"{steps:,} steps of batch {tc.batch_size}" if steps else f"{tc.epochs} epochs"
    encoder = {"convn": "ConvN", "resnet18": "ResNet-18"}.get(tc.encoder, tc.encoder)
    base = {"fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "photos": "photo-crop"}.get(data.base_source,
                                                                                              data.base_source)
    return f"{base} base, {views} views, a {encoder} of width {tc.width} and {budget}"


def headline(root: str, datasets: list[str]) -> str:
    """One sentence per dataset: its regime and the suppression, rescue and sharing contrasts (``--headline``),
    with the intervals and Holm marks of the ``--contrasts`` table (the same family)."""
    runs = find_runs(root, strict=True)
    rows = _contrast_rows(runs, root, datasets)
    marks = _holm_marks(rows)
    sentences = []
    for dataset in datasets:
        mine = {row[1]: row for row in rows if row[0] == dataset}

        def said(name: str, mine: dict = mine) -> str:
            cell = mine[name][3]
            if cell["n_seeds"] == 1:
                return f"{cell['mean'] * 100:+.1f} points (1 seed)"
            mark = "significant after Holm" if marks[id(cell)] else "not significant after Holm"
            return (f"{cell['mean'] * 100:+.1f} points (95 % CI {cell['ci_low'] * 100:+.1f} to "
                    f"{cell['ci_high'] * 100:+.1f}, n = {cell['n_seeds']}, {mark})")

        parts = [f"the shared overlay costs the base task {said('suppression')} beyond occlusion"
                 if "suppression" in mine else None,
                 f"feature dropout (p 0.5) gives back {said('rescue')}" if "rescue" in mine else None,
                 f"drawing each view's overlay independently gives back {said('sharing')}" if "sharing" in mine else None]
        text = "; ".join(p for p in parts if p)
        name = "C+" + dataset[2:].capitalize() if dataset.startswith("c+") else dataset
        sentences.append(f"On {name} ({_regime(runs, root, dataset)}), {text}.")
    return "\n\n".join(sentences)


def _accuracy(cell: dict | None) -> str:
    """A ``paper_figures.ladder`` accuracy summary as a table cell."""
    return "—" if cell is None else interval_text(cell["mean"], cell["ci_low"], cell["ci_high"], cell["n"])


def ladder_table(root: str, dataset: str) -> str:
    """The markdown table of the augmentation ladder under ``root`` (``--ladder``)."""
    rows = ladder_rows(ladder_runs(root, strict=True), LadderConfig(dataset), read_shortcut(Path(root)))
    if not rows:
        raise MissingResults(f"{root}/<step>/{dataset}/expert/os1_p0.5/seed<k>/probe.json")
    lines = ["| views | seeds | control, task A | expert, task A | dropout, task A | suppression | rescue | "
             "overlay task (expert) | partner view by overlay colour |", "|---" * 9 + "|"]
    cells: list[list[Cell]] = []
    for row in rows:
        retrieval = row["shortcut_retrieval"]
        cells.append([row["step"], row["seeds"], _accuracy(row.get("control_a")), _accuracy(row["expert_a"]),
                      _accuracy(row.get("dropout_a")), row.get("suppression", "—"), row.get("rescue", "—"),
                      _accuracy(row["expert_b"]), "—" if np.isnan(retrieval) else f"{retrieval:.3f}"])
    return "\n".join(lines + _render(cells))


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints the table; 1 with a one-line reason when there is nothing to read, 2 naming a run
    whose files cannot be read (never a table with that seed silently left out)."""
    p = OneLineParser(prog="deep_cpu_table.py", description=__doc__.split("\n")[0])
    p.add_argument("root", help="results root (ROOT/<dataset>/<method>/...)")
    p.add_argument("--add", nargs="+", default=[], metavar="ROOT",
                   help="main table only: further results roots whose runs join ROOT's (e.g. the viewmaker's runs "
                        "beside expert views'); every run must record the same code revision (provenance.json)")
    p.add_argument("--dataset", nargs="+", default=["audio"], choices=DATASETS,
                   help="the dataset whose runs are tabled (default %(default)s; several only with --versus-expert)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sweeps", action="store_true",
                      help="print the overlay-strength and dropout-p sweeps instead of the main table")
    mode.add_argument("--versus-expert", action="store_true",
                      help="print each method against expert views, one block of rows per dataset")
    mode.add_argument("--contrasts", action="store_true",
                      help="print the paired contrasts (suppression, sharing, presence, rescue, ...) of each dataset")
    mode.add_argument("--headline", action="store_true",
                      help="print one sentence per dataset: its regime and the main contrasts")
    mode.add_argument("--ladder", action="store_true",
                      help="print the augmentation ladder (ROOT/<step>/<dataset>/...) instead")
    mode.add_argument("--theory", action="store_true",
                      help="print figure 7's tables: the linear models fitted on each expert strength sweep of "
                           "ROOT and their predictions against two nulls (--dataset ignored)")
    args = p.parse_args(argv)
    if len(args.dataset) > 1 and not (args.versus_expert or args.contrasts or args.headline or args.theory):
        p.error("several --dataset values need --versus-expert, --contrasts, --headline or --theory")
    unique(p, "--dataset", args.dataset)
    for root in [args.root, *args.add]:
        if not Path(root).is_dir():
            p.error(f"ROOT {root}: not a folder")
    if args.add and (args.sweeps or args.versus_expert or args.contrasts or args.headline or args.ladder or args.theory):
        p.error("--add joins roots for the main table only")
    unique(p, "ROOT", [str(Path(r).resolve()) for r in [args.root, *args.add]])
    try:
        if args.versus_expert:
            print(versus_table(args.root, args.dataset))
        elif args.headline:
            print(headline(args.root, args.dataset))
        elif args.contrasts:
            print(contrast_table(args.root, args.dataset))
        elif args.ladder:
            print(ladder_table(args.root, args.dataset[0]))
        elif args.theory:
            print(theory_vs_deep.markdown(find_runs(args.root, strict=True), theory_vs_deep.TheoryVsDeepConfig()))
        else:
            print(sweep_table(args.root, args.dataset[0]) if args.sweeps
                  else table([args.root, *args.add], args.dataset[0]))
    except UnreadableRun as err:  # a bad file: the table would silently lose a seed
        print(f"deep_cpu_table: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except (MissingResults, KeyError, ValueError, OSError) as err:
        print(f"deep_cpu_table: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
