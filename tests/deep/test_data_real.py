"""Real CIFAR-10 / MNIST loaders on tiny files written here in the real on-disk formats.

CIFAR-10: the python pickles of ``cifar-10-batches-py`` (``data`` rows of 3072 bytes, R then G then B
planes, row-major). MNIST: big-endian idx files under ``MNIST/raw``. torchvision's CIFAR10 checks md5
sums, which generated files cannot match, so the tests that read them swap torchvision's check for an
existence check; one test shows that without the swap the files are rejected.
"""

import os
import pickle
import struct

import numpy as np
import pytest
import torch

from tests.deep.datasets import make_dataset

PER_BATCH = 3


def write_cifar(root, rng):
    """Write 5 train batches and a test batch; return {split: (images NHWC uint8, labels)}."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    written = {}
    for split, names in (("train", [f"data_batch_{k}" for k in range(1, 6)]), ("test", ["test_batch"])):
        images, labels = [], []
        for name in names:
            hwc = rng.integers(0, 256, size=(PER_BATCH, 32, 32, 3), dtype=np.uint8)
            batch_labels = rng.integers(0, 10, size=PER_BATCH).tolist()
            rows = hwc.transpose(0, 3, 1, 2).reshape(PER_BATCH, 3072)  # R plane, G plane, B plane
            entry = {"batch_label": name, "labels": batch_labels, "data": rows,
                     "filenames": [f"{name}_{i}.png" for i in range(PER_BATCH)]}
            with open(os.path.join(folder, name), "wb") as f:
                pickle.dump(entry, f, protocol=2)
            images.append(hwc)
            labels += batch_labels
        written[split] = (np.concatenate(images), labels)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"], "num_cases_per_batch": PER_BATCH, "num_vis": 3072}
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return written


def write_idx(path, array):
    """Write an idx file: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, then the bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_mnist(root, rng, sizes=(("train", 12, 7), ("t10k", 5, 3)), dataset="MNIST"):
    """MNIST-format idx files (``dataset``: torchvision's folder name) with one class per split (7 train, 3 test)."""
    folder = os.path.join(root, dataset, "raw")
    os.makedirs(folder)
    written = {}
    for prefix, count, label in sizes:
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        images[:, :4] = 0  # a black border row block, so "black is transparent" has something to do
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), np.full(count, label))
        written["train" if prefix == "train" else "test"] = (images, label)
    return written


@pytest.fixture
def skip_md5(monkeypatch):
    """Replace torchvision's md5 check of CIFAR files by an existence check (test files only)."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))


@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar10_base_images_and_labels(tmp_path, skip_md5, split):
    written = write_cifar(tmp_path, np.random.default_rng(0))
    images, labels = written[split]
    ds = make_dataset("c+shapes", split, base_source="cifar10", data_dir=str(tmp_path)).with_base()
    assert len(ds) == len(labels) == (15 if split == "train" else 3)
    for i in range(len(ds)):
        image, a, b, base = ds[i]
        expected = torch.from_numpy(images[i]).permute(2, 0, 1).float() / 255
        assert torch.equal(base, expected)
        assert a == labels[i] and 0 <= b < 3
        assert (image != base).any() and image.shape == (3, 32, 32)
    assert len(make_dataset("c+letters", split, base_source="cifar10", data_dir=str(tmp_path), size=2)) == 2


def test_cifar10_md5_check_stays_on(tmp_path):
    write_cifar(tmp_path, np.random.default_rng(0))
    with pytest.raises(FileNotFoundError, match="download=True"):
        make_dataset("c+shapes", "train", base_source="cifar10", data_dir=str(tmp_path))


@pytest.mark.parametrize("base_source", ["cifar10"])
def test_missing_cifar10_says_how_to_get_it(tmp_path, base_source):
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        make_dataset("c+digits", "test", base_source=base_source, data_dir=str(tmp_path / "nothing"))
    assert "cifar-10-python.tar.gz" in str(info.value)


def test_missing_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        make_dataset("randbit", "train", digit_source="mnist", data_dir=str(tmp_path))
    assert "train-images-idx3-ubyte" in str(info.value)


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_randbit_bases(tmp_path, split):
    images, label = write_mnist(tmp_path, np.random.default_rng(1))[split]
    ds = make_dataset("randbit", split, digit_source="mnist", data_dir=str(tmp_path), randbit_bits=3)
    assert len(ds) == len(images)
    for i in range(len(ds)):
        image, a, b = ds[i]
        assert image.shape == (4, 28, 28)
        assert torch.equal(image[0], torch.from_numpy(images[i]).float() / 255)
        assert a == label and 0 <= b < 8


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_digit_overlays_come_from_the_split(tmp_path, split):
    _, label = write_mnist(tmp_path, np.random.default_rng(2))[split]
    ds = make_dataset("c+digits", split, digit_source="mnist", data_dir=str(tmp_path), size=20).with_base()
    for i in range(len(ds)):
        image, _, b, base = ds[i]
        assert b == label
        changed = (image != base).any(dim=0)
        assert changed[4:14, 4:14].any() and not changed[:4].any() and not changed[:, 26:].any()


@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_mnist_bases_are_padded_grey_images(tmp_path, split):
    """Fashion-MNIST as a C+* base: each 28x28 image sits in a 2-pixel black frame, same in R, G, B."""
    written = write_mnist(str(tmp_path), np.random.default_rng(1), dataset="FashionMNIST")
    images, label = written[split]
    ds = make_dataset("c+shapes", split, base_source="fashion-mnist", data_dir=str(tmp_path), overlay_strength=0.0)
    assert len(ds) == len(images)
    for i in (0, len(ds) - 1):
        image, label_a, _ = ds[i]
        assert image.shape == (3, 32, 32) and label_a == label
        expected = torch.from_numpy(images[i]).float() / 255
        for c in range(3):
            assert torch.equal(image[c, 2:30, 2:30], expected)
        assert image[:, :2].abs().sum() == 0 and image[:, :, 30:].abs().sum() == 0


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        make_dataset("c+letters", "train", base_source="fashion-mnist", data_dir=str(tmp_path))
