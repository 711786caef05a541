"""The ``"audio"`` expert policy: each operation checked on inputs whose answer is known, plus randomness."""

from __future__ import annotations

import pytest
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.augment_audio import AudioAugment, AudioPolicy

OFF = dict(speed=(1.0, 1.0), shift=0.0, pitch_bands=0.0, gain_db=0.0, mask_max=0, noise_db=0.0)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spectrograms(n: int = 8, seed: int = 0) -> torch.Tensor:
    x = torch.rand(n, 1, 64, 64, generator=_gen(seed))
    x[:, :, :, :10] = 0.0  # some silence
    return x


def test_every_operation_off_is_the_identity() -> None:
    x = _spectrograms()
    torch.testing.assert_close(AudioAugment(64, AudioPolicy(**OFF))(x, _gen()), x, atol=1e-5, rtol=0)


def test_views_are_in_unit_range_reproducible_and_random() -> None:
    x, aug = _spectrograms(), AudioAugment(64)
    one, same, other = aug(x, _gen(1)), aug(x, _gen(1)), aug(x, _gen(2))
    assert one.shape == x.shape and float(one.min()) >= 0 and float(one.max()) <= 1
    assert torch.equal(one, same) and not torch.equal(one, other)
    assert not torch.equal(one[0], one[1])  # parameters are drawn per example


def test_masks_silence_one_band_of_rows_and_one_of_columns_narrower_than_40() -> None:
    aug = AudioAugment(64, AudioPolicy(**{**OFF, "mask_max": 40}))
    views = aug(torch.ones(64, 1, 64, 64), _gen(3))
    widths = []
    for v in views[:, 0]:
        rows = (v == 0).all(dim=1).nonzero().flatten()
        cols = (v == 0).all(dim=0).nonzero().flatten()
        for band in (rows, cols):
            if len(band):
                assert band.tolist() == list(range(int(band[0]), int(band[0]) + len(band)))  # contiguous
        expected = torch.ones(64, 64)
        expected[rows] = 0
        expected[:, cols] = 0
        assert torch.equal(v, expected)  # nothing else changed
        widths += [len(rows), len(cols)]
    assert max(widths) < 40 and min(widths) == 0 and max(widths) > 20


def test_gain_shifts_non_silent_levels_by_at_most_6_db() -> None:
    x = torch.full((32, 1, 64, 64), 0.5)
    x[:, :, :, :8] = 0.0
    views = AudioAugment(64, AudioPolicy(**{**OFF, "gain_db": 6.0}))(x, _gen(4))
    assert torch.equal(views[..., :8], x[..., :8])  # silence stays silent
    shift = views[..., 8:] - 0.5
    per_view = shift.amax(dim=(1, 2, 3))
    assert torch.equal(per_view, shift.amin(dim=(1, 2, 3)))  # one gain per view, on every bin
    assert float(per_view.abs().max()) <= 6 / 80 + 1e-6 and float(per_view.std()) > 0.01


def test_pitch_moves_content_along_the_mel_axis_and_time_shift_along_time() -> None:
    x = torch.zeros(16, 1, 64, 64)
    x[:, :, 30:34, 30:34] = 1.0
    pitched = AudioAugment(64, AudioPolicy(**{**OFF, "pitch_bands": 3.0}))(x, _gen(5))
    shifted = AudioAugment(64, AudioPolicy(**{**OFF, "shift": 0.2}))(x, _gen(5))
    rows = torch.arange(64.0).view(1, 64, 1)
    for view in pitched[:, 0]:
        centre = float((view * rows).sum() / view.sum())
        assert abs(centre - 31.5) <= 3.0 + 1e-4
        assert torch.equal(view.sum(dim=0) > 1e-4, x[0, 0].sum(dim=0) > 0)  # frames unchanged
    moved = [abs(float((v * rows.view(1, 1, 64)).sum() / v.sum()) - 31.5) for v in shifted[:, 0]]
    assert max(moved) <= 0.2 * 64 + 1e-3 and max(moved) > 3


def test_speed_stretches_time_about_the_centre() -> None:
    x = torch.zeros(1, 1, 64, 64)
    x[:, :, :, 16:48] = 1.0
    aug = AudioAugment(64, AudioPolicy(**{**OFF, "speed": (0.5, 0.5)}))
    slow = aug(x, _gen())[0, 0, 0]
    assert float(slow.sum()) == pytest.approx(64.0, abs=1.0)  # twice as long: 32 -> 64 frames


def test_noise_has_the_baselines_standard_deviation() -> None:
    x = torch.full((16, 1, 64, 64), 0.5)
    views = AudioAugment(64, AudioPolicy(**{**OFF, "noise_db": 0.25 * 11.8}))(x, _gen(6))
    assert float((views - 0.5).std()) == pytest.approx(0.25 * 11.8 / 80, rel=0.05)


def test_expert_augment_dispatches_the_audio_policy_and_normalizes() -> None:
    x = _spectrograms()
    raw = ExpertAugment(1, 64, "audio", normalize=False)(x, _gen(7))
    torch.testing.assert_close(raw, AudioAugment(64)(x, _gen(7)))
    normed = ExpertAugment(1, 64, "audio")(x, _gen(7))
    torch.testing.assert_close(normed, (raw - 0.5) / 0.5)
    with pytest.raises(ValueError, match="policy"):
        ExpertAugment(1, 64, "spectral")  # type: ignore[arg-type]


def test_bad_policy_values_are_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        AudioPolicy(speed=(1.2, 0.9))
    with pytest.raises(ValueError, match="mask_max"):
        AudioPolicy(mask_max=-1)
    with pytest.raises(ValueError, match="size"):
        AudioAugment(0)
