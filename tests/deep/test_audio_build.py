"""scripts/build_audio_offline.py: voice parsing, noises, checks, the AudioMNIST path and (with espeak-ng) reproducibility."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from deep_experiments.data import DataConfig, build_dataset
from deep_experiments.data import audio as A
from tests.scripts import load_script

ESPEAK = shutil.which("espeak-ng") is not None

VARIANT_LISTING = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/M      Adam               !v/adam
 5  variant         --/M      Mr_Serious         !v/Mr serious
 5  variant         --/M      Storm              !v/Storm             (en-us 5)
 5  variant         70/F      female1            !v/f1
"""
EN_LISTING = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 3  en-uk           --/M      english-mb-en1     mb/mb-en1            (en-gb 3)(en 2)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
"""


@pytest.fixture(scope="module")
def build():  # noqa: ANN201
    return load_script("build_audio_offline")


def test_voice_tables_are_parsed_despite_overflowing_columns(build) -> None:  # noqa: ANN001
    assert build.voice_table(VARIANT_LISTING) == [("variant", "!v/adam"), ("variant", "!v/Mr serious"),
                                                  ("variant", "!v/Storm"), ("variant", "!v/f1")]
    assert [lang for lang, f in build.voice_table(EN_LISTING) if f.startswith("gmw/")] == ["en-gb", "en-us"]


def test_babble_text_has_no_number_words_and_noises_follow_the_labels(build) -> None:  # noqa: ANN001
    words = {w.strip(".,'").lower() for s in build.SENTENCES for w in s.split()}
    assert not words & {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "to", "for"}
    assert tuple(build.NOISES) == A.NOISE_TYPES == ("babble", "traffic", "machinery")


def test_noise_segments_are_one_second_at_peak_0_05_and_spectrally_distinct(build) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    pool = [np.sin(np.arange(12_000) * 0.3) * np.hanning(12_000)]
    bank = build.noise_bank(6, rng, pool)
    assert bank.shape == (3, 6, 8000)
    np.testing.assert_allclose(np.abs(bank).max(axis=-1), 0.05, rtol=1e-12)
    spectra = np.abs(np.fft.rfft(bank, axis=-1)) ** 2  # 1 Hz bins
    low = spectra[..., :500].sum(-1) / spectra.sum(-1)
    assert (low[1] > 0.9).all()  # traffic: rumble below 500 Hz
    assert np.allclose(build.noise_bank(6, np.random.default_rng(0), pool), bank)  # a function of the generator


def test_check_refuses_wrong_counts_silent_clips_and_wrong_peaks(build) -> None:  # noqa: ANN001
    clips = np.zeros((10, 8000))
    clips[:, 100] = 1.0
    split = build.Split(clips, np.arange(10), np.zeros(10, dtype=int), cut=0, babble_pool=[])
    noise = np.full((3, 2, 8000), 0.05)
    speech_db = np.full((10, 64, 64), -20.0)
    noise_db = np.full((3, 2, 64, 64), -60.0)
    assert build.check("train", split, 1, speech_db, noise, noise_db) == []
    speech_db[3] = -95.0
    problems = build.check("train", split, 2, speech_db, noise * 2, noise_db)
    assert len(problems) == 3 and "expected 2 each" in problems[0]
    assert "never reach" in problems[1] and "noise peaks" in problems[2]


def _audiomnist(root: Path, speakers: tuple[int, ...]) -> Path:
    """Speech-like clips: a 0.4-s burst of a digit-dependent tone with breath noise (so babble is broadband)."""
    t = np.arange(int(0.4 * 48_000)) / 48_000
    rng = np.random.default_rng(0)
    for speaker in speakers:
        for digit in range(10):
            path = root / "data" / f"{speaker:02d}" / f"{digit}_{speaker:02d}_0.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            tone = np.sin(2 * np.pi * (300 + 100 * digit) * t) + 0.3 * rng.standard_normal(len(t))
            burst = tone / np.abs(tone).max() * np.hanning(len(t))
            wavfile.write(path, 48_000, (0.3 * burst * 32767).astype(np.int16))
    return root


def test_audiomnist_build_makes_a_loadable_speaker_disjoint_file_without_espeak(build, tmp_path: Path) -> None:  # noqa: ANN001
    root = _audiomnist(tmp_path / "am", (1, 5))  # speaker 5 is a Viewmaker test speaker
    assert build.main(["--audiomnist", str(root), "--out", str(tmp_path / "out"), "--noise-segments", "4"]) == 0
    meta = A.read_meta(tmp_path / "out" / A.AUDIO_FILE)
    assert meta["source"].startswith("AudioMNIST") and meta["counts"] == {"train": 10, "test": 10}
    train, test = (A.load_audio_split(tmp_path / "out", s) for s in ("train", "test"))
    assert sorted(train.digits.tolist()) == list(range(10)) and not set(train.speakers) & set(test.speakers)
    ds = build_dataset(DataConfig(dataset="audio", data_dir=str(tmp_path / "out")), "test")
    image, digit, noise = ds[0]
    assert image.shape == (1, 64, 64) and digit == test.digits[0] and noise in (0, 1, 2)
    assert (test.speech[:, :32].max(axis=(1, 2)) > test.speech[:, 48:].max(axis=(1, 2)) + 20).all()  # the tones


def test_a_failed_build_exits_1_on_one_line_and_writes_nothing(build, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    root = _audiomnist(tmp_path / "am", (1,))  # no test speaker
    assert build.main(["--audiomnist", str(root), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "test speakers" in err[0]
    assert not (tmp_path / "out" / A.AUDIO_FILE).exists()


@pytest.mark.skipif(not ESPEAK, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_espeak_build_is_byte_identical_when_run_twice(build, tmp_path: Path) -> None:  # noqa: ANN001
    args = ["--accents", "en-us", "--variants", "2", "--test-every", "2", "--train-reps", "1", "--noise-segments", "2"]
    for name in ("one", "two"):
        assert build.main([*args, "--out", str(tmp_path / name)]) == 0
    first, second = ((tmp_path / n / A.AUDIO_FILE).read_bytes() for n in ("one", "two"))
    assert first == second
    meta = A.read_meta(tmp_path / "one" / A.AUDIO_FILE)
    assert meta["stand_in_for"] == "AudioMNIST" and meta["counts"] == {"train": 10, "test": 10}
    assert set(meta["train_variants"]).isdisjoint(meta["test_variants"])
    arrays = A.load_audio_split(tmp_path / "one", "train")
    assert sorted(arrays.digits.tolist()) == list(range(10)) and arrays.speech.max(axis=(1, 2)).min() > 200


def test_listening_check_writes_wavs_and_a_figure(tmp_path: Path) -> None:
    from scipy.io import wavfile

    build = load_script("build_audio_offline")
    root = _audiomnist(tmp_path / "am", (1, 5))
    assert build.main(["--audiomnist", str(root), "--out", str(tmp_path / "data"), "--noise-segments", "2"]) == 0
    listen = load_script("audio_listening_check")
    assert listen.main(["--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--items", "2"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(["views.png"] + [f"item{i}-{v}.wav" for i in (0, 1) for v in ("clean", "noisy", "expert",
                                                                                          "dropout")])
    rate, wave = wavfile.read(tmp_path / "out" / "item0-clean.wav")
    assert rate == 8000 and wave.shape == (8000,) and np.abs(wave).max() > 1000
    digit = int(A.load_audio_split(tmp_path / "data", "test").digits[0])
    spectrum = np.abs(np.fft.rfft(wave.astype(float)))  # the inverted clean clip keeps its digit's tone (1-Hz bins)
    assert abs(int(np.argmax(spectrum)) - (300 + 100 * digit)) < 40
