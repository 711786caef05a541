"""Build the audio dataset file offline: spoken digits under three background noises, a stand-in for AudioMNIST.

::

    apt-get install espeak-ng                      # Debian package; this script needs it (and librosa)
    python scripts/build_audio_offline.py --out .data/audio
    python -m deep_experiments run --preset audio-cpu --data-dir .data/audio --method expert --out runs/audio

Writes ``OUT/audio-digits.npz`` (format and signal chain: :mod:`deep_experiments.data.audio`), the
only file the audio dataset reads; the training machine needs neither espeak-ng nor librosa.

**Speech (task A), a stand-in for AudioMNIST**: the English number words "zero" to "nine" spoken
by espeak-ng. A speaker is an English accent (every ``gmw/`` voice of ``espeak-ng --voices=en``)
with a voice variant (every variant of ``espeak-ng --voices=variant`` whose file name has no
space); each clip draws a pitch (20-80) and a speed (130-210 words per minute). The split is by
variant, so **train and test speakers are disjoint**: every ``--test-every``-th variant in sorted
order (default 4th: 25 of 101) speaks the test clips, in every accent. Each utterance is trimmed
of leading and trailing silence (below 1 % of its peak), peak-normalized to 1, resampled from
22.05 kHz to 8 kHz (``scipy.signal.resample_poly``) and placed at a random offset in a 1-s clip
(cut at 1 s if longer: counted, at most 1 % allowed). ``--train-reps`` / ``--test-reps`` clips
per (speaker, digit).

**Noise (task B)**, synthesized, every 1-s segment peak-normalized to 0.05 (the paper's audio protocol),
``--noise-segments`` per type and split, the test bank drawn apart from the train bank:

- babble: six talkers at random gains (0.5-1), each a random 1-s excerpt of an espeak-ng
  sentence (Harvard sentences without number words) by a random speaker of the same split;
- traffic: brown noise (leaky integrator) low-passed at 400 Hz plus 1-3 kHz tyre hiss (0.15),
  under a slow envelope of passing vehicles (Gaussian bumps 0.7-2 s wide, ~0.5 per second);
- machinery: a harmonic hum (fundamental 45-130 Hz, 10 harmonics at 1/k, slow 1 % wobble)
  plus periodic clicks (4-12 per second, 3-ms decaying bursts above 1 kHz).

``--audiomnist DIR`` builds the same file from the real AudioMNIST recordings instead
(:mod:`deep_experiments.data.audiomnist`; the Viewmaker code's 12 test speakers; babble from
time-reversed clips of the split's speakers, so espeak-ng is not needed).

Deterministic: one seed (``--seed``), sorted voice lists, a fixed loop order and a zip written
with fixed dates, so two runs give byte-identical files. The file is checked before it is
written (clips per digit, speaker-disjoint splits, speech and noise levels and peaks, cut
utterances); a failed check exits 1 with a one-line reason and writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deep_experiments.data.audio import (
    AUDIO_FILE,
    CLIP_SAMPLES,
    DB_RANGE,
    DIGITS,
    FMAX,
    FMIN,
    N_FFT,
    N_MELS,
    NOISE_PEAK,
    NOISE_TYPES,
    SAMPLE_RATE,
    SPEECH_PEAK,
    AudioArrays,
    log_mel_db,
    quantize_db,
    write_audio_file,
)
from featuredrop.atomic import check_output_dir
from featuredrop.cli import OneLineParser, nonnegative_int

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "The boy was there when the sun rose.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
)
"""Babble text: Harvard sentences (IEEE 1969) free of number words and their homophones."""
_NUMBER_SOUNDS = set(DIGIT_WORDS) | {"to", "too", "for", "won", "ate", "oh"}
PITCH = (20, 80)
SPEED = (130, 210)
ESPEAK_RATE = 22_050
TRIM = 0.01
MAX_CUT = 0.01
BABBLE_TALKERS = 6
BABBLE_POOL = 48
MIN_SPEECH_DB = -30.0
"""Every clean clip must reach this level somewhere (a silent or broken synthesis fails the check)."""


class BuildError(Exception):
    """A failed step or check: the build stops and writes nothing."""


class Split(NamedTuple):
    """Clips of one split as the build makes them: 1-s float64 waveforms, their labels, the babble pool."""

    clips: np.ndarray
    digits: np.ndarray
    speakers: np.ndarray
    cut: int
    babble_pool: list[np.ndarray]


# --- espeak-ng --------------------------------------------------------------------------------------


def _espeak(*args: str) -> str:
    if shutil.which("espeak-ng") is None:
        raise BuildError("espeak-ng not found (apt-get install espeak-ng), or pass --audiomnist DIR")
    done = subprocess.run(["espeak-ng", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"espeak-ng {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def voice_table(listing: str) -> list[tuple[str, str]]:
    """``(language, file)`` of each row of an ``espeak-ng --voices`` table.

    Columns: Pty, Language, Age/Gender, VoiceName, File, Other Languages (``(xx n)`` entries). Names
    can overflow their column, so rows are split on whitespace; a file name with a space keeps it.
    """
    rows = []
    for line in listing.splitlines()[1:]:
        tokens = line.split()
        if len(tokens) < 5:
            continue
        file = [tokens[4]]
        for token in tokens[5:]:
            if token.startswith("("):
                break
            file.append(token)
        rows.append((tokens[1], " ".join(file)))
    return rows


def espeak_accents() -> list[str]:
    """English accents built into espeak-ng (``gmw/`` voices; mbrola ``mb/`` voices need mbrola), sorted."""
    return sorted({lang for lang, file in voice_table(_espeak("--voices=en")) if file.startswith("gmw/")})


def espeak_variants() -> list[str]:
    """Voice variant file names (``!v/NAME``; names with a space are left out), sorted."""
    files = [file for _, file in voice_table(_espeak("--voices=variant"))]
    return sorted({f[3:] for f in files if f.startswith("!v/") and " " not in f})


def espeak_version() -> str:
    return _espeak("--version").split("Data at")[0].strip()


def speak(text: str, voice: str, pitch: int, speed: int, tmp: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice`` as float64 samples at :data:`SAMPLE_RATE`."""
    from deep_experiments.data.audiomnist import read_wav, resample

    path = tmp / "utterance.wav"
    _espeak("-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(path), text)
    samples, rate = read_wav(path)
    return resample(samples, rate, SAMPLE_RATE)


# --- clips ------------------------------------------------------------------------------------------


def place(utterance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """A 1-s clip: ``utterance`` trimmed, peak-normalized to 1, at a random offset; and whether it was cut."""
    peak = float(np.max(np.abs(utterance))) if utterance.size else 0.0
    if peak == 0:
        raise BuildError("a silent utterance (nothing above 0)")
    loud = np.flatnonzero(np.abs(utterance) >= TRIM * peak)
    word = utterance[loud[0]:loud[-1] + 1] * (SPEECH_PEAK / peak)
    cut = len(word) > CLIP_SAMPLES
    word = word[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES)
    start = int(rng.integers(0, CLIP_SAMPLES - len(word) + 1))
    clip[start:start + len(word)] = word
    return clip, cut


def espeak_split(accents: list[str], variants: list[str], reps: int, rng: np.random.Generator,
                 tmp: Path, speaker_names: list[str]) -> Split:
    """The clips of one split: every (accent, variant) speaker says every digit ``reps`` times."""
    clips, digits, speakers, cut = [], [], [], 0
    for accent in accents:
        for variant in variants:
            voice = f"{accent}+{variant}"
            speaker_names.append(voice)
            for digit, word in enumerate(DIGIT_WORDS):
                for _ in range(reps):
                    pitch, speed = int(rng.integers(PITCH[0], PITCH[1] + 1)), int(rng.integers(SPEED[0], SPEED[1] + 1))
                    clip, was_cut = place(speak(word, voice, pitch, speed, tmp), rng)
                    clips.append(clip)
                    digits.append(digit)
                    speakers.append(len(speaker_names) - 1)
                    cut += was_cut
    pool = []
    for _ in range(BABBLE_POOL):
        accent, variant = accents[rng.integers(len(accents))], variants[rng.integers(len(variants))]
        sentence = SENTENCES[rng.integers(len(SENTENCES))]
        pitch, speed = int(rng.integers(PITCH[0], PITCH[1] + 1)), int(rng.integers(SPEED[0], SPEED[1] + 1))
        pool.append(speak(sentence, f"{accent}+{variant}", pitch, speed, tmp))
    return Split(np.stack(clips), np.array(digits), np.array(speakers), cut, pool)


def audiomnist_split(data: object, test: bool, rng: np.random.Generator, speaker_names: list[str]) -> Split:
    """The clips of one split of real AudioMNIST (:class:`SpokenDigits`), speakers by the Viewmaker split."""
    from deep_experiments.data.audiomnist import TEST_SPEAKERS

    clips, digits, speakers, cut, ids = [], [], [], 0, {}
    for wave, digit, speaker in zip(data.waveforms, data.digits, data.speakers):
        if (int(speaker) in TEST_SPEAKERS) != test:
            continue
        if int(speaker) not in ids:
            ids[int(speaker)] = len(speaker_names)
            speaker_names.append(f"audiomnist-{int(speaker):02d}")
        clip, was_cut = place(wave, rng)
        clips.append(clip)
        digits.append(int(digit))
        speakers.append(ids[int(speaker)])
        cut += was_cut
    if not clips:
        raise BuildError(f"no AudioMNIST clips of the {'test' if test else 'train'} speakers")
    pool = [clips[i][::-1].copy() for i in rng.permutation(len(clips))[:BABBLE_POOL]]
    return Split(np.stack(clips), np.array(digits), np.array(speakers), cut, pool)


# --- noise ------------------------------------------------------------------------------------------


def _excerpt(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random 1-s stretch of ``wave``, repeated cyclically when shorter."""
    if len(wave) < CLIP_SAMPLES:
        wave = np.tile(wave, CLIP_SAMPLES // len(wave) + 1)
    start = int(rng.integers(0, len(wave) - CLIP_SAMPLES + 1))
    return wave[start:start + CLIP_SAMPLES]


def babble(rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    """Six talkers: random excerpts of random pool utterances at random gains, summed."""
    picks = rng.integers(len(pool), size=BABBLE_TALKERS)
    return np.sum([rng.uniform(0.5, 1.0) * _excerpt(pool[int(i)], rng) for i in picks], axis=0)


def _bumps(n: int, rng: np.random.Generator, rate: float, width: tuple[float, float]) -> np.ndarray:
    """A slow envelope: Gaussian bumps at Poisson times (vehicles passing by), over a floor of 0.3."""
    t = np.arange(n) / SAMPLE_RATE
    env = np.full(n, 0.3)
    for _ in range(int(rng.poisson(rate * n / SAMPLE_RATE)) + 1):
        centre, w = rng.uniform(0, t[-1]), rng.uniform(*width)
        env += rng.uniform(0.5, 1.5) * np.exp(-0.5 * ((t - centre) / (w / 2)) ** 2)
    return env


def traffic(rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    """Low-passed brown rumble plus tyre hiss under a passing-vehicle envelope (3 s made, middle 1 s kept)."""
    from scipy.signal import butter, lfilter, sosfilt

    n = 3 * CLIP_SAMPLES
    rumble = lfilter([1.0], [1.0, -0.995], rng.standard_normal(n))
    rumble = sosfilt(butter(4, 400, "lowpass", fs=SAMPLE_RATE, output="sos"), rumble)
    hiss = sosfilt(butter(4, (1000, 3000), "bandpass", fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
    mix = rumble / np.std(rumble) + 0.15 * hiss / np.std(hiss)
    return (mix * _bumps(n, rng, 0.5, (0.7, 2.0)))[CLIP_SAMPLES:2 * CLIP_SAMPLES]


def machinery(rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    """A harmonic hum with a slow wobble plus periodic clicks (decaying broadband bursts)."""
    from scipy.signal import butter, sosfilt

    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    f0 = rng.uniform(45, 130)
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 2 * np.pi)))) / SAMPLE_RATE
    hum = np.sum([rng.uniform(0.5, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 11)], axis=0)
    clicks = np.zeros(CLIP_SAMPLES)
    period = SAMPLE_RATE / rng.uniform(4, 12)
    burst = np.exp(-np.arange(int(0.02 * SAMPLE_RATE)) / (0.003 * SAMPLE_RATE))
    for start in np.arange(rng.uniform(0, period), CLIP_SAMPLES, period):
        s = int(start + rng.normal(0, 0.02 * period))
        if 0 <= s < CLIP_SAMPLES:
            piece = (burst * rng.standard_normal(len(burst)))[:CLIP_SAMPLES - s]
            clicks[s:s + len(piece)] += piece
    clicks = sosfilt(butter(2, 1000, "highpass", fs=SAMPLE_RATE, output="sos"), clicks)
    return hum / np.max(np.abs(hum)) + rng.uniform(0.5, 1.5) * clicks / max(np.max(np.abs(clicks)), 1e-12)


NOISES: dict[str, Callable[[np.random.Generator, Sequence[np.ndarray]], np.ndarray]] = {
    "babble": babble, "traffic": traffic, "machinery": machinery,
}
"""The noise makers in the order of :data:`NOISE_TYPES` (the task-B labels)."""


def noise_bank(segments: int, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    """``(3, segments, CLIP_SAMPLES)`` 1-s noise segments, each peak-normalized to :data:`NOISE_PEAK`."""
    bank = np.empty((len(NOISE_TYPES), segments, CLIP_SAMPLES))
    for k, make in enumerate(NOISES.values()):
        for j in range(segments):
            wave = make(rng, pool)
            bank[k, j] = wave * (NOISE_PEAK / np.max(np.abs(wave)))
    return bank


# --- spectrograms, checks, file ---------------------------------------------------------------------


def mel_filterbank() -> np.ndarray:
    """The 64 triangular mel filters (Slaney scale, 0-4 kHz, peak 1) of the dataset's chain."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, norm=None,
                               htk=False, dtype=np.float64)


def levels(waves: np.ndarray, filterbank: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """uint8 log-mel levels and float dB of ``(N, CLIP_SAMPLES)`` waveforms (float64 STFT, batched)."""
    import torch

    fb = torch.from_numpy(filterbank)
    db = np.concatenate([log_mel_db(torch.from_numpy(np.ascontiguousarray(waves[i:i + batch])), fb).numpy()
                         for i in range(0, len(waves), batch)])
    return quantize_db(db), db


def check(name: str, split: Split, reps_per_digit: int | None, speech_db: np.ndarray, noise: np.ndarray,
          noise_db: np.ndarray) -> list[str]:
    """Problems of one split (empty when it is fine) and, printed, its statistics."""
    problems = []
    counts = np.bincount(split.digits, minlength=DIGITS)
    if len(counts) != DIGITS or counts.min() == 0 or (reps_per_digit is not None and set(counts) != {reps_per_digit}):
        problems.append(f"{name}: clips per digit {counts.tolist()}" +
                        ("" if reps_per_digit is None else f", expected {reps_per_digit} each"))
    peaks = np.max(np.abs(split.clips), axis=1)
    if not np.allclose(peaks, SPEECH_PEAK, atol=1e-9):
        problems.append(f"{name}: speech peaks in [{peaks.min():.3f}, {peaks.max():.3f}], not {SPEECH_PEAK}")
    quiet = int(np.sum(speech_db.max(axis=(1, 2)) < MIN_SPEECH_DB))
    if quiet:
        problems.append(f"{name}: {quiet} clips never reach {MIN_SPEECH_DB} dB")
    if split.cut > MAX_CUT * len(split.clips):
        problems.append(f"{name}: {split.cut} utterances longer than 1 s (cut), more than {MAX_CUT:.0%}")
    noise_peaks = np.max(np.abs(noise), axis=-1)
    if not np.allclose(noise_peaks, NOISE_PEAK, atol=1e-9):
        problems.append(f"{name}: noise peaks in [{noise_peaks.min():.4f}, {noise_peaks.max():.4f}], not {NOISE_PEAK}")
    for k, kind in enumerate(NOISE_TYPES):
        audible = float(np.mean(noise_db[k] > DB_RANGE[0]))
        if audible < 0.5:
            problems.append(f"{name}: {kind} noise above {DB_RANGE[0]} dB in only {audible:.0%} of its bins")
    lo, hi = DB_RANGE
    print(f"{name}: {len(split.clips)} clips, {len(set(split.speakers.tolist()))} speakers, per digit "
          f"{counts.tolist()}; cut {split.cut}; speech dB max median {np.median(speech_db.max(axis=(1, 2))):.1f}, "
          f"clipped at {hi:g} dB {np.mean(speech_db > hi):.2%} of bins, silent {np.mean(speech_db <= lo):.0%}")
    for k, kind in enumerate(NOISE_TYPES):
        q = np.percentile(noise_db[k], [5, 50, 95])
        print(f"  {kind:<9} noise: {noise.shape[1]} segments, dB 5/50/95 % {q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f}")
    return problems


def build(a: argparse.Namespace) -> Path:
    """Synthesize (or read), check and write the file (``a``: the parsed arguments); returns its path."""
    rng = np.random.default_rng(a.seed)
    speaker_names: list[str] = []
    if a.audiomnist is not None:
        from deep_experiments.data.audiomnist import load_audiomnist

        data = load_audiomnist(a.audiomnist, SAMPLE_RATE)
        splits = {"train": audiomnist_split(data, False, rng, speaker_names),
                  "test": audiomnist_split(data, True, rng, speaker_names)}
        reps = {"train": None, "test": None}
        source = {"source": "AudioMNIST (real recordings)", "stand_in_for": None, "audiomnist_dir": str(a.audiomnist)}
    else:
        accents = espeak_accents() if not a.accents else sorted(a.accents)
        variants = espeak_variants()[:a.variants]
        test_variants = [v for i, v in enumerate(variants) if i % a.test_every == a.test_every - 1]
        train_variants = [v for v in variants if v not in test_variants]
        if not accents or not train_variants or not test_variants:
            raise BuildError(f"need accents and variants for both splits, got {len(accents)} accents, "
                             f"{len(train_variants)} train / {len(test_variants)} test variants")
        with tempfile.TemporaryDirectory() as tmp:
            splits = {"train": espeak_split(accents, train_variants, a.train_reps, rng, Path(tmp), speaker_names),
                      "test": espeak_split(accents, test_variants, a.test_reps, rng, Path(tmp), speaker_names)}
        reps = {"train": len(accents) * len(train_variants) * a.train_reps,
                "test": len(accents) * len(test_variants) * a.test_reps}
        source = {"source": f"espeak-ng synthesized digits ({espeak_version()})", "stand_in_for": "AudioMNIST",
                  "accents": accents, "train_variants": train_variants, "test_variants": test_variants,
                  "train_reps": a.train_reps, "test_reps": a.test_reps, "pitch": list(PITCH), "speed_wpm": list(SPEED),
                  "babble_sentences": list(SENTENCES)}
    filterbank = mel_filterbank()
    problems, arrays = [], {}
    if set(splits["train"].speakers.tolist()) & set(splits["test"].speakers.tolist()):
        problems.append("train and test share speakers")
    for name, split in splits.items():
        order = rng.permutation(len(split.clips))  # the first N of a split are a random subset
        split = split._replace(clips=split.clips[order], digits=split.digits[order], speakers=split.speakers[order])
        noise = noise_bank(a.noise_segments, rng, split.babble_pool)
        speech_levels, speech_db = levels(split.clips, filterbank)
        noise_levels, noise_db = levels(noise.reshape(-1, CLIP_SAMPLES), filterbank)
        noise_db = noise_db.reshape(len(NOISE_TYPES), -1, *noise_db.shape[1:])
        problems += check(name, split, reps[name], speech_db, noise, noise_db)
        arrays[name] = AudioArrays(speech_levels, split.digits, split.speakers,
                                   noise_levels.reshape(len(NOISE_TYPES), -1, *noise_levels.shape[1:]))
    if problems:
        raise BuildError("refusing to write the file: " + "; ".join(problems))
    meta = {**source, "seed": a.seed, "noise_segments": a.noise_segments,
            "noise": "synthesized babble / traffic / machinery (scripts/build_audio_offline.py)",
            "split": "speaker-disjoint", "mixing": "power addition of the stored log-mel levels at load time",
            "counts": {name: len(s.clips) for name, s in splits.items()}}
    path = Path(a.out) / AUDIO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio_file(path, arrays, speaker_names, filterbank, meta)
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the file was written, 1 when a step or check failed (nothing written)."""
    p = OneLineParser(prog="build_audio_offline", description=__doc__.split("\n")[0])
    p.add_argument("--out", default=".data/audio", help="folder of the file (default %(default)s); pass it as --data-dir")
    p.add_argument("--audiomnist", default=None, help="build from real AudioMNIST wav files in this folder instead")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every random draw (default %(default)s)")
    p.add_argument("--accents", nargs="+", default=None, help="espeak-ng English accents (default: all gmw/ voices)")
    p.add_argument("--variants", type=int, default=None, help="use the first N variants in sorted order (default all)")
    p.add_argument("--test-every", type=int, default=4, help="every Nth variant speaks the test split (default 4)")
    p.add_argument("--train-reps", type=int, default=2, help="clips per (train speaker, digit) (default 2)")
    p.add_argument("--test-reps", type=int, default=1, help="clips per (test speaker, digit) (default 1)")
    p.add_argument("--noise-segments", type=int, default=256, help="1-s segments per noise type and split (default 256)")
    args = p.parse_args(argv)
    for flag in ("test_every", "train_reps", "test_reps", "noise_segments"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.variants is not None and args.variants < 2:
        p.error(f"--variants must be >= 2 (one per split at least), got {args.variants}")
    try:  # checked before the (minutes-long) build starts
        check_output_dir(args.out)
        if args.audiomnist is not None and not Path(args.audiomnist).is_dir():
            raise ValueError(f"--audiomnist {args.audiomnist}: not a folder")
    except ValueError as err:
        p.error(str(err))
    try:
        path = build(args)
    except (BuildError, OSError, ValueError) as err:
        print(f"build_audio_offline: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB); pass --data-dir {path.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
