"""Put real Fashion-MNIST where torchvision looks for it, from Debian's ``dataset-fashion-mnist``.

::

    apt-get install dataset-fashion-mnist        # 31 MB, MIT; the four gzipped idx files
    python scripts/fetch_fashion_mnist_offline.py --data-dir .data
    python -m deep_experiments run --preset cpu --dataset c+letters --data-dir .data --out runs/cpu-letters

The Debian package installs ``/usr/share/datasets/fashion-mnist/*-ubyte.gz``; torchvision's
``FashionMNIST`` reads the uncompressed files from ``DATA_DIR/FashionMNIST/raw/``. This script
unpacks them there, then loads both splits with torchvision and checks their sizes (60,000 /
10,000) and class counts (exactly 6,000 / 1,000 per class, as the official release). Exits 1 with a
one-line reason when anything is missing. With internet, torchvision's own ``download=True`` does
the same.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deep_experiments.data.idx import BadIdxFile, check_idx  # noqa: E402
from featuredrop.atomic import atomic_write, check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser  # noqa: E402

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SIZES = {"train": (60_000, 6_000), "test": (10_000, 1_000)}


def unpack(source: Path, raw_dir: Path) -> None:
    """Gunzip the four idx files from ``source`` into ``raw_dir`` (torchvision's names).

    Every file is read and checked (:func:`check_idx`) before ``raw_dir`` is created or anything written.
    """
    missing = [name for name in FILES if not (source / f"{name}.gz").exists()]
    if missing:
        raise FileNotFoundError(f"{source} lacks {missing} (apt-get install dataset-fashion-mnist)")
    contents = {}
    for name in FILES:
        path = source / f"{name}.gz"
        try:
            contents[name] = gzip.decompress(path.read_bytes())
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise BadIdxFile(f"{path}: does not decompress ({err or type(err).__name__})") from None
        check_idx(contents[name], str(path))
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        atomic_write(raw_dir / name, data)  # a failed write leaves no partial file and no .tmp behind


def check(data_dir: Path) -> list[str]:
    """Load both splits with torchvision; return one line per split (raises on a bad split)."""
    import numpy as np
    from torchvision.datasets import FashionMNIST

    lines = []
    for split, (size, per_class) in SIZES.items():
        data = FashionMNIST(str(data_dir), train=split == "train", download=False)
        counts = np.bincount(data.targets.numpy(), minlength=10)
        if len(data) != size or counts.tolist() != [per_class] * 10:
            raise ValueError(f"Fashion-MNIST {split}: {len(data)} items, class counts {counts.tolist()}: "
                             "not the real Fashion-MNIST")
        lines.append(f"Fashion-MNIST {split}: {len(data)} images, {per_class} per class")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the files are in place and check out; 2 naming a corrupt file or a ``--source`` that is
    no folder (nothing written); 1 when the Debian package's files are missing or the loaded splits are not
    Fashion-MNIST."""
    p = OneLineParser(prog="fetch_fashion_mnist_offline.py", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=".data", help="torchvision root (default %(default)s)")
    p.add_argument("--source", default=str(DEBIAN_DIR), help="folder of the gzipped idx files (default %(default)s)")
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    raw = data_dir / "FashionMNIST" / "raw"
    try:
        check_output_dir(raw, "--data-dir")
    except ValueError as err:
        p.error(str(err))
    if args.source != str(DEBIAN_DIR) and not Path(args.source).is_dir():  # a bad option; the default missing is a
        p.error(f"--source {args.source}: no such folder")  # package not installed, a failure at run time (exit 1)
    try:
        if not all((raw / name).exists() for name in FILES):
            unpack(Path(args.source), raw)
        for name in FILES:  # files already in place (an earlier call, or a user's): checked before torchvision reads them
            check_idx((raw / name).read_bytes(), str(raw / name))
        for line in check(data_dir):
            print(line)
    except BadIdxFile as err:
        p.error(str(err))
    except (OSError, ValueError, RuntimeError) as err:
        print(f"fetch_fashion_mnist_offline: {err}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST ready under {raw}; pass --data-dir {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
