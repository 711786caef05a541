"""``train.data_order="fixed"``: one permutation of the training items, the same batches every epoch (the RandBits
colab never reshuffles), on every loader, resumable, and the default order untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import deep_experiments.run.train as train_module
from deep_experiments.cli import build_parser, config_from_args
from deep_experiments.data import DeviceLoader, fixed_order, make_loader
from deep_experiments.seeds import make_generator
from tests.deep.test_train import _records, tiny

CPU = torch.device("cpu")


class _Items(Dataset):
    """Item ``i``: an image holding ``i``, a label and ``i`` itself (to read the order back)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return torch.full((1, 2, 2), i / self.n), i % 3, i


class _BatchedItems(_Items):
    """The same items, loaded a batch at a time (:class:`deep_experiments.data.ItemBatches`)."""

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        items = [self[i] for i in indices]
        return (torch.stack([x for x, _, _ in items]), torch.tensor([a for _, a, _ in items]),
                torch.tensor([b for _, _, b in items]))


def _loaders(order: list[int]) -> list[object]:
    return [make_loader(_Items(10), 4, shuffle=False, order=order, drop_last=True),
            make_loader(_BatchedItems(10), 4, shuffle=False, order=order, drop_last=True),
            DeviceLoader(_Items(10), 4, generator=torch.Generator(), device=CPU, drop_last=True, order=order)]


def test_every_loader_gives_the_fixed_order_in_every_epoch() -> None:
    order = fixed_order(10, make_generator(0, "data/fixed-order"))
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert order == fixed_order(10, make_generator(0, "data/fixed-order"))  # the same seed, the same order
    for loader in _loaders(order):
        epochs = [[batch[2].tolist() for batch in loader] for _ in range(3)]  # type: ignore[attr-defined]
        assert epochs == [[order[0:4], order[4:8]]] * 3, type(loader).__name__


def test_without_an_order_the_loaders_shuffle_exactly_as_a_plain_dataloader() -> None:
    """The default path: the same batches as ``DataLoader(shuffle=True)`` on the same generator, epoch after epoch,
    and the generator left in the same state."""
    plain_g, batched_g = make_generator(3, "data/order"), make_generator(3, "data/order")
    plain = DataLoader(_Items(10), batch_size=4, shuffle=True, generator=plain_g, drop_last=True)
    batched = make_loader(_BatchedItems(10), 4, shuffle=True, generator=batched_g, drop_last=True)
    for _ in range(3):
        assert [b[2].tolist() for b in plain] == [b[2].tolist() for b in batched]  # type: ignore[union-attr]
    assert torch.equal(plain_g.get_state(), batched_g.get_state())


def test_a_fixed_order_refuses_shuffle_and_anything_but_a_permutation() -> None:
    for dataset in (_Items(10), _BatchedItems(10)):
        with pytest.raises(ValueError, match="exclude each other"):
            make_loader(dataset, 4, shuffle=True, order=list(range(10)))
        for bad in ([0] * 10, list(range(9)), list(range(1, 11))):
            with pytest.raises(ValueError, match="permutation"):
                make_loader(dataset, 4, shuffle=False, order=bad)
    with pytest.raises(ValueError, match="permutation"):
        DeviceLoader(_Items(10), 4, generator=torch.Generator(), device=CPU, order=list(range(11)))


def test_training_reads_the_fixed_order_resumes_exactly_and_differs_from_shuffling(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's loader gets the ``data/fixed-order`` permutation unshuffled; a resumed run equals an uninterrupted
    one, the device-data path gives the same records, and a shuffled run of the same seed trains differently."""
    seen: list[dict] = []
    original = train_module.make_loader

    def spy(dataset, batch_size, **kwargs):  # noqa: ANN001, ANN202
        seen.append(kwargs)
        return original(dataset, batch_size, **kwargs)

    monkeypatch.setattr(train_module, "make_loader", spy)
    config = tiny("c+shapes", "dropout", epochs=2, size=16, data_order="fixed")
    full = train(config, tmp_path / "full")
    assert seen[0]["shuffle"] is False
    assert seen[0]["order"] == fixed_order(16, make_generator(config.train.seed, "data/fixed-order"))
    train(config, tmp_path / "cut", stop_after=1)
    assert _records(train(config, tmp_path / "cut")) == _records(full)
    on_device = tiny("c+shapes", "dropout", epochs=2, size=16, data_order="fixed", perf={"device_data": True})
    assert _records(train(on_device, tmp_path / "device")) == _records(full)
    shuffled = _records(train(tiny("c+shapes", "dropout", epochs=2, size=16), tmp_path / "shuffled"))
    assert seen[-1]["shuffle"] is True and seen[-1]["order"] is None
    assert [r["loss"] for r in shuffled if r["kind"] == "train"] != [r["loss"] for r in _records(full)
                                                                     if r["kind"] == "train"]


def test_the_cli_flag_sets_the_order_and_rejects_others() -> None:
    config = config_from_args(build_parser().parse_args(["run", "--data-order", "fixed", "--out", "x"]))
    assert config.train.data_order == "fixed"
    assert config_from_args(build_parser().parse_args(["run", "--out", "x"])).train.data_order == "shuffle"
    with pytest.raises(ValueError, match="data_order"):
        config_from_args(build_parser().parse_args(["run", "--data-order", "sorted", "--out", "x"]))


def train(config, folder: Path, stop_after: int | None = None) -> list[dict]:  # noqa: ANN001
    return train_module.train(config, folder, device="cpu", progress=False, argv=["test"], stop_after=stop_after)
