"""scripts/fetch_fashion_mnist_offline.py: unpacking Debian's gzipped files and checking they are the real set."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.deep.test_data_real import write_mnist
from tests.scripts import load_script


@pytest.fixture(scope="module")
def fetch():  # noqa: ANN201
    return load_script("fetch_fashion_mnist_offline")


def test_unpacks_gzipped_files_byte_for_byte_and_refuses_a_fake_set(tmp_path: Path, fetch) -> None:  # noqa: ANN001
    write_mnist(str(tmp_path / "made"), np.random.default_rng(0), dataset="FashionMNIST")
    made = tmp_path / "made" / "FashionMNIST" / "raw"
    debian = tmp_path / "debian"
    debian.mkdir()
    for name in fetch.FILES:
        (debian / f"{name}.gz").write_bytes(gzip.compress((made / name).read_bytes()))
    fetch.unpack(debian, tmp_path / "data" / "FashionMNIST" / "raw")
    for name in fetch.FILES:
        assert (tmp_path / "data" / "FashionMNIST" / "raw" / name).read_bytes() == (made / name).read_bytes()
    with pytest.raises(ValueError, match="not the real Fashion-MNIST"):
        fetch.check(tmp_path / "data")


def test_missing_source_names_the_package(tmp_path: Path, fetch) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fetch.unpack(tmp_path, tmp_path / "raw")


def test_the_target_names_are_torchvisions(fetch) -> None:  # noqa: ANN001
    from torchvision.datasets import FashionMNIST

    assert {Path(url).name.removesuffix(".gz") for url, _ in FashionMNIST.resources} == set(fetch.FILES)
