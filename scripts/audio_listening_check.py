"""Listening check of the audio dataset: a few test items and their views as wav files and one spectrogram figure.

::

    python scripts/audio_listening_check.py --data-dir .data/audio --out results/audio-cpu/listening \\
        [--run results/audio-cpu/audio/viewmaker/os1_p0.5/seed0]

For each of ``--items`` test clips (the espeak-ng stand-in for AudioMNIST unless the file was
built from AudioMNIST) it writes ``itemK-<view>.wav`` for the clean clip, the noisy item, one
expert view (policy ``"audio"``), one feature-dropout view (p 0.5, so noise kept or dropped at
random) and, with ``--run`` (a finished viewmaker run on this data), one viewmaker view; and
``views.png`` with the spectrograms of all of them (two views each). Spectrograms are inverted
with ``librosa.feature.inverse.mel_to_stft`` (non-negative least squares through the stored mel
filterbank) and Griffin-Lim (64 iterations, seeded), so the wavs carry Griffin-Lim's phase
artefacts on top of the views. Every random draw is seeded (``--seed``).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch

from deep_experiments.augment import ExpertAugment
from deep_experiments.data import DataConfig, build_dataset
from deep_experiments.data import audio as A
from deep_experiments.views.dropout import DropoutViews
from featuredrop.atomic import atomic_open, atomic_write, check_output_dir
from featuredrop.cli import OneLineParser

NOISE_NAMES = dict(enumerate(A.NOISE_TYPES))
GRIFFIN_LIM_ITERATIONS = 64


def to_waveform(image: np.ndarray, filterbank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1-s waveform whose log-mel is about ``image`` ((64, 64) in [0, 1]), peak 0.9."""
    import librosa

    db = A.DB_RANGE[0] + image.astype(np.float64) * (A.DB_RANGE[1] - A.DB_RANGE[0])
    power = np.where(image > 0, 10 ** (db / 10), 0.0)
    window_sum = np.hanning(A.N_FFT + 1)[:-1].sum()  # periodic Hann, as the dataset's STFT
    power *= (window_sum / 2) ** 2  # undo the dataset's amplitude scaling (librosa's STFT is unscaled)
    power = np.concatenate([power, power[:, -1:]], axis=1)  # the dataset drops the STFT's 65th frame: repeat the 64th
    stft = librosa.util.nnls(filterbank, power) ** 0.5
    wave = librosa.griffinlim(stft, n_iter=GRIFFIN_LIM_ITERATIONS, hop_length=A.HOP, n_fft=A.N_FFT,
                              length=A.CLIP_SAMPLES, random_state=rng)
    return wave * (0.9 / max(float(np.max(np.abs(wave))), 1e-12))


def write_wav(path: Path, wave: np.ndarray) -> None:
    from scipy.io import wavfile

    buffer = io.BytesIO()
    wavfile.write(buffer, A.SAMPLE_RATE, (np.clip(wave, -1, 1) * 32767).astype(np.int16))
    atomic_write(path, buffer.getvalue())


def make_views(data_dir: str, items: int, seed: int, run: str | None) -> tuple[list[str], torch.Tensor, list[str]]:
    """Column names, images ``(items, columns, 64, 64)`` in [0, 1] and each item's label text."""
    ds = build_dataset(DataConfig(dataset="audio", data_dir=data_dir, test_size=items), "test", seed).with_base()
    image, digits, noises, base = zip(*(ds[i] for i in range(len(ds))))
    image, base = torch.stack(image), torch.stack(base)
    gen = torch.Generator().manual_seed(seed)
    expert = ExpertAugment(1, A.N_MELS, "audio", normalize=False)
    dropout = DropoutViews(expert, p=0.5)
    columns = {"clean": base, "noisy": image}
    for k in (1, 2):
        columns[f"expert{k}"] = expert(image, gen)
    for k in (1, 2):
        columns[f"dropout{k}"] = dropout(image, base, gen)
    if run is not None:
        from deep_experiments.run.folder import RunFolder

        viewmaker = RunFolder(run).load_viewmaker().eval()
        with torch.no_grad():
            for k in (1, 2):
                columns[f"viewmaker{k}"] = viewmaker(image, gen).clamp(0, 1)  # clamped for display and listening
    stacked = torch.stack([c[:, 0] for c in columns.values()], dim=1)
    labels = [f"digit {d}, {NOISE_NAMES[n]}" for d, n in zip(digits, noises)]
    return list(columns), stacked, labels


def figure(path: Path, names: list[str], images: torch.Tensor, labels: list[str], source: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows + 0.5), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r, c].numpy(), origin="lower", vmin=0, vmax=1, cmap="magma", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=8)
        axes[r, 0].set_ylabel(labels[r], fontsize=7)
    fig.suptitle(f"audio views, test clips ({source}); log-mel, -90 to -10 dB", fontsize=8)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=60)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the wavs and the figure are written."""
    p = OneLineParser(prog="audio_listening_check", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=".data/audio", help="folder of audio-digits.npz (default %(default)s)")
    p.add_argument("--out", default="results/audio-cpu/listening", help="output folder (default %(default)s)")
    p.add_argument("--run", default=None, help="a finished viewmaker run folder on this data (adds its views)")
    p.add_argument("--items", type=int, default=3, help="test clips (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise draws, views and Griffin-Lim")
    args = p.parse_args(argv)
    if args.items < 1:
        p.error(f"--items must be >= 1, got {args.items}")
    if args.seed < 0:
        p.error(f"--seed must be >= 0, got {args.seed}")
    try:  # the options, the audio file and the run are checked before anything is made
        out = check_output_dir(args.out)
        A.read_meta(A.audio_file(args.data_dir))
        if args.run is not None and not Path(args.run).is_dir():
            raise ValueError(f"--run {args.run}: not a folder")
    except (ValueError, OSError) as err:
        p.error(" ".join(str(err).split()))
    try:
        names, images, labels = make_views(args.data_dir, args.items, args.seed, args.run)
        meta = A.read_meta(A.audio_file(args.data_dir))
        with np.load(A.audio_file(args.data_dir)) as npz:
            filterbank = npz["mel_filterbank"].astype(np.float64)
        out.mkdir(parents=True, exist_ok=True)
        source = f"stand-in for {meta['stand_in_for']}" if meta.get("stand_in_for") else str(meta.get("source"))
        figure(out / "views.png", names, images, labels, source)
        rng = np.random.default_rng(args.seed)
        for i in range(len(labels)):
            for c, name in enumerate(names):
                if name.endswith("2"):
                    continue  # one view of each kind as sound; both are in the figure
                write_wav(out / f"item{i}-{name.rstrip('1')}.wav", to_waveform(images[i, c].numpy(), filterbank, rng))
    except (ValueError, OSError) as err:
        print(f"audio_listening_check: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(f"wrote {out}/views.png and {len(labels)} x {sum(not n.endswith('2') for n in names)} wav files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
