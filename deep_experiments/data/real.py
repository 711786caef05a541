"""Real CIFAR-10, MNIST and Fashion-MNIST read from disk by torchvision, for users who have the data or internet.

The on-disk layout is torchvision's: ``{data_dir}/cifar-10-batches-py/`` (the python pickles of
``cifar-10-python.tar.gz``), ``{data_dir}/MNIST/raw/`` and ``{data_dir}/FashionMNIST/raw/`` (the
four uncompressed idx files each).
Nothing is downloaded unless ``download=True``.

Testing decision: torchvision's ``CIFAR10`` verifies the md5 sum of every file. The tests write tiny
files in the real pickle format and, inside the test only, replace
``torchvision.datasets.cifar.check_integrity`` by an existence check (pytest ``monkeypatch``), so the
files are still parsed by torchvision's own code. The library has no switch that skips the check.
"""

from __future__ import annotations

import numpy as np

_CIFAR_HELP = (
    "CIFAR-10 not found (or a file's md5 sum is wrong) under {root}/cifar-10-batches-py. Pass "
    "download=True (needs internet), or unpack cifar-10-python.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html into {root}; offline, use base_source='photos'."
)
_MNIST_HELP = (
    "MNIST not found under {root}/MNIST/raw. Pass download=True (needs internet), or put the four "
    "uncompressed idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte) there; offline, use digit_source='sklearn'."
)
_FASHION_HELP = (
    "Fashion-MNIST not found under {root}/FashionMNIST/raw. Pass download=True (needs internet), or put "
    "the four uncompressed idx files there (offline: `apt-get install dataset-fashion-mnist` and "
    "`python scripts/fetch_fashion_mnist_offline.py --data-dir {root}`)."
)


def _require_dir(data_dir: str | None, what: str) -> str:
    if data_dir is None:
        raise ValueError(f"data_dir is required to load {what}; got None (pass data_dir=..., and "
                         "download=True to fetch the files)")
    return str(data_dir)


def cifar10_arrays(data_dir: str | None, split: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` as uint8 images (N, 32, 32, 3) and int64 labels (N,)."""
    from torchvision.datasets import CIFAR10

    root = _require_dir(data_dir, "CIFAR-10")
    try:
        data = CIFAR10(root, train=split == "train", download=download)
    except RuntimeError as err:
        raise FileNotFoundError(_CIFAR_HELP.format(root=root)) from err
    return np.asarray(data.data, dtype=np.uint8), np.asarray(data.targets, dtype=np.int64)


def _mnist_family(dataset_cls: type, data_dir: str | None, split: str, download: bool, what: str,
                  help_text: str) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision MNIST-format dataset's ``split`` as uint8 images (N, 28, 28) and int64 labels (N,)."""
    root = _require_dir(data_dir, what)
    try:
        data = dataset_cls(root, train=split == "train", download=download)
    except RuntimeError as err:
        raise FileNotFoundError(help_text.format(root=root)) from err
    return data.data.numpy().astype(np.uint8), data.targets.numpy().astype(np.int64)


def mnist_arrays(data_dir: str | None, split: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` as uint8 images (N, 28, 28) and int64 labels (N,)."""
    from torchvision.datasets import MNIST

    return _mnist_family(MNIST, data_dir, split, download, "MNIST", _MNIST_HELP)


def fashion_mnist_arrays(data_dir: str | None, split: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` as uint8 images (N, 28, 28) and int64 labels (N,) (torchvision layout)."""
    from torchvision.datasets import FashionMNIST

    return _mnist_family(FashionMNIST, data_dir, split, download, "Fashion-MNIST", _FASHION_HELP)
