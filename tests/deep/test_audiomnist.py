"""The real AudioMNIST loader on tiny wav files the test writes in AudioMNIST's layout (sine bursts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from deep_experiments.data.audiomnist import TEST_SPEAKERS, load_audiomnist


def sine_burst(seconds: float, freq: float, rate: int = 48_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def write_clips(root: Path, clips: dict[str, np.ndarray], rate: int = 48_000) -> Path:
    """``clips``: ``"<speaker>/<file name>"`` -> int16 samples, written under ``root/data``."""
    for name, samples in clips.items():
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(path, rate, samples)
    return root


def test_labels_speakers_and_resampled_lengths(tmp_path: Path) -> None:
    root = write_clips(tmp_path, {
        "01/3_01_0.wav": sine_burst(0.5, 440),
        "01/3_01_1.wav": sine_burst(1.0, 440),
        "01/9_01_12.wav": sine_burst(0.25, 880),
        "07/0_07_4.wav": sine_burst(0.6, 300),
    })
    (root / "data" / "audioMNIST_meta.txt").write_text("{}")  # shipped beside the speaker folders: ignored
    data = load_audiomnist(root, sample_rate=8_000)
    assert data.digits.tolist() == [3, 3, 9, 0] and data.speakers.tolist() == [1, 1, 1, 7]
    assert data.repetitions.tolist() == [0, 1, 12, 4]
    assert [len(w) for w in data.waveforms] == [4000, 8000, 2000, 4800]  # 48 kHz -> 8 kHz: a sixth
    spectrum = np.abs(np.fft.rfft(data.waveforms[1]))
    assert np.argmax(spectrum) == 440 and np.max(np.abs(data.waveforms[1][100:-100])) == pytest.approx(0.5, abs=0.01)
    same = load_audiomnist(root / "data", sample_rate=16_000)  # the data folder itself, another rate
    assert [len(w) for w in same.waveforms] == [8000, 16000, 4000, 9600]


def test_other_rates_are_resampled_from_their_own_rate(tmp_path: Path) -> None:
    root = write_clips(tmp_path, {"02/5_02_0.wav": sine_burst(1.0, 500, rate=44_100)}, rate=44_100)
    (wave,) = load_audiomnist(root).waveforms
    assert len(wave) == 8000 and np.argmax(np.abs(np.fft.rfft(wave))) == 500


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("01/three_01_0.wav", None, "not an AudioMNIST file name"),
        ("01/3_1_0.wav", None, "not an AudioMNIST file name"),
        ("01/3_02_0.wav", None, "speaker 02 in the name but folder 01"),
        ("speaker1/3_01_0.wav", None, "not an AudioMNIST speaker folder"),
        ("01/3_01_0.wav", b"RIFF garbage", "not a readable wav file"),
        ("01/3_01_0.wav", "stereo", "expected mono"),
    ],
)
def test_bad_files_and_names_are_refused_naming_the_path(tmp_path: Path, name: str, content: object,
                                                         message: str) -> None:
    path = tmp_path / "data" / name
    path.parent.mkdir(parents=True)
    if content is None:
        wavfile.write(path, 48_000, sine_burst(0.1, 440))
    elif content == "stereo":
        wavfile.write(path, 48_000, np.stack([sine_burst(0.1, 440)] * 2, axis=1))
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message) as info:
        load_audiomnist(tmp_path)
    assert str(path.parent if "folder" in message and "speaker" in name else path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_or_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audiomnist(tmp_path / "nowhere")
    (tmp_path / "data" / "01").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no AudioMNIST wav files"):
        load_audiomnist(tmp_path)
    with pytest.raises(ValueError, match="sample_rate"):
        load_audiomnist(tmp_path, sample_rate=0)


def test_test_speakers_are_the_viewmaker_codes_twelve() -> None:
    assert len(TEST_SPEAKERS) == 12 and set(TEST_SPEAKERS) <= set(range(1, 61))
    assert sorted((26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51)) == list(TEST_SPEAKERS)
