"""The audio two-task dataset on synthetic files: items, noise sharing and strength, the file format, errors.

Expected values are recomputed here from the arrays the test writes (tests.deep.audio_data) and
from the documented signal chain (dB range, sine calibration), never read back from the module.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from deep_experiments.data import DataConfig, build_dataset
from deep_experiments.data import audio as A
from deep_experiments.views.dropout import DropoutViews
from deep_experiments.views.expert import ExpertViews
from tests.cli_runner import run_clis
from tests.deep.audio_data import SIZES, synthetic_arrays, write_synthetic


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("audio"))


def dataset(data_dir: Path, split: str = "train", seed: int = 0, **data: object) -> A.AudioTwoTaskDataset:
    ds = build_dataset(DataConfig(dataset="audio", data_dir=str(data_dir), **data), split, seed)  # type: ignore[arg-type]
    assert isinstance(ds, A.AudioTwoTaskDataset)
    return ds


def stored(data_dir: Path, split: str, key: str) -> np.ndarray:
    with np.load(data_dir / A.AUDIO_FILE) as npz:
        return npz[f"{split}_{key}"]


def decibels(levels: np.ndarray) -> np.ndarray:
    """Documented mapping: level 0 = silence, else -90 dB + level / 255 * 80 dB."""
    return -90.0 + levels.astype(np.float64) / 255 * 80.0


def expected_mix(speech: np.ndarray, noise: np.ndarray, strength: float) -> np.ndarray:
    """The [0, 1] image of the power sum, from the documented dB mapping (silence = power 0)."""
    power = np.where(speech > 0, 10 ** (decibels(speech) / 10), 0.0) + strength**2 * np.where(
        noise > 0, 10 ** (decibels(noise) / 10), 0.0)
    db = 10 * np.log10(np.maximum(power, 10 ** (-9.0)))
    return np.clip((db + 90) / 80, 0, 1)


@pytest.mark.parametrize("split", ["train", "test"])
def test_items_are_one_channel_64x64_in_unit_range_with_both_labels(data_dir: Path, split: str) -> None:
    ds = dataset(data_dir, split)
    digits = stored(data_dir, split, "digits")
    assert len(ds) == SIZES[split] and ds.spec.channels == 1 and ds.spec.image_size == 64
    types = []
    for i in range(len(ds)):
        image, a, b = ds[i]
        assert image.shape == (1, 64, 64) and image.dtype == torch.float32
        assert 0 <= float(image.min()) and float(image.max()) <= 1
        assert a == digits[i] and b in (0, 1, 2)
        types.append(b)
    assert np.bincount(types, minlength=3).min() > len(ds) / 6  # roughly balanced noise types


def test_base_is_the_clean_clip_and_the_item_adds_a_segment_of_its_own_noise_type(data_dir: Path) -> None:
    ds = dataset(data_dir).with_base()
    speech, bank = stored(data_dir, "train", "speech"), stored(data_dir, "train", "noise")
    for i in range(0, 40, 3):
        image, _, b, base = ds[i]
        assert torch.equal(base[0], torch.from_numpy(speech[i]).float() / 255)
        candidates = [expected_mix(speech[i], seg, 1.0) for seg in bank[b]]
        errors = [np.abs(image[0].numpy() - c).max() for c in candidates]
        assert min(errors) < 1e-5  # the item is its clip plus one segment of its type's bank
        others = [np.abs(image[0].numpy() - expected_mix(speech[i], seg, 1.0)).max()
                  for k in range(3) if k != b for seg in bank[k]]
        assert min(others) > 0.01


def test_noise_is_fixed_per_load_shared_by_views_and_redrawn_each_epoch(data_dir: Path) -> None:
    """Two loads of an item in one epoch are identical (both views see one noise); the type stays across epochs."""
    ds = dataset(data_dir).with_base()
    first = [ds[i] for i in range(48)]
    again = [ds[i] for i in range(48)]
    assert all(torch.equal(x[0], y[0]) and x[2] == y[2] for x, y in zip(first, again))
    ds.set_epoch(1)
    later = [ds[i] for i in range(48)]
    assert all(x[2] == y[2] and x[1] == y[1] and torch.equal(x[3], y[3]) for x, y in zip(first, later))
    assert sum(not torch.equal(x[0], y[0]) for x, y in zip(first, later)) >= 40  # 64 segments per type

    # the views of a training step are made from that one loaded image: both carry the same noise
    image = torch.stack([x[0] for x in first[:8]])
    base = torch.stack([x[3] for x in first[:8]])
    keep_all = DropoutViews(lambda x, g: x, p=0.0)  # type: ignore[arg-type]
    drop_all = DropoutViews(lambda x, g: x, p=1.0)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(0)
    assert torch.equal(keep_all(image, base, g), keep_all(image, base, g)) and torch.equal(keep_all(image, base, g), image)
    assert torch.equal(drop_all(image, base, g), base)  # oracle dropout of the noise = the clean clip


def test_noise_type_depends_on_seed_split_and_index_only(data_dir: Path) -> None:
    ds0, ds0b, ds1 = dataset(data_dir, seed=0), dataset(data_dir, seed=0, train_size=20), dataset(data_dir, seed=1)
    labels0 = [ds0[i][2] for i in range(20)]
    assert labels0 == [ds0b[i][2] for i in range(20)]
    assert labels0 != [ds1[i][2] for i in range(20)]
    test = dataset(data_dir, "test")
    assert labels0 != [test[i][2] for i in range(20)]


def test_strength_scales_the_noise_amplitude_and_zero_is_the_clean_clip(data_dir: Path) -> None:
    full = dataset(data_dir).with_base()
    half = dataset(data_dir, overlay_strength=0.5).with_base()
    none = dataset(data_dir).at_strength(0.0).with_base()
    speech, bank = stored(data_dir, "train", "speech"), stored(data_dir, "train", "noise")
    for i in range(0, 30, 5):
        image, _, b, base = full[i]
        image_half, _, b_half, _ = half[i]
        image_none, _, _, _ = none[i]
        assert b == b_half and torch.equal(image_none, base)
        seg = next(s for s in bank[b] if np.abs(image[0].numpy() - expected_mix(speech[i], s, 1.0)).max() < 1e-5)
        np.testing.assert_allclose(image_half[0].numpy(), expected_mix(speech[i], seg, 0.5), atol=1e-5)
        assert bool((image >= base - 1e-6).all()) and bool((image_half <= image + 1e-6).all())


def test_expert_views_are_one_channel_normalized_and_differ_between_calls(data_dir: Path) -> None:
    from deep_experiments.augment import ExpertAugment

    ds = dataset(data_dir)
    image = torch.stack([ds[i][0] for i in range(16)])
    views = ExpertViews(ExpertAugment(1, 64, "audio"))
    g = torch.Generator().manual_seed(0)
    one, two = views(image, None, g), views(image, None, g)
    assert one.shape == (16, 1, 64, 64) and float(one.min()) >= -1 and float(one.max()) <= 1
    assert not torch.equal(one, two)


def test_log_mel_calibration_full_scale_sine() -> None:
    """A full-scale sine at an FFT bin centre: Hann window energy 1.5 spread over the bands -> 1.76 dB in total."""
    import librosa

    fb = torch.from_numpy(librosa.filters.mel(sr=8000, n_fft=256, n_mels=64, fmin=0, fmax=4000, norm=None))
    t = torch.arange(A.CLIP_SAMPLES, dtype=torch.float64) / A.SAMPLE_RATE
    for freq in (500.0, 1000.0, 2000.0):  # bins 16, 32, 64 of 31.25 Hz
        db = A.log_mel_db(torch.sin(2 * math.pi * freq * t)[None], fb)
        total = 10 * torch.log10((10 ** (db[0, :, 5:60] / 10)).sum(dim=0))
        torch.testing.assert_close(total, torch.full_like(total, 10 * math.log10(1.5)), atol=0.05, rtol=0)
    with pytest.raises(ValueError, match="waveforms"):
        A.log_mel_db(torch.zeros(2, 100), fb)


def test_quantize_maps_the_fixed_db_range_onto_0_255() -> None:
    levels = A.quantize_db(np.array([-200.0, -90.0, -50.0, -10.0, 0.0]))
    assert levels.tolist() == [0, 0, 128, 255, 255] and levels.dtype == np.uint8


def test_file_is_byte_reproducible_and_round_trips(tmp_path: Path) -> None:
    one, two = write_synthetic(tmp_path / "one", seed=3), write_synthetic(tmp_path / "two", seed=3)
    assert (one / A.AUDIO_FILE).read_bytes() == (two / A.AUDIO_FILE).read_bytes()
    arrays = A.load_audio_split(one, "test")
    expected = synthetic_arrays(SIZES["train"], 64, np.random.default_rng(3))  # the train split is drawn first
    assert np.array_equal(A.load_audio_split(one, "train").speech, expected.speech)
    assert arrays.noise.shape == (3, 64, 64, 64) and arrays.speakers.min() == 1000
    assert A.read_meta(one / A.AUDIO_FILE)["db_range"] == [-90.0, -10.0]


def test_missing_and_bad_files_give_one_line_errors_naming_the_build_script(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data_dir.*build_audio_offline.py"):
        build_dataset(DataConfig(dataset="audio"), "train")
    with pytest.raises(FileNotFoundError, match="audio-digits.npz.*build_audio_offline.py"):
        build_dataset(DataConfig(dataset="audio", data_dir=str(tmp_path)), "train")
    (tmp_path / A.AUDIO_FILE).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable audio file.*build_audio_offline.py") as info:
        build_dataset(DataConfig(dataset="audio", data_dir=str(tmp_path)), "test")
    assert "\n" not in str(info.value)
    good = A.load_audio_split(write_synthetic(tmp_path / "good"), "train")
    with pytest.raises(ValueError, match="speech must be uint8"):
        A.AudioArrays(good.speech.astype(np.float32), good.digits, good.speakers, good.noise)
    with pytest.raises(ValueError, match="digits must be"):
        A.AudioArrays(good.speech, good.digits + 10, good.speakers, good.noise)
    with pytest.raises(ValueError, match="noise must be"):
        A.AudioArrays(good.speech, good.digits, good.speakers, good.noise[:2])


def test_cli_trains_every_method_on_audio_and_reports_a_missing_file(tmp_path: Path, data_dir: Path) -> None:
    """A smoke run per kind of views through the real command line (tiny sizes, CPU), and the missing-file error."""
    common = ["--dataset", "audio", "--train-size", "16", "--test-size", "16", "--epochs", "1", "--batch-size", "8",
              "--width", "4", "--encoder", "convn", "--no-paper-probe", "--no-progress", "--device", "cpu"]
    methods = ("expert", "dropout", "viewmaker")
    cases = [("deep_experiments", ["run", *common, "--data-dir", str(data_dir), "--method", m, "--out", m], tmp_path)
             for m in methods]
    cases.append(("deep_experiments", ["run", *common, "--data-dir", str(tmp_path), "--out", "missing"], tmp_path))
    *runs, missing = run_clis(cases, tmp_path.parent / f"{tmp_path.name}-logs", timeout=600)
    for method, run in zip(methods, runs):
        assert run.code == 0, run.stderr
        assert "probe epoch 1" in run.stdout and (tmp_path / method / "probe.json").exists()
    lines = missing.stderr.strip().splitlines()
    assert missing.code == 2 and len(lines) == 1, missing.stderr
    assert "build_audio_offline.py" in lines[0] and "audio-digits.npz" in lines[0]


def test_training_on_audio_needs_neither_librosa_nor_espeak(data_dir: Path) -> None:
    """A training machine may have no librosa: the dataset, its views and the training loop must not import it."""
    import subprocess
    import sys

    code = ("import sys; from deep_experiments.data import DataConfig, build_dataset; import deep_experiments.run.train; "
            "import deep_experiments.augment_audio; "
            f"ds = build_dataset(DataConfig(dataset='audio', data_dir={str(data_dir)!r}), 'train'); ds.with_base()[0]; "
            "assert 'librosa' not in sys.modules, 'librosa imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0, done.stderr


def test_noise_dominates_is_the_step_of_equal_speech_and_noise_power() -> None:
    """Adding noise of the speech's own power raises a bin by NOISE_DOMINATES (3.01 dB); a noise 10 dB
    weaker raises it by less (0.41 dB), one 10 dB stronger by more: the audio focus mask's threshold."""
    level = torch.tensor([[100]], dtype=torch.uint8)  # 100 / 255 of the way up DB_RANGE
    clean = A.mix_levels(level, level, 0.0)
    quieter = torch.tensor([[100 - 32]], dtype=torch.uint8)  # 32 levels = 10.04 dB
    louder = torch.tensor([[100 + 32]], dtype=torch.uint8)
    assert float(A.mix_levels(level, level, 1.0) - clean) == pytest.approx(A.NOISE_DOMINATES, rel=1e-5)
    assert float(A.mix_levels(level, quieter, 1.0) - clean) < A.NOISE_DOMINATES
    assert float(A.mix_levels(level, louder, 1.0) - clean) > A.NOISE_DOMINATES
    assert A.NOISE_DOMINATES * (A.DB_RANGE[1] - A.DB_RANGE[0]) == pytest.approx(3.0103, abs=1e-4)


def test_audio_focus_splits_bins_by_which_of_speech_and_noise_dominates(data_dir: Path, tmp_path: Path) -> None:
    """scripts/viewmaker_focus.py on an audio viewmaker run: the overlay pixels are the noise-dominated bins
    (neither none nor all of them), and the file equals a direct overlay_focus call with that threshold."""
    import json

    from deep_experiments.configs import PRESETS, build_config
    from deep_experiments.models.viewmaker import Viewmaker
    from deep_experiments.run.checkpoint import save_checkpoint
    from deep_experiments.run.folder import RunFolder
    from deep_experiments.viewmaker_focus import overlay_focus, overlay_mask
    from featuredrop.config import to_dict
    from tests.scripts import load_script

    config = build_config(PRESETS["smoke"], {"data": {"dataset": "audio", "data_dir": str(data_dir), "train_size": 16,
                                                      "test_size": 16},
                                                 "views": {"kind": "viewmaker", "viewmaker": {"width": 4, "num_res_blocks": 1}}})
    folder = RunFolder(tmp_path / "audio" / "viewmaker" / "os1_p0.5" / "seed0")
    folder.root.mkdir(parents=True)
    folder.config.write_text(json.dumps(to_dict(config)))
    torch.manual_seed(0)
    vm = Viewmaker(1, 0.125, num_res_blocks=1, width=4)
    save_checkpoint(folder.checkpoint, {"epoch": 1, "modules": {"viewmaker": vm.state_dict()}})
    folder.probe.write_text(json.dumps({"fast": {}}))
    assert load_script("viewmaker_focus").main(["--results", str(tmp_path), "--images", "16", "--views", "2"]) == 0
    saved = json.loads((folder.root / "viewmaker_focus.json").read_text())
    test = build_dataset(config.data, "test", 0).at_strength(1.0).with_base()
    x, _, _, base = zip(*(test[i] for i in range(16)))
    x, base = torch.stack(x), torch.stack(base)
    mask = overlay_mask(x, base, A.NOISE_DOMINATES)
    assert 0 < float(mask.float().mean()) < 1 and float(mask.float().mean()) < float(overlay_mask(x, base).float().mean())
    direct = overlay_focus(vm.eval().delta, x, base, torch.Generator().manual_seed(0), 2, A.NOISE_DOMINATES)
    assert saved["overlay_fraction"] == pytest.approx(direct.overlay_fraction)
    assert saved["ratio"] == pytest.approx(direct.ratio, rel=1e-6)
