"""scripts/fetch_mnist_offline.py: the check that what landed in MNIST/raw is the real MNIST (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.deep.test_data_real import write_mnist
from tests.scripts import load_script


@pytest.fixture(scope="module")
def fetch():  # noqa: ANN201
    return load_script("fetch_mnist_offline")


def test_check_refuses_files_that_are_not_the_real_mnist(tmp_path: Path, fetch) -> None:  # noqa: ANN001
    write_mnist(str(tmp_path), np.random.default_rng(0))
    with pytest.raises(ValueError, match="not the real MNIST"):
        fetch.check(tmp_path)


def test_the_target_names_are_torchvisions(fetch) -> None:  # noqa: ANN001
    from torchvision.datasets import MNIST

    expected = {f"{prefix}-{kind}" for prefix in ("train", "t10k")
                for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")}
    assert set(fetch.FILES.values()) == expected
    assert {Path(url).name.removesuffix(".gz") for url, _ in MNIST.resources} == expected
