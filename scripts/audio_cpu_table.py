"""Print the audio CPU results as the README's markdown table (mean +- std over seeds, paired differences).

::

    python scripts/audio_cpu_table.py results/audio-cpu

Reads every finished run under ``ROOT/audio/<method>/os<s>_p<p>/seed<k>/`` (``paper_figures.deep.find_runs``).
Rows: the no-noise control (expert views at noise strength 0), then each method at strength 1
(dropout at p 0.5 only). Columns: the fast probe's digit accuracy on noisy and on clean test clips
(the probe's ``full_overlay`` and ``overlay_free`` controls), its noise-type accuracy on noisy clips,
and, paired by seed (``paper_figures.suppression.suppression_rows``), suppression (control minus
run, digit on noisy clips: masking cancels), the clean-clip gap (control minus run, digit on clean
clips) and rescue (run minus expert, digit on noisy clips). A ``*`` marks a mean more than two
standard deviations (of the per-seed differences) from zero.
"""

from __future__ import annotations

import sys

from paper_figures.deep import find_runs
from paper_figures.registry import MissingResults
from paper_figures.stats import summarize
from paper_figures.suppression import SuppressionConfig, suppression_rows

DATASET = "audio"


def _cell(values: list[float]) -> str:
    mean, std = summarize(values)
    return f"{mean:.3f} ± {std:.3f}"


def table(root: str) -> str:
    """The markdown table of the audio runs under ``root``."""
    runs = [r for r in find_runs(root) if r.dataset == DATASET and (r.method != "dropout" or r.dropout_p == 0.5)]
    paired = {(row["method"], row["quantity"]): row for row in suppression_rows(runs, SuppressionConfig(0.5))}
    lines = ["| views | noise | seeds | digit, noisy clips | digit, clean clips | noise type, noisy clips | "
             "suppression | clean-clip gap | rescue |", "|---|---|---|---|---|---|---|---|---|"]
    groups = [("no-noise control (expert)", [r for r in runs if r.method == "expert" and r.overlay_strength == 0])]
    for method in sorted({r.method for r in runs}, key=lambda m: (m != "expert", m)):
        label = "dropout p 0.5" if method == "dropout" else method
        groups.append((label, [r for r in runs if r.method == method and r.overlay_strength == 1]))
    for label, group in groups:
        if not group:
            continue
        fast = [r.probe["fast"] for r in group]
        cells = [_cell([f["full_overlay"]["task_a"] for f in fast]), _cell([f["overlay_free"]["task_a"] for f in fast]),
                 _cell([f["full_overlay"]["task_b"] for f in fast])]
        method = group[0].method
        for quantity in ("suppression", "overlay_free_gap", "rescue"):
            row = paired.get((method, quantity)) if group[0].overlay_strength == 1 else None
            cells.append("—" if row is None else
                         f"{row['mean']:+.3f} ± {row['std']:.3f}{' *' if row['beyond_2_std'] else ''}")
        noise = f"{group[0].overlay_strength:g}"
        lines.append(f"| {label} | {noise} | {','.join(str(r.seed) for r in group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints the table; 1 with a one-line reason when there is nothing to read."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: audio_cpu_table.py RESULTS_ROOT", file=sys.stderr)
        return 2
    try:
        print(table(args[0]))
    except (MissingResults, KeyError, ValueError, OSError) as err:
        print(f"audio_cpu_table: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
