"""Copy finished run folders into ``results/`` without their checkpoints, with their provenance.

::

    python scripts/collect_runs.py runs/claim5-cpu results/claim5-cpu --revision a978488

Copies every run folder under SRC that has a ``probe.json`` (training and probes finished) to the same
relative path under DST, leaving out ``*.pt`` (checkpoints and the exported backbone, megabytes each)
except ``viewmaker.pt`` (the trained viewmaker, which figures read). Each copied folder gets a
``provenance.json``: the code revision that made the run (``--revision``: runs are launched from a
detached worktree of one commit, so the revision is stated, not guessed from this checkout), the
versions of Python, torch, numpy and scikit-learn that trained and probed it (this interpreter's:
run the script with the interpreter that ran the grid) and the machine. An existing folder in DST is
overwritten only with ``--force``. Unfinished runs are listed and skipped.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.atomic import check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser  # noqa: E402

KEEP_PT = ("viewmaker.pt",)
PROVENANCE = "provenance.json"


def environment(revision: str) -> dict[str, str]:
    """The revision and the library versions of this interpreter."""
    import numpy
    import sklearn
    import torch

    return {"code_revision": revision, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scikit-learn": sklearn.__version__,
            "machine": f"{platform.machine()}, {platform.system()}"}


def run_folders(src: Path) -> tuple[list[Path], list[Path]]:
    """(finished, unfinished) run folders under ``src`` (folders holding a ``config.json``)."""
    folders = sorted(p.parent for p in src.rglob("config.json"))
    return [f for f in folders if (f / "probe.json").exists()], [f for f in folders if not (f / "probe.json").exists()]


def collect(src: Path, dst: Path, revision: str, force: bool = False) -> list[Path]:
    """Copy the finished runs of ``src`` into ``dst`` (module docstring); returns the folders written."""
    from featuredrop.config import save_json

    finished, _ = run_folders(src)
    for folder in finished:  # a run whose record cannot be read is not collected (checked before anything is copied)
        for name in ("config.json", "probe.json"):
            try:
                json.loads((folder / name).read_text())
            except ValueError as err:
                raise ValueError(f"{folder / name}: not valid JSON, truncated or corrupt ({err})") from None
    env = environment(revision)
    existing = [dst / f.relative_to(src) for f in finished if (dst / f.relative_to(src)).exists()]
    if existing and not force:  # checked before anything is copied
        raise FileExistsError(f"{existing[0]} exists ({len(existing)} run folders do; pass --force to overwrite them)")
    written = []
    for folder in finished:
        target = dst / folder.relative_to(src)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for item in folder.iterdir():
            if item.is_file() and (item.suffix != ".pt" or item.name in KEEP_PT) and not item.name.startswith("."):
                shutil.copy2(item, target / item.name)
        save_json(target / PROVENANCE, env)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 on success; 2 with a one-line reason on a bad argument (nothing copied), 1 when copying fails."""
    p = OneLineParser(prog="collect_runs.py", description=__doc__.split("\n")[0])
    p.add_argument("src", help="grid root (runs/...)")
    p.add_argument("dst", help="results root (results/...)")
    p.add_argument("--revision", required=True, help="the commit whose code made the runs")
    p.add_argument("--force", action="store_true", help="overwrite folders that exist in DST")
    args = p.parse_args(argv)
    src, dst = Path(args.src), Path(args.dst)
    if not src.is_dir():
        p.error(f"SRC {src}: not a folder")
    if src.resolve() == dst.resolve():
        p.error(f"SRC and DST are the same folder ({src})")
    if not args.revision.strip():
        p.error("--revision is empty: name the commit whose code made the runs")
    try:
        check_output_dir(dst, "DST")
    except ValueError as err:
        p.error(str(err))
    try:
        written = collect(src, dst, args.revision, args.force)
    except (FileExistsError, ValueError) as err:
        p.error(" ".join(str(err).split()))
    except OSError as err:
        print(f"collect_runs.py: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    _, unfinished = run_folders(src)
    print(f"{len(written)} runs copied into {dst}" + (f"; {len(unfinished)} unfinished skipped: "
          + ", ".join(str(f.relative_to(src)) for f in unfinished) if unfinished else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
