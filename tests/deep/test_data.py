"""Two-task datasets on the offline sources: specs, item contents, overlays, randomness, validation.

Expected values come from the Feature Dropout paper's setup (docs/related-work.md) (geometry, class counts, budgets),
or are recomputed here from scikit-learn / PIL directly, never read back from the code under test.
"""

import math
import os
import string

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deep_experiments.data import DATASETS, RECIPES, DataConfig, DatasetSpec, TwoTaskDataset, dataset_spec
from tests.deep.datasets import make_dataset

N = 48  # items per small dataset
OVERLAY_NAMES = ("c+shapes", "c+digits", "c+letters")


def small(name, split="train", **kwargs):
    return make_dataset(name, split, size=kwargs.pop("size", N), **kwargs)


def changed(image, base):
    """Boolean (H, W): pixels where any channel differs."""
    return (image != base).any(dim=0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("c+shapes", dict(channels=3, image_size=32, num_classes_a=10, num_classes_b=3, shared_channels=0,
                          expert_augmentation="simclr", viewmaker_budget=0.05)),
        ("c+digits", dict(channels=3, image_size=32, num_classes_a=10, num_classes_b=10, shared_channels=0,
                          expert_augmentation="simclr", viewmaker_budget=0.05)),
        ("c+letters", dict(channels=3, image_size=32, num_classes_a=10, num_classes_b=26, shared_channels=0,
                           expert_augmentation="simclr", viewmaker_budget=0.1)),
        ("randbit", dict(channels=6, image_size=28, num_classes_a=10, num_classes_b=32, shared_channels=5,
                         expert_augmentation="crop_only", viewmaker_budget=0.05)),
        ("audio", dict(channels=1, image_size=64, num_classes_a=10, num_classes_b=3, shared_channels=0,
                       expert_augmentation="audio", viewmaker_budget=0.125)),
    ],
)
def test_spec_matches_the_papers(name, expected):
    spec = small(name).spec
    assert isinstance(spec, DatasetSpec)
    assert spec.name == name
    assert {k: getattr(spec, k) for k in expected} == expected


@pytest.mark.parametrize("name", DATASETS)
def test_every_recipe_states_its_task_b_classes_once(name):
    """The spec's task-B class count is the overlay's, and the spec needs no image (dataset_spec)."""
    ds = small(name)
    assert ds.spec == dataset_spec(DataConfig(dataset=name))
    assert ds.spec.num_classes_b == ds._overlay.num_classes and RECIPES[name].name == name


def test_dataset_names_and_randbit_width():
    assert DATASETS == ("c+shapes", "c+digits", "c+letters", "randbit", "audio")
    spec = small("randbit", randbit_bits=12).spec
    assert (spec.channels, spec.num_classes_b, spec.shared_channels) == (13, 4096, 12)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_items_have_the_declared_shape_range_and_labels(name, split):
    ds = small(name, split, size=120)
    assert isinstance(ds, TwoTaskDataset) and len(ds) == 120
    spec = ds.spec
    labels_b = set()
    for i in range(len(ds)):
        image, a, b = ds[i]
        assert image.dtype == torch.float32
        assert image.shape == (spec.channels, spec.image_size, spec.image_size)
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert type(a) is int and 0 <= a < spec.num_classes_a
        assert type(b) is int and 0 <= b < spec.num_classes_b
        labels_b.add(b)
    assert len(labels_b) >= min(spec.num_classes_b, 10)  # overlay classes really vary


def test_default_sizes_and_size_cap():
    assert len(make_dataset("c+shapes", "train")) == 10_000
    assert len(make_dataset("c+shapes", "test")) == 2_000
    assert len(make_dataset("randbit", "train")) == 1_500  # sklearn digits: first 1,500 train
    assert len(make_dataset("randbit", "test")) == 297
    assert len(make_dataset("c+letters", "test", size=10**9)) == 2_000
    assert len(make_dataset("c+digits", "train", size=7)) == 7


@pytest.mark.parametrize("name", DATASETS)
def test_items_are_a_function_of_seed_epoch_and_index(name):
    first, second = small(name, seed=3), small(name, seed=3)
    first.set_epoch(5)
    second.set_epoch(5)
    order = [7, 0, 31, 7, 2]
    for i, j in zip(order, reversed(order)):  # access order must not matter
        first[j]
        image1, a1, b1 = first[i]
        image2, a2, b2 = second[i]
        assert torch.equal(image1, image2) and (a1, b1) == (a2, b2)


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_new_epoch_redraws_overlay_but_keeps_base(name):
    ds = small(name).with_base()
    before = [ds[i] for i in range(N)]
    ds.set_epoch(1)
    after = [ds[i] for i in range(N)]
    for (_, a0, _, base0), (_, a1, _, base1) in zip(before, after):
        assert torch.equal(base0, base1) and a0 == a1
    differing = sum(not torch.equal(x[0], y[0]) for x, y in zip(before, after))
    assert differing >= N - 2


@pytest.mark.parametrize("name", DATASETS)
def test_seed_changes_the_data(name):
    one, two = small(name, seed=0), small(name, seed=1)
    assert sum(not torch.equal(one[i][0], two[i][0]) for i in range(N)) >= N - 2


@pytest.mark.parametrize("name", DATASETS)
def test_dataloader_workers_see_the_same_items(name):
    ds = small(name, size=16)
    ds.set_epoch(2)
    serial = list(DataLoader(ds, batch_size=8))
    parallel = list(DataLoader(ds, batch_size=8, num_workers=2))
    for s, p in zip(serial, parallel, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(s, p))


@pytest.mark.parametrize("name", DATASETS)
def test_zero_strength_gives_the_base_image(name):
    ds = small(name, overlay_strength=0.0).with_base()
    for i in range(N):
        image, _, b, base = ds[i]
        assert torch.equal(image, base)
        assert 0 <= b < ds.spec.num_classes_b


def test_overlay_strength_scales_the_blend_linearly():
    full = small("c+shapes").with_base()
    half = small("c+shapes", overlay_strength=0.5).with_base()
    for i in range(N):
        image1, _, b1, base = full[i]
        image_half, _, b_half, _ = half[i]
        assert b1 == b_half
        torch.testing.assert_close(image_half - base, 0.5 * (image1 - base), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_with_base_shares_the_epoch_and_the_image(name):
    ds = small(name)
    view = ds.with_base()
    view.set_epoch(4)
    assert ds.epoch == 4
    for i in range(0, N, 7):
        image, a, b = ds[i]
        image_v, a_v, b_v, _ = view[i]
        assert torch.equal(image, image_v) and (a, b) == (a_v, b_v)
    assert view.spec == ds.spec and len(view) == len(ds)


def test_shapes_fill_the_middle_third_with_the_labelled_shape():
    third = 32 / 3
    ds = small("c+shapes", size=150, overlay_strength=255 / 180).with_base()  # opaque
    seen = set()
    for i in range(len(ds)):
        image, _, b, base = ds[i]
        mask = changed(image, base)
        rows, cols = torch.nonzero(mask, as_tuple=True)
        assert math.floor(third) <= int(rows.min()) and int(rows.max()) <= math.ceil(2 * third)
        assert math.floor(third) <= int(cols.min()) and int(cols.max()) <= math.ceil(2 * third)
        colours = image[:, mask].T.unique(dim=0)
        assert len(colours) == 1  # one opaque colour
        corner, centre, top_middle = bool(mask[10, 10]), bool(mask[16, 16]), bool(mask[11, 16])
        assert centre and top_middle
        assert corner == (b == 0)  # only the square reaches the corner of its box
        area = int(mask.sum())
        assert {0: area > 130, 1: 60 < area < 100, 2: 100 <= area <= 130}[b], (b, area)
        seen.add(b)
    assert seen == {0, 1, 2}


def test_shape_opacity_is_180_of_255():
    ds = small("c+shapes").with_base()
    image, _, _, base = ds[0]
    mask = changed(image, base)
    colour = small("c+shapes", overlay_strength=255 / 180)[0][0][:, mask]  # same draw, opaque
    torch.testing.assert_close(image[:, mask], base[:, mask] * (75 / 255) + colour * (180 / 255))


def _sklearn_digits_10x10():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images / 16.0, dtype=torch.float32)[:, None]
    up = torch.nn.functional.interpolate(images, size=(10, 10), mode="bilinear", align_corners=False)
    return up[:, 0], torch.tensor(bunch.target)


@pytest.mark.parametrize("split", ["train", "test"])
def test_digits_are_four_identical_unseen_split_digits_at_the_corners(split):
    digits, targets = _sklearn_digits_10x10()
    pool = slice(0, 1500) if split == "train" else slice(1500, None)
    ds = small("c+digits", split, size=30).with_base()
    corners = [(4, 4), (16, 4), (4, 16), (16, 16)]
    allowed = torch.zeros(32, 32, dtype=torch.bool)
    for x, y in corners:
        allowed[y:y + 10, x:x + 10] = True
    for i in range(len(ds)):
        image, _, b, base = ds[i]
        mask = changed(image, base)
        assert not mask[~allowed].any()
        assert torch.equal(image[0][mask], image[1][mask]) and torch.equal(image[0][mask], image[2][mask])  # grey
        inks = []
        for x, y in corners:
            box = (slice(y, y + 10), slice(x, x + 10))
            inks.append(torch.where(mask[box], image[0][box], torch.zeros(())))
        assert all(torch.equal(inks[0], ink) for ink in inks[1:])
        # The pasted ink is one of the split's digits, and label_b is that digit's class.
        visible = inks[0] > 0
        on_ink = ((digits[pool] - inks[0]).abs() * visible).amax(dim=(1, 2))
        off_ink = (digits[pool] * ~visible).amax(dim=(1, 2))
        match = int((on_ink + off_ink).argmin())
        assert float(on_ink[match]) < 1e-5 and float(off_ink[match]) < 1 / 255
        assert int(targets[pool][match]) == b


def _letter_glyph(letter):
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), 12)
    canvas = Image.new("L", (20, 20))
    ImageDraw.Draw(canvas).text((0, 0), letter, fill=255, font=font)
    return torch.tensor(np.array(canvas), dtype=torch.float32) / 255


def test_letters_are_one_coloured_letter_in_each_quadrant():
    ds = small("c+letters", size=40, overlay_strength=300.0).with_base()  # every inked pixel opaque
    ranges = [(0, 6), (16, 21)]
    for i in range(len(ds)):
        image, _, b, base = ds[i]
        glyph = _letter_glyph(string.ascii_uppercase[b])
        opaque = glyph > 0
        # Opaque ink holds the letter's colour exactly: in each quadrant's jitter range, find the
        # positions where all ink pixels of a copy share one colour.
        candidates = []
        for y_low, y_high in ranges:
            for x_low, x_high in ranges:
                found = {}
                for y in range(y_low, y_high + 1):
                    for x in range(x_low, x_high + 1):
                        h, w = min(20, 32 - y), min(20, 32 - x)
                        pixels = image[:, y:y + h, x:x + w][:, opaque[:h, :w]]
                        if pixels.shape[1] and (pixels == pixels[:, :1]).all():
                            found.setdefault(tuple(pixels[:, 0].tolist()), []).append((x, y))
                candidates.append(found)
        common = set.intersection(*(set(found) for found in candidates))
        assert len(common) == 1, (i, b)  # one colour for all four copies
        colour = common.pop()
        # The changed pixels are exactly the ink of those copies of the labelled letter (a thin letter may
        # fit at two offsets inside its own ink; the union covers both).
        support = torch.zeros(32, 32, dtype=torch.bool)
        for found in candidates:
            for x, y in found[colour]:
                h, w = min(20, 32 - y), min(20, 32 - x)
                support[y:y + h, x:x + w] |= opaque[:h, :w]
        assert torch.equal(changed(image, base), support), (i, b)


def test_train_and_test_crops_come_from_disjoint_regions():
    from deep_experiments.data.photos import PHOTO_NAMES, PhotoCrops, load_photos

    photos = load_photos()
    assert len(photos) == len(PHOTO_NAMES) == 10
    extents = {}
    for split, count in (("train", 300), ("test", 100)):
        ds = make_dataset("c+shapes", split, size=count, overlay_strength=0.0)
        bases = PhotoCrops(split, count, seed=0)
        for i in range(count):
            photo, top, left = bases.crop_box(i)
            image, a, _ = ds[i]
            assert a == photo == i % 10
            assert torch.equal(image, photos[photo][:, top:top + 32, left:left + 32])
            low, high = extents.get((split, photo), (10**9, -1))
            extents[split, photo] = (min(low, left), max(high, left + 32))
    for photo in range(10):
        width = photos[photo].shape[-1]
        train_low, train_high = extents["train", photo]
        test_low, test_high = extents["test", photo]
        assert 0 <= train_low and train_high <= test_low and test_high <= width
        assert train_high <= int(0.75 * width) <= test_low


def test_photo_classes_are_real_photos():
    ds = make_dataset("c+shapes", "train", size=40, overlay_strength=0.0)
    stds = torch.stack([ds[i][0].std() for i in range(len(ds))])
    assert float(stds.median()) > 0.03  # natural image content, not flat patches


@pytest.mark.parametrize("split", ["train", "test"])
def test_randbit_planes_are_the_ids_binary_expansion(split):
    from sklearn.datasets import load_digits

    targets = load_digits().target[:1500] if split == "train" else load_digits().target[1500:]
    bits = 20
    ds = small("randbit", split, randbit_bits=bits, size=200).with_base()
    ids = []
    for i in range(len(ds)):
        image, a, b, base = ds[i]
        planes = image[1:]
        values = planes.flatten(1)
        assert torch.equal(values, values[:, :1].expand_as(values))  # constant planes
        assert set(values[:, 0].tolist()) <= {0.0, 1.0}
        assert sum(int(v) << k for k, v in enumerate(values[:, 0].tolist())) == b
        assert a == int(targets[i])
        assert torch.equal(base[0], image[0]) and torch.all(base[1:] == 0.5)
        ids.append(b)
    assert len(set(ids)) >= 198  # 2**20 buckets: a hash, not a counter or a constant
    assert 0.35 < np.mean([(b >> k) & 1 for b in ids for k in range(bits)]) < 0.65


def test_randbit_id_is_fixed_across_epochs_and_differs_between_splits():
    train, test = small("randbit", "train"), small("randbit", "test")
    ids = [train[i][2] for i in range(N)]
    train.set_epoch(9)
    assert [train[i][2] for i in range(N)] == ids
    assert sum(a != b for a, b in zip(ids, (test[i][2] for i in range(N)))) > N // 2
    images = [train[i][0] for i in range(N)]
    assert all(torch.equal(x, train[i][0]) for i, x in enumerate(images))


def test_randbit_strength_moves_planes_towards_half():
    weak = small("randbit", overlay_strength=0.25)
    for i in range(N):
        image, _, b = weak[i]
        expected = [0.5 + 0.25 * (((b >> k) & 1) - 0.5) for k in range(5)]
        assert image[1:, 0, 0].tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "argument", "value"),
    [
        ({"name": "c+foo"}, "dataset", "'c+foo'"),
        ({"split": "val"}, "split", "'val'"),
        ({"base_source": "imagenet"}, "base_source", "'imagenet'"),
        ({"digit_source": "emnist"}, "digit_source", "'emnist'"),
        ({"overlay_strength": -0.1}, "overlay_strength", "-0.1"),
        ({"overlay_strength": math.nan}, "overlay_strength", "nan"),
        ({"overlay_strength": math.inf}, "overlay_strength", "inf"),
        ({"overlay_strength": "1"}, "overlay_strength", "'1'"),
        ({"size": 0}, "size", "0"),
        ({"size": 2.5}, "size", "2.5"),
        ({"randbit_bits": -1}, "randbit_bits", "-1"),
        ({"randbit_bits": 63}, "randbit_bits", "63"),
        ({"seed": -1}, "seed", "-1"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, argument, value):
    args = {"name": "randbit", "split": "train", **kwargs}
    with pytest.raises(ValueError, match=argument) as info:
        make_dataset(args.pop("name"), args.pop("split"), **args)
    assert value in str(info.value)


def test_bad_epoch_and_index():
    ds = small("c+shapes")
    for epoch in (-1, 1.5, True):
        with pytest.raises(ValueError, match="epoch"):
            ds.set_epoch(epoch)
    with pytest.raises(IndexError):
        ds[N]
    assert torch.equal(ds[-1][0], ds[N - 1][0])


def test_real_sources_need_a_data_dir():
    with pytest.raises(ValueError, match="data_dir"):
        make_dataset("c+shapes", "train", base_source="cifar10")
    with pytest.raises(ValueError, match="data_dir"):
        make_dataset("randbit", "train", digit_source="mnist")


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bit pattern (so that -0.0 and 0.0 differ)."""
    return t.view(torch.int32) if t.dtype == torch.float32 else t


@pytest.mark.parametrize("name", [*OVERLAY_NAMES, "randbit"])
def test_a_batch_is_the_collation_of_its_items_bit_for_bit(name):
    """``batch(indices)`` (what make_loader calls) against torch's default collation of the items, every kind of item."""
    from torch.utils.data import default_collate

    data = small(name)
    data.set_epoch(3)
    indices = [5, 0, N - 1, 17, 17, 30]
    views = [data, data.with_base(), data.at_strength(0.4), data.at_strength(0.0)]
    if name != "randbit":
        views.append(data.with_second_overlay())
    for view in views:
        batch = view.batch(indices)
        reference = default_collate([view[i] for i in indices])
        assert len(batch) == len(reference)
        for ours, theirs in zip(batch, reference):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            assert torch.equal(_bits(ours), _bits(theirs))


@pytest.mark.parametrize("shuffle", [True, False])
def test_make_loader_gives_the_dataloaders_batches_and_generator_state(shuffle):
    """Built a batch at a time, yet the DataLoader's order, batches and draws from the order generator."""
    from deep_experiments.data import ItemBatches, make_loader

    data = small("c+letters").with_base()
    g_ours, g_ref = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    ours = make_loader(data, 10, shuffle=shuffle, generator=g_ours, drop_last=True)
    reference = DataLoader(data, batch_size=10, shuffle=shuffle, generator=g_ref, drop_last=True)
    assert isinstance(ours, ItemBatches) and len(ours) == len(reference)
    for _ in range(2):  # two epochs: the generator's state carries over
        pairs = list(zip(ours, reference, strict=True))
        assert len(pairs) == N // 10
        for a, b in pairs:
            assert all(torch.equal(_bits(x), _bits(y)) for x, y in zip(a, b, strict=True))
    assert torch.equal(g_ours.get_state(), g_ref.get_state())
