"""A table of bad inputs through the real CLIs: one line on stderr naming the input, exit 2, nothing changed.

Every row runs ``python -m MODULE ARGS`` in a subprocess (:mod:`tests.cli_runner`: one process pays
the imports, each row runs in a forked child exactly as ``python -m`` would) inside a scratch
folder holding the files the row needs (a finished tiny run folder, a sweep folder, a plain file
in the way, ...). For each row: exit status 2, exactly one line on stderr, that line names the
bad input, no ``Traceback`` anywhere, and no file in the scratch folder created, changed or
removed. Two rows per CLI also go through a plain ``sys.executable -m`` subprocess, and the
console scripts' own names are checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deep_experiments.run.train as train_module
from deep_experiments.cli import main as deep_main
from deep_experiments.configs import PRESETS, build_config
from deep_experiments.guards import NonFiniteLossError
from deep_experiments.run.folder import RunFolder
from featuredrop.config import save_json, to_dict
from linear_theory import FeatureBlock
from linear_theory.sweep import main as sweep_main
from tests.cli_runner import run_clis

SWEEP, DEEP, FIGURES = "linear_theory.sweep", "deep_experiments", "paper_figures"
# the scripts, run as ``python scripts/NAME.py`` (tests.cli_runner runs a path ending in .py as a script)
GRID, PAPER_GRID, GPU_CHECK = "scripts/deep_cpu_grid.py", "scripts/paper_grid.py", "scripts/gpu_check.py"
FOCUS, COLLECT, RANDBITS = "scripts/viewmaker_focus.py", "scripts/collect_runs.py", "scripts/randbits_colab.py"
FETCH_MNIST, FETCH_FASHION = "scripts/fetch_mnist_offline.py", "scripts/fetch_fashion_mnist_offline.py"
SHORTCUT, REFERENCE = "scripts/overlay_shortcut.py", "scripts/reference_runs.py"
COMPARE = "scripts/compare_runs.py"
LISTENING, BUILD_AUDIO, TABLE = "scripts/audio_listening_check.py", "scripts/build_audio_offline.py", \
    "scripts/deep_cpu_table.py"
B_AUGMENT, B_CLOSED, B_STEP = "benchmarks/bench_augment.py", "benchmarks/bench_closed_form.py", \
    "benchmarks/bench_deep_step.py"
B_DYNAMICS, B_INFONCE = "benchmarks/bench_dynamics.py", "benchmarks/bench_infonce_batch.py"
BENCH_TABLE = "scripts/bench_table.py"
IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# a tiny run: 16 images, batch 8, width 4, one epoch, fast probe only (what the `run` rows point at)
TINY = ["--preset", "smoke", "--train-size", "16", "--test-size", "16", "--batch-size", "8", "--epochs", "1",
        "--width", "4", "--no-paper-probe", "--device", "cpu", "--no-progress"]
INFONCE = ["--loss", "infonce", "--ratio", "0.5", "--dropout", "0", "--steps", "3", "--batch-size", "8",
           "--input-dim", "16", "--no-progress"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_both(run: Path) -> None:
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (run / "checkpoint.prev.pt").write_bytes(b"")


def _checkpoint_of_another_shape(run: Path) -> None:
    """A checkpoint whose encoder has another shape (what a checkpoint of another width looks like)."""
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    encoder = state["modules"]["encoder"]
    key = next(k for k, v in encoder.items() if v.ndim == 2)
    encoder[key] = torch.zeros(encoder[key].shape[0] + 1, encoder[key].shape[1] * 2)
    torch.save(state, run / "checkpoint.pt")


def _truncated_results(ws: Path) -> None:
    """``results/``: one finished viewmaker run whose ``config.json`` is truncated."""
    shutil.copytree(ws / "run", ws / "results" / "c+digits" / "viewmaker" / "os1_p0.5" / "seed0")
    _truncate(ws / "results" / "c+digits" / "viewmaker" / "os1_p0.5" / "seed0" / "config.json")


def _empty_files(folder: Path, suffix: str = "") -> None:
    folder.mkdir(parents=True)
    for name in IDX:
        (folder / f"{name}{suffix}").write_bytes(b"")


def _backbone_over_checkpoint(run: Path) -> None:
    shutil.copy(run / "backbone.pt", run / "checkpoint.pt")


def _infinite_batchnorm(run: Path) -> None:
    """What an lr of 1e10 left behind before the finiteness check: infinite BatchNorm statistics."""
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    key = next(k for k in state["modules"]["encoder"] if k.endswith("running_var"))
    state["modules"]["encoder"][key].fill_(float("inf"))
    torch.save(state, run / "checkpoint.pt")


# id, module, args, setup of the scratch folder (files it needs), the text stderr must contain
# ("_" and "-" count as the same character). Scratch folder: `afile` (a plain file), `run` (a
# finished tiny run of TINY, with checkpoint.pt and no earlier checkpoint), `sweep` (a sweep of
# --ratio 0.5 --dropout 0).
ROWS: list[tuple[str, str, list[str], object, str]] = [
    # --- the sweep ------------------------------------------------------------------------------
    ("sweep-grid-too-big", SWEEP, ["--ratio", "0.02:1:1000000000"], None, "ratio"),
    ("sweep-input-dim-too-big", SWEEP, ["--input-dim", "100000000"], None, "--input-dim"),
    ("sweep-dims-too-big", SWEEP, ["--dims", "100000000,4"], None, "--dims"),
    ("sweep-rep-dim-too-big", SWEEP, ["--rep-dim", "1000000"], None, "--rep-dim"),
    ("sweep-seeds-too-many", SWEEP, [*INFONCE, "--seeds", "1000000000"], None, "--seeds"),
    ("sweep-infonce-batch-too-big", SWEEP, [*INFONCE, "--batch-size", "100000000"], None, "--batch-size"),
    ("sweep-reversed-dropout", SWEEP, ["--dropout", "0.9:0:3"], None, "dropout"),
    ("sweep-reversed-ratio", SWEEP, ["--ratio", "1:0.1:3"], None, "ratio"),
    ("sweep-range-syntax", SWEEP, ["--ratio", "0.1:1"], None, "--ratio"),
    ("sweep-strength-overflow", SWEEP, ["--strong-strength", "1e200"], None, "strong-strength"),
    ("sweep-noise-overflow", SWEEP, ["--noise", "1e200"], None, "--noise"),
    ("sweep-noise-nan", SWEEP, ["--noise", "nan"], None, "noise"),
    ("sweep-init-scale-diverges", SWEEP, [*INFONCE, "--init-scale", "1e200"], None, "--init-scale"),
    ("sweep-temperature-tiny", SWEEP, [*INFONCE, "--temperature", "1e-300"], None, "temperature"),
    ("sweep-seed-negative", SWEEP, [*INFONCE, "--seed", "-1"], None, "seed"),
    ("sweep-loss-unknown", SWEEP, ["--loss", "mse"], None, "--loss"),
    ("sweep-spectral-with-steps", SWEEP, ["--steps", "50", "--out", "s"], None, "--steps"),
    ("sweep-spectral-with-seeds", SWEEP, ["--loss", "spectral", "--seeds", "3", "--out", "s"], None, "--seeds"),
    ("sweep-one-point-three-times", SWEEP, ["--ratio", "0.5:0.5:3", "--out", "s"], None, "--ratio"),
    ("sweep-lr-overflows-float32", SWEEP, [*INFONCE, "--lr", "1e300", "--out", "s"], None, "--lr"),
    ("sweep-out-is-a-file", SWEEP, ["--out", "afile"], None, "afile"),
    ("sweep-out-below-a-file", SWEEP, ["--out", "afile/sub"], None, "afile"),
    ("sweep-out-other-config", SWEEP, ["--out", "sweep", "--ratio", "0.7", "--dropout", "0"], None, "sweep"),
    ("sweep-out-csv-without-config", SWEEP, ["--out", "sweep", "--ratio", "0.5", "--dropout", "0"],
     lambda ws: (ws / "sweep" / "config.json").unlink(), "sweep.csv"),
    ("sweep-out-config-not-json", SWEEP, ["--out", "sweep", "--ratio", "0.5", "--dropout", "0"],
     lambda ws: _truncate(ws / "sweep" / "config.json"), "config.json"),
    # --- the deep CLI ---------------------------------------------------------------------------
    ("deep-weight-decay-nan", DEEP, ["run", *TINY, "--weight-decay", "nan", "--out", "new"], None, "weight_decay"),
    ("deep-lr-nan", DEEP, ["run", *TINY, "--lr", "nan", "--out", "new"], None, "lr"),
    ("deep-lr-overflows-float32", DEEP, ["run", *TINY, "--lr", "1e39", "--out", "new"], None, "lr"),
    ("deep-weight-decay-overflows-float32", DEEP, ["run", *TINY, "--weight-decay", "1e39", "--out", "new"], None,
     "weight_decay"),
    ("deep-viewmaker-lr-with-dropout-views", DEEP,
     ["run", *TINY, "--method", "dropout", "--viewmaker-lr", "0.01", "--out", "new"], None, "--viewmaker-lr"),
    ("deep-randbit-bits-off-randbit", DEEP, ["run", *TINY, "--randbit-bits", "3", "--out", "new"], None,
     "--randbit-bits"),
    ("deep-viewmaker-precision-unknown", DEEP,
     ["run", *TINY, "--method", "viewmaker", "--viewmaker-precision", "float16", "--out", "new"], None, "float16"),
    ("deep-viewmaker-precision-with-expert-views", DEEP,
     ["run", *TINY, "--method", "expert", "--viewmaker-precision", "bf16", "--out", "new"], None,
     "--viewmaker-precision"),
    ("deep-temperature-tiny", DEEP, ["run", *TINY, "--temperature", "1e-45", "--out", "new"], None, "temperature"),
    ("deep-online-head-lr-zero", DEEP, ["run", *TINY, "--online-head", "--online-head-lr", "0", "--out", "new"], None,
     "online_head_lr"),
    ("deep-online-head-lr-nan", DEEP, ["run", *TINY, "--online-head", "--online-head-lr", "nan", "--out", "new"], None,
     "online_head_lr"),
    ("deep-online-head-lr-overflows-float32", DEEP, ["run", *TINY, "--online-head-lr", "1e39", "--out", "new"], None,
     "online_head_lr"),
    ("deep-online-head-hierarchical", DEEP, ["run", *TINY, "--online-head", "--method", "hierarchical", "--out", "new"],
     None, "online_head"),
    ("deep-online-head-compiled", DEEP, ["run", *TINY, "--online-head", "--perf", "compile", "--out", "new"], None,
     "online_head"),
    ("deep-convn-padding-unknown", DEEP, ["run", *TINY, "--encoder", "convn", "--convn-padding", "reflect", "--out",
                                          "new"], None, "reflect"),
    ("deep-batchnorm-unknown", DEEP, ["run", *TINY, "--encoder", "convn", "--batchnorm", "tf", "--out", "new"], None,
     "tf"),
    ("deep-normalization-unknown", DEEP, ["run", *TINY, "--normalization", "zscore", "--out", "new"], None, "zscore"),
    ("deep-view-forwards-unknown", DEEP, ["run", *TINY, "--view-forwards", "both", "--out", "new"], None, "both"),
    ("deep-view-forwards-viewmaker", DEEP, ["run", *TINY, "--method", "viewmaker", "--view-forwards", "separate",
                                            "--out", "new"], None, "view_forwards"),
    ("deep-convn-padding-with-resnet", DEEP, ["run", *TINY, "--encoder", "resnet18", "--convn-padding", "valid", "--out",
                                              "new"], None, "convn_padding"),
    ("deep-data-dir-missing", DEEP, ["run", *TINY, "--data-dir", "no/such/dir", "--out", "new"], None, "--data-dir"),
    ("deep-config-file-truncated", DEEP, ["run", *TINY, "--config", "run/config.json", "--out", "new"],
     lambda ws: _truncate(ws / "run" / "config.json"), "run/config.json"),
    ("deep-out-is-a-file", DEEP, ["run", *TINY, "--out", "afile"], None, "afile"),
    ("deep-out-below-a-file", DEEP, ["train", *TINY, "--out", "afile/run"], None, "afile"),
    ("deep-out-other-config", DEEP, ["train", *TINY, "--seed", "3", "--out", "run"], None, "run"),
    ("deep-checkpoint-truncated", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: _truncate(ws / "run" / "checkpoint.pt"), "checkpoint.pt"),
    ("deep-checkpoint-empty", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: (ws / "run" / "checkpoint.pt").write_bytes(b""), "checkpoint.pt"),
    ("deep-checkpoint-garbage", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: (ws / "run" / "checkpoint.pt").write_bytes(os.urandom(4096)), "checkpoint.pt"),
    ("deep-checkpoint-is-a-backbone", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: _backbone_over_checkpoint(ws / "run"), "checkpoint.pt"),
    ("deep-checkpoint-of-another-shape", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: _checkpoint_of_another_shape(ws / "run"), "checkpoint.pt"),
    ("deep-probe-checkpoint-of-another-shape", DEEP, ["probe", "--run", "run", "--device", "cpu"],
     lambda ws: _checkpoint_of_another_shape(ws / "run"), "checkpoint.pt"),
    ("deep-checkpoint-and-previous-bad", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: _corrupt_both(ws / "run"), "checkpoint.pt"),
    ("deep-config-json-truncated", DEEP, ["train", *TINY, "--out", "run"],
     lambda ws: _truncate(ws / "run" / "config.json"), "config.json"),
    ("deep-probe-config-truncated", DEEP, ["probe", "--run", "run", "--device", "cpu"],
     lambda ws: _truncate(ws / "run" / "config.json"), "config.json"),
    ("deep-probe-checkpoint-garbage", DEEP, ["probe", "--run", "run", "--device", "cpu"],
     lambda ws: (ws / "run" / "checkpoint.pt").write_bytes(b"\x80\x02garbage"), "checkpoint.pt"),
    ("deep-probe-checkpoint-non-finite", DEEP, ["probe", "--run", "run", "--device", "cpu"],
     lambda ws: _infinite_batchnorm(ws / "run"), "checkpoint.pt"),
    ("deep-probe-not-a-run", DEEP, ["probe", "--run", "nowhere", "--device", "cpu"], None, "nowhere"),
    ("deep-unknown-method", DEEP, ["run", *TINY, "--method", "magic", "--out", "new"], None, "magic"),
    ("deep-paper-protocol-on-cpu-by-accident", DEEP, ["run", "--dataset", "c+digits", "--device", "cpu", "--out", "new"],
     None, "--preset"),
    ("deep-deshared-on-randbit", DEEP, ["run", *TINY, "--dataset", "randbit", "--method", "deshared", "--out", "new"],
     None, "deshared"),
    ("deep-test-overlay-draws-zero", DEEP, ["run", *TINY, "--test-overlay-draws", "0", "--out", "new"], None,
     "test_overlay_draws"),
    ("deep-unknown-ladder-step", DEEP, ["run", *TINY, "--augmentation", "crop_jitter_double", "--out", "new"], None,
     "augmentation"),
    ("deep-perf-unknown-switch", DEEP, ["run", *TINY, "--perf", "bf16,turbo", "--out", "new"], None, "turbo"),
    ("deep-perf-config-not-a-bool", DEEP, ["train", *TINY, "--config", "perf.json", "--out", "new"],
     lambda ws: (ws / "perf.json").write_text('{"train": {"perf": {"bf16": "yes"}}}'), "bf16"),
    ("deep-perf-config-unknown-key", DEEP, ["train", *TINY, "--config", "perf.json", "--out", "new"],
     lambda ws: (ws / "perf.json").write_text('{"train": {"perf": {"channels_first": true}}}'), "channels_first"),
    ("deep-perf-on-a-run-without-it", DEEP, ["train", *TINY, "--perf", "bf16", "--out", "run"], None, "run"),
    # --- the figures ----------------------------------------------------------------------------
    ("figures-unknown-name", FIGURES, ["--only", "nope", "--out", "figs"], None, "nope"),
    ("figures-out-is-a-file", FIGURES, ["--only", "phase_diagram", "--quick", "--out", "afile"], None, "afile"),
    ("figures-results-is-a-file", FIGURES, ["--only", "phase_diagram", "--quick", "--out", "figs", "--results", "afile"],
     None, "--results"),
    ("figures-randbits-is-a-file", FIGURES, ["--only", "randbits", "--out", "figs", "--randbits", "afile"], None,
     "--randbits"),
    ("deep-audio-file-empty", DEEP, ["run", *TINY, "--dataset", "audio", "--data-dir", "audio", "--out", "new"],
     lambda ws: (ws / "audio").mkdir() or (ws / "audio" / "audio-digits.npz").write_bytes(b""), "audio-digits.npz"),
    # --- scripts/deep_cpu_grid.py: every run's flags resolve before the first starts ---------------
    ("grid-jobs-zero", GRID, ["--jobs", "0", "--out", "g"], None, "--jobs"),
    ("grid-seed-twice", GRID, ["--seeds", "0", "0", "--out", "g"], None, "--seeds"),
    ("grid-seed-negative", GRID, ["--seeds", "-1", "--out", "g"], None, "--seeds"),
    ("grid-dropout-nan", GRID, ["--dropouts", "nan", "--out", "g"], None, "--dropouts"),
    ("grid-dropout-above-1", GRID, ["--dropouts", "1.5", "--out", "g"], None, "--dropouts"),
    ("grid-strength-negative", GRID, ["--strengths", "-1", "--out", "g"], None, "--strengths"),
    ("grid-dropout-strength-inf", GRID, ["--dropout-strengths", "inf", "--out", "g"], None, "--dropout-strengths"),
    ("grid-out-is-a-file", GRID, ["--out", "afile"], None, "afile"),
    ("grid-unknown-dataset", GRID, ["--datasets", "nope", "--out", "g"], None, "nope"),
    ("grid-unknown-preset", GRID, ["--preset", "nope", "--out", "g"], None, "nope"),
    ("grid-unknown-device", GRID, ["--device", "tpu", "--out", "g"], None, "tpu"),
    ("grid-extra-lr-nan", GRID, ["--out", "g", "--extra", "--lr", "nan"], None, "lr"),
    ("grid-sweep-seed-not-a-seed", GRID, ["--seeds", "0", "--sweep-seeds", "1", "--out", "g"], None, "--sweep-seeds"),
    # --- scripts/paper_grid.py ------------------------------------------------------------------
    ("paper-grid-epochs-zero", PAPER_GRID, ["--epochs", "0", "--out", "g"], None, "--epochs"),
    ("paper-grid-budget-nan", PAPER_GRID, ["--time-budget", "nan", "--out", "g"], None, "--time-budget"),
    ("paper-grid-budget-inf", PAPER_GRID, ["--time-budget", "inf", "--out", "g"], None, "--time-budget"),
    ("paper-grid-out-is-a-file", PAPER_GRID, ["--out", "afile", "--status"], None, "afile"),
    ("paper-grid-seed-twice", PAPER_GRID, ["--seeds", "1", "1", "--status", "--out", "g"], None, "--seeds"),
    ("paper-grid-unknown-preset", PAPER_GRID, ["--preset", "nope", "--out", "g"], None, "nope"),
    ("paper-grid-nproc-zero", PAPER_GRID, ["--nproc", "0", "--status", "--out", "g"], None, "--nproc"),
    ("paper-grid-timing-corrupt", PAPER_GRID, ["--out", "g", "--preset", "smoke", "--epochs", "1", "--device", "cpu"],
     lambda ws: (ws / "g").mkdir() or (ws / "g" / "grid_timing.json").write_text("{not json"), "grid_timing.json"),
    # --- scripts/gpu_check.py -------------------------------------------------------------------
    ("gpu-check-budget-zero", GPU_CHECK, ["--cpu-smoke", "--budget", "0", "gc"], None, "--budget"),
    ("gpu-check-budget-nan", GPU_CHECK, ["--cpu-smoke", "--budget", "nan", "gc"], None, "--budget"),
    ("gpu-check-epochs-zero", GPU_CHECK, ["--cpu-smoke", "--epochs", "0", "gc"], None, "--epochs"),
    ("gpu-check-folder-is-a-file", GPU_CHECK, ["--cpu-smoke", "afile"], None, "afile"),
    ("gpu-check-unknown-step", GPU_CHECK, ["--cpu-smoke", "--skip", "bogus", "gc"], None, "bogus"),
    ("gpu-check-verify-nowhere", GPU_CHECK, ["--verify", "nowhere"], None, "nowhere"),
    ("gpu-check-versions-below-a-file", GPU_CHECK, ["--versions", "afile/v.json"], None, "afile"),
    # --- scripts/viewmaker_focus.py -------------------------------------------------------------
    ("focus-results-missing", FOCUS, ["--results", "nowhere"], None, "nowhere"),
    ("focus-results-is-a-file", FOCUS, ["--results", "afile"], None, "afile"),
    ("focus-images-zero", FOCUS, ["--results", "run", "--images", "0"], None, "--images"),
    ("focus-views-negative", FOCUS, ["--results", "run", "--views", "-1"], None, "--views"),
    ("focus-config-truncated", FOCUS, ["--results", "results"], _truncated_results, "config.json"),
    # --- scripts/collect_runs.py ----------------------------------------------------------------
    ("collect-src-missing", COLLECT, ["nowhere", "dst", "--revision", "x"], None, "nowhere"),
    ("collect-dst-is-a-file", COLLECT, ["run", "afile", "--revision", "x"], None, "afile"),
    ("collect-no-revision", COLLECT, ["run", "dst"], None, "--revision"),
    ("collect-config-truncated", COLLECT, ["results", "dst", "--revision", "x"], _truncated_results, "config.json"),
    ("collect-would-overwrite", COLLECT, ["results", "dst", "--revision", "x"],
     lambda ws: shutil.copytree(ws / "run", ws / "results" / "a") and shutil.copytree(ws / "run", ws / "dst" / "a"),
     "--force"),
    # --- the fetch scripts: a corrupt data file named, nothing written ----------------------------
    ("fetch-mnist-data-dir-is-a-file", FETCH_MNIST, ["--data-dir", "afile"], None, "afile"),
    ("fetch-mnist-empty-files", FETCH_MNIST, ["--data-dir", "d"], lambda ws: _empty_files(ws / "d" / "MNIST" / "raw"),
     "train-images-idx3-ubyte"),
    ("fetch-fashion-data-dir-is-a-file", FETCH_FASHION, ["--data-dir", "afile"], None, "afile"),
    ("fetch-fashion-source-missing", FETCH_FASHION, ["--data-dir", "d", "--source", "nowhere"], None, "--source"),
    ("fetch-fashion-empty-archives", FETCH_FASHION, ["--data-dir", "d", "--source", "src"],
     lambda ws: _empty_files(ws / "src", ".gz"), "train-images-idx3-ubyte.gz"),
    ("fetch-fashion-garbage-archive", FETCH_FASHION, ["--data-dir", "d", "--source", "src"],
     lambda ws: _empty_files(ws / "src", ".gz") or (ws / "src" / f"{IDX[0]}.gz").write_bytes(b"\x1f\x8b garbage"),
     "train-images-idx3-ubyte.gz"),
    # --- scripts/compare_runs.py ---------------------------------------------------------------
    ("compare-runs-not-a-run", COMPARE, ["run", "nowhere"], None, "nowhere"),
    ("compare-runs-truncated-probe", COMPARE, ["run", "run"], lambda ws: _truncate(ws / "run" / "probe.json"),
     "probe.json"),
    # --- scripts/randbits_colab.py --------------------------------------------------------------
    ("randbits-jobs-zero", RANDBITS, ["--jobs", "0", "--out", "g"], None, "--jobs"),
    ("randbits-epochs-zero", RANDBITS, ["--epochs", "0", "--out", "g"], None, "--epochs"),
    ("randbits-bits-negative", RANDBITS, ["--bits", "-1", "--out", "g"], None, "--bits"),
    ("randbits-temperature-nan", RANDBITS, ["--temperatures", "nan", "--out", "g"], None, "--temperatures"),
    ("randbits-dropout-above-1", RANDBITS, ["--dropouts", "2", "--out", "g"], None, "--dropouts"),
    ("randbits-seed-twice", RANDBITS, ["--seeds", "0", "0", "--out", "g"], None, "--seeds"),
    ("randbits-out-is-a-file", RANDBITS, ["--out", "afile"], None, "afile"),
    ("randbits-padding-unknown", RANDBITS, ["--convn-padding", "reflect", "--out", "g"], None, "reflect"),
    ("randbits-data-dir-missing", RANDBITS, ["--data-dir", "nowhere", "--out", "g"], None, "nowhere"),
    # --- scripts/overlay_shortcut.py ------------------------------------------------------------
    ("shortcut-batch-one", SHORTCUT, ["--batch", "1"], None, "--batch"),
    ("shortcut-repeats-zero", SHORTCUT, ["--repeats", "0"], None, "--repeats"),
    ("shortcut-test-size-negative", SHORTCUT, ["--test-size", "-5"], None, "--test-size"),
    ("shortcut-unknown-base", SHORTCUT, ["--base-source", "nope"], None, "nope"),
    ("shortcut-out-below-a-file", SHORTCUT, ["--out", "afile/x.json"], None, "afile"),
    ("shortcut-out-is-a-folder", SHORTCUT, ["--out", "run"], None, "run"),
    ("shortcut-data-dir-missing", SHORTCUT, ["--data-dir", "nowhere"], None, "nowhere"),
    # --- the audio scripts ----------------------------------------------------------------------
    ("listening-audio-file-empty", LISTENING, ["--data-dir", "audio", "--out", "listen"],
     lambda ws: (ws / "audio").mkdir() or (ws / "audio" / "audio-digits.npz").write_bytes(b""), "audio-digits.npz"),
    ("listening-items-zero", LISTENING, ["--items", "0", "--out", "listen"], None, "--items"),
    ("listening-out-is-a-file", LISTENING, ["--out", "afile"], None, "afile"),
    ("build-audio-seed-negative", BUILD_AUDIO, ["--seed", "-1", "--out", "audio"], None, "--seed"),
    ("build-audio-out-is-a-file", BUILD_AUDIO, ["--out", "afile"], None, "afile"),
    ("build-audio-audiomnist-missing", BUILD_AUDIO, ["--audiomnist", "nowhere", "--out", "audio"], None, "nowhere"),
    # --- scripts/deep_cpu_table.py and scripts/reference_runs.py ----------------------------------
    ("table-root-missing", TABLE, ["nowhere"], None, "nowhere"),
    ("table-root-is-a-file", TABLE, ["afile"], None, "afile"),
    ("table-unknown-dataset", TABLE, ["run", "--dataset", "nope"], None, "nope"),
    ("table-dataset-twice", TABLE, ["run", "--dataset", "c+digits", "c+digits", "--contrasts"], None, "--dataset"),
    ("reference-rtol-nan", REFERENCE, ["--check", "--rtol", "nan"], None, "--rtol"),
    ("reference-rtol-negative", REFERENCE, ["--check", "--rtol", "-1"], None, "--rtol"),
    ("reference-rtol-with-write", REFERENCE, ["--write", "--rtol", "0.1"], None, "--rtol"),
    # --- the docs tooling ----------------------------------------------------------------------
    ("figure-table-csv-missing", "scripts/figure_table.py", ["nowhere.csv"], None, "nowhere.csv"),
    ("figure-table-digits-negative", "scripts/figure_table.py", ["afile", "--digits", "-3"], None, "--digits"),
    ("randbits-table-root-missing", "scripts/randbits_table.py", ["nowhere"], None, "nowhere"),
    ("randbits-table-root-is-a-file", "scripts/randbits_table.py", ["afile"], None, "afile"),
    ("randbits-table-losses-and-recipes", "scripts/randbits_table.py", [".", "--losses", ".", "--recipes"], None,
     "--recipes"),
    ("provenance-root-missing", "scripts/results_provenance.py", ["nowhere"], None, "nowhere"),
    ("docs-examples-out-is-a-file", "scripts/docs_examples.py", ["--out", "afile"], None, "afile"),
    ("docs-examples-seed-negative", "scripts/docs_examples.py", ["--seed", "-1", "--out", "x"], None, "--seed"),
    ("docs-examples-data-dir-missing", "scripts/docs_examples.py", ["--data-dir", "nowhere", "--out", "x"], None,
     "nowhere"),
    ("check-docs-site-missing", "scripts/check_docs.py", ["--site", "nowhere"], None, "nowhere"),
    ("screenshots-size-garbage", "scripts/docs_screenshots.py", ["--size", "axb", "--out", "x"], None, "--size"),
    # --- the benchmarks: refused before any timing -----------------------------------------------
    ("bench-augment-batch-zero", B_AUGMENT, ["--batch", "0"], None, "--batch"),
    ("bench-augment-one-repeat", B_AUGMENT, ["--repeats", "1"], None, "--repeats"),
    ("bench-augment-unknown-device", B_AUGMENT, ["--device", "tpu"], None, "tpu"),
    ("bench-closed-form-repeats-zero", B_CLOSED, ["--repeats", "0"], None, "--repeats"),
    ("bench-step-steps-zero", B_STEP, ["--steps", "0"], None, "--steps"),
    ("bench-step-unknown-preset", B_STEP, ["--preset", "smoke"], None, "--preset"),
    ("bench-step-json-below-a-file", B_STEP, ["--json", "afile/b.json"], None, "afile"),
    ("bench-step-json-is-a-folder", B_STEP, ["--json", "run"], None, "run"),
    ("bench-dynamics-settings-zero", B_DYNAMICS, ["--settings", "0"], None, "--settings"),
    ("bench-dynamics-horizon-nan", B_DYNAMICS, ["--horizon", "nan"], None, "--horizon"),
    ("bench-dynamics-dim-too-small", B_DYNAMICS, ["--dim", "2"], None, "--dim"),
    ("bench-dynamics-rtol-negative", B_DYNAMICS, ["--rtol", "-1"], None, "--rtol"),
    ("bench-infonce-batch-one", B_INFONCE, ["--batch-size", "1"], None, "--batch-size"),
    ("bench-infonce-loop-above-settings", B_INFONCE, ["--settings", "2", "--loop-settings", "5"], None,
     "--loop-settings"),
    ("bench-infonce-one-step", B_INFONCE, ["--steps", "1"], None, "--steps"),
    ("bench-infonce-json-below-a-file", B_INFONCE, ["--json", "afile/b.json"], None, "afile"),
    ("bench-infonce-json-is-a-folder", B_INFONCE, ["--json", "run"], None, "run"),
    ("bench-closed-form-json-below-a-file", B_CLOSED, ["--json", "afile/b.json"], None, "afile"),
    ("bench-dynamics-json-is-a-folder", B_DYNAMICS, ["--json", "run"], None, "run"),
    ("bench-augment-json-below-a-file", B_AUGMENT, ["--json", "afile/b.json"], None, "afile"),
    ("bench-table-root-missing", BENCH_TABLE, ["nowhere"], None, "nowhere"),
    ("bench-table-root-is-a-file", BENCH_TABLE, ["afile"], None, "afile"),
    ("bench-table-corrupt-json", BENCH_TABLE, ["bench"],
     lambda ws: (ws / "bench").mkdir() or (ws / "bench" / "x.json").write_text('{"benchmark": '), "x.json"),
]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder below ``root`` with a hash of its bytes (folders: "dir")."""
    return {str(p.relative_to(root)): ("dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder with `afile`, a finished tiny run (`run`) and a sweep (`sweep`)."""
    root = tmp_path_factory.mktemp("template")
    (root / "afile").write_text("in the way\n")
    assert deep_main(["run", *TINY, "--out", str(root / "run")]) == 0
    assert not (root / "run" / "checkpoint.prev.pt").exists()  # one epoch: no earlier checkpoint
    assert sweep_main(["--ratio", "0.5", "--dropout", "0", "--out", str(root / "sweep"), "--no-progress"]) == 0
    return root


@pytest.fixture(scope="module")
def outcomes(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Run every row of the table once; ``{id: (outcome, snapshot before, snapshot after)}``."""
    base = tmp_path_factory.mktemp("rows")
    cases, before = [], {}
    for row_id, module, args, setup, _ in [*ROWS, *OTHER_CASES]:  # one runner: the imports are paid once
        ws = base / row_id
        shutil.copytree(template, ws)
        if callable(setup):
            setup(ws)
        before[row_id] = _snapshot(ws)
        cases.append((module, args, ws))
    results = run_clis(cases, tmp_path_factory.mktemp("logs"), timeout=900, case_timeout=60)  # a row that starts work: killed
    return {row[0]: (res, before[row[0]], _snapshot(base / row[0]), base / row[0])
            for row, res in zip([*ROWS, *OTHER_CASES], results)}


@pytest.mark.parametrize("row_id,must_name", [(r[0], r[4]) for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(outcomes: dict, row_id: str, must_name: str) -> None:
    result, before, after, _ = outcomes[row_id]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert result.code == 2, (result.code, result.stderr)
    assert len(lines) == 1, lines
    assert "error" in lines[0]
    assert must_name.replace("_", "-") in lines[0].replace("_", "-"), lines[0]
    assert after == before, "a file was created, changed or removed"


# entry points without a row, and why
NO_ROWS = {"scripts/readme_tables.py": "no options: prints the README's tables from results/"}


def test_the_table_covers_every_entry_point() -> None:
    """Every CLI, every script under scripts/ and every benchmark has rows (or a reason in NO_ROWS)."""
    root = Path(__file__).resolve().parent.parent
    scripts = {str(p.relative_to(root)) for folder in ("scripts", "benchmarks") for p in (root / folder).glob("*.py")}
    scripts -= {"benchmarks/threads.py", "benchmarks/progress.py", "benchmarks/record.py"}  # helpers, not entry points
    covered = {r[1] for r in ROWS}
    assert {SWEEP, DEEP, FIGURES} <= covered and len(ROWS) >= 35
    assert sorted(scripts - covered - set(NO_ROWS)) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("module,args", [(SWEEP, ["--out", "ro/sweep"]), (DEEP, ["run", *TINY, "--out", "ro/run"])])
def test_read_only_out_is_refused(tmp_path: Path, module: str, args: list[str]) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        (result,) = run_clis([(module, args, tmp_path)], tmp_path.parent / f"{tmp_path.name}-logs")
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert result.code == 2 and len(result.stderr.splitlines()) == 1 and "not writable" in result.stderr
    assert not any((tmp_path / "ro").iterdir())


def test_plain_python_m_subprocess(tmp_path: Path) -> None:
    """The same answer from a plain ``python -m`` process as from the table's runner."""
    args = ["run", "--preset", "smoke", "--weight-decay", "nan", "--out", "x"]
    proc = subprocess.run([sys.executable, "-m", DEEP, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"python -m {DEEP} run: error:") and "weight_decay" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_console_script_names_itself(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "featuredrop-sweep"
    if not exe.exists():
        pytest.skip(f"featuredrop-sweep is not installed beside {sys.executable}")
    proc = subprocess.run([str(exe), "--dropout", "0.9:0:3"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("featuredrop-sweep: error:") and "python -m" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_a_diverging_run_stops_with_exit_1_and_saves_nothing(outcomes: dict) -> None:
    result, _, _, ws = outcomes["deep-diverges"]
    assert result.code == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "--lr" in result.stderr and "stopped" in result.stderr
    assert not (ws / "lr" / "checkpoint.pt").exists() and not (ws / "lr" / "probe.json").exists()


def test_non_finite_weights_stop_before_probe_and_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A finite loss with infinite BatchNorm statistics (lr 1e10) stops the run before it is probed or saved."""
    from tests.deep.test_train import tiny

    real = train_module._epoch_loop

    def diverging(session, epoch):  # type: ignore[no-untyped-def]
        stats = real(session, epoch)
        if epoch == 2:
            bn = next(m for m in session.comps.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
            bn.running_var.fill_(float("inf"))
        return stats

    monkeypatch.setattr(train_module, "_epoch_loop", diverging)
    with pytest.raises(NonFiniteLossError, match="after epoch 2 .*running_var.*--lr"):
        train_module.train(tiny("c+shapes", epochs=2, size=8, probe_at=[1.0]), tmp_path, device="cpu",
                           progress=False, argv=["test"])
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 1  # epoch 2 was not saved
    assert max(r["epoch"] for r in RunFolder(tmp_path).read_metrics()) == 1


# --- the Python API -------------------------------------------------------------------------------
@pytest.mark.parametrize("strength,match", [("3", "must be a number"), (True, "must be a number"),
                                            (1e200, "must be in"), (float("nan"), "must not be NaN"), (0, "must be in")])
def test_feature_block_rejects_bad_strengths(strength: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"FeatureBlock.strength {match}"):
        FeatureBlock(4, strength)  # type: ignore[arg-type]


# --- figures read what they can and say what they skipped -----------------------------------------
def _deep_run(root: Path, seed: int) -> RunFolder:
    config = build_config(PRESETS["smoke"], {"train": {"seed": seed}})
    folder = RunFolder(root / "c+digits" / "expert" / "os1_p0.5" / f"seed{seed}")
    folder.root.mkdir(parents=True)
    save_json(folder.config, config)
    save_json(folder.probe, {"epoch": 2, "dataset": "c+digits", "method": "expert",
                             "fast": {"task_a": 0.5, "task_b": 0.2}, "over_time": [],
                             "probe_config": to_dict(config.probe)})
    return folder


def test_figures_skip_runs_with_bad_files_and_draw_the_rest(outcomes: dict) -> None:
    result, _, _, ws = outcomes["figures-skip-bad-runs"]
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3, warnings
    for seed, name in ((2, "probe.json"), (3, "probe.json"), (4, "config.json")):
        assert any(f"seed{seed}/{name}" in w and w.startswith("warning: skipped run") for w in warnings), warnings
    table = json.loads((ws / "figs" / "deep_probe_accuracy.json").read_text())
    n_seeds = table["columns"].index("n_seeds")
    assert {row[n_seeds] for row in table["rows"]} == {2}  # seeds 0 and 1 drawn


def _results_with_bad_runs(ws: Path) -> None:
    """Five expert runs: seeds 0, 1 fine; 2 a truncated probe.json, 3 no "fast", 4 a truncated config.json."""
    runs = [_deep_run(ws / "results", seed) for seed in range(5)]
    _truncate(runs[2].probe)
    bad = json.loads(runs[3].probe.read_text())
    del bad["fast"]
    runs[3].probe.write_text(json.dumps(bad))
    _truncate(runs[4].config)


# cases run by the same runner as the table, checked by their own tests
OTHER_CASES: list[tuple[str, str, list[str], object, str]] = [
    ("deep-diverges", DEEP, ["run", *TINY, "--lr", "1e10", "--out", "lr"], None, ""),
    ("figures-skip-bad-runs", FIGURES, ["--only", "deep_probe_accuracy", "--results", "results", "--out", "figs"],
     _results_with_bad_runs, ""),
]


def test_a_corrupt_focus_file_fails_its_figure_naming_the_file_and_the_others_are_drawn(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paper_figures.__main__ import main as figures_main

    config = build_config(PRESETS["smoke"], {"views": {"kind": "viewmaker"}})
    run = RunFolder(tmp_path / "results" / "c+digits" / "viewmaker" / "os1_p0.5" / "seed0")
    run.root.mkdir(parents=True)
    save_json(run.config, config)
    save_json(run.probe, {"epoch": 2, "dataset": "c+digits", "method": "viewmaker", "over_time": [],
                          "fast": {"task_a": 0.5, "task_b": 0.2}, "probe_config": to_dict(config.probe)})
    (run.root / "viewmaker_focus.json").write_text('{"ratio": ')
    code = figures_main(["--only", "viewmaker_focus", "deep_probe_accuracy", "--results", str(tmp_path / "results"),
                         "--out", str(tmp_path / "figs")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 1 and "Traceback" not in err[0]
    assert "viewmaker_focus: failed" in err[0] and "seed0/viewmaker_focus.json" in err[0], err
    assert (tmp_path / "figs" / "deep_probe_accuracy.png").exists()
