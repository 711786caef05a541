"""Draw the documentation's example images: test items of each image dataset and expert views of them.

::

    python scripts/docs_examples.py                         # -> docs/images/datasets.png, docs/images/views.png
    python scripts/docs_examples.py --data-dir .data        # Fashion-MNIST bases, as in the CPU protocol

Builds the test split of C+Shapes, C+Digits and C+Letters with ``deep_experiments.data.build_dataset``
(overlay strength 1 and 0; the offline photo bases by default, Fashion-MNIST with ``--data-dir``) and
draws six items of each; then two expert views of four C+Letters items under the crop-only and the
SimCLR policies (``deep_experiments.augment.ExpertAugment`` without normalization). Seconds on one
core; deterministic for a given seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from deep_experiments.augment import ExpertAugment  # noqa: E402
from deep_experiments.data.build import build_dataset  # noqa: E402
from deep_experiments.data.config import DataConfig  # noqa: E402
from featuredrop.atomic import check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser, nonnegative_int  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("c+shapes", "c+digits", "c+letters")


def _show(ax, image: torch.Tensor, title: str = "") -> None:
    img = image[:3].clamp(0, 1).permute(1, 2, 0).numpy()
    ax.imshow(img if img.shape[2] == 3 else img[..., 0], cmap=None if img.shape[2] == 3 else "gray")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def _config(dataset: str, strength: float, data_dir: str | None) -> DataConfig:
    base = {"base_source": "fashion-mnist", "data_dir": data_dir} if data_dir else {}
    return DataConfig(dataset=dataset, overlay_strength=strength, test_size=64, train_size=64, **base)


def datasets_figure(data_dir: str | None, seed: int):
    fig, axes = plt.subplots(2 * len(DATASETS), 6, figsize=(6, 2 * len(DATASETS) + 0.6))
    for row, dataset in enumerate(DATASETS):
        for k, strength in enumerate((1.0, 0.0)):
            ds = build_dataset(_config(dataset, strength, data_dir), "test", seed)
            for col in range(6):
                image, label_a, label_b = ds[col][:3]
                title = f"A={label_a} B={label_b}" if strength else f"A={label_a}"
                _show(axes[2 * row + k, col], image, title)
            axes[2 * row + k, 0].set_ylabel(f"{dataset}\n{'overlay' if strength else 'no overlay'}", fontsize=7)
    fig.tight_layout()
    return fig


def views_figure(data_dir: str | None, seed: int):
    ds = build_dataset(_config("c+letters", 1.0, data_dir), "test", seed)
    images = torch.stack([ds[i][0] for i in range(4)])
    generator = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(4, 5, figsize=(5, 4.4))
    policies = ("crop_only", "simclr")
    views = {p: [ExpertAugment(images.shape[1], images.shape[-1], p, normalize=False)(images, generator)
                 for _ in range(2)] for p in policies}
    for i in range(4):
        _show(axes[i, 0], images[i], "image" if i == 0 else "")
        for j, (policy, pair) in enumerate(views.items()):
            for v in range(2):
                _show(axes[i, 1 + 2 * j + v], pair[v][i], f"{policy} view {v + 1}" if i == 0 else "")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when both figures were written."""
    p = OneLineParser(prog="docs_examples.py", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", help="Fashion-MNIST bases from this folder (default: the offline photo bases)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    args = p.parse_args(argv)
    try:  # checked before anything is drawn or written
        check_output_dir(args.out)
        if args.data_dir is not None and not Path(args.data_dir).is_dir():
            raise ValueError(f"--data-dir {args.data_dir}: not a folder")
    except ValueError as err:
        p.error(str(err))
    torch.set_num_threads(1)
    try:
        figures = [(name, make(args.data_dir, args.seed)) for name, make in (("datasets", datasets_figure),
                                                                            ("views", views_figure))]
    except (OSError, ValueError) as err:  # the data: missing or unreadable files (the message names them)
        print(f"docs_examples.py: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures:
        fig.savefig(args.out / f"{name}.png", dpi=110)
        plt.close(fig)
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
