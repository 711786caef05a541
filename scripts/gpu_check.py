"""One device check of the deep arm, everything written to one folder (under 8 minutes on one GPU).

::

    python scripts/gpu_check.py [FOLDER]               # FOLDER: $OUT if set, else runs/gpu-check
    python scripts/gpu_check.py FOLDER --cpu-smoke     # the same steps, tiny and on the CPU

Steps, in order; each runs as a subprocess whose output is shown and teed to ``FOLDER/NN-STEP.log``,
with its own time limit, and a failed or timed-out step does not stop the next ones:

- ``versions``: python, torch, CUDA, cuDNN, device name and capability, torchvision (``versions.json``);
- ``tests``: ``pytest -m cuda`` (the tests marked ``cuda``; ``tests.xml``);
- ``distributed``: ``tests/deep/test_distributed.py`` (2 gloo processes against one: the data-parallel
  loss and gradients with this torch);
- ``bench``: ``benchmarks/bench_deep_step.py --device cuda --json FOLDER/bench.json`` (skipped with a
  message when the benchmark is absent);
- ``train`` then ``resume``: the paper preset (ResNet-18 width 64, batch 256) with the viewmaker on
  4096 images for 2 epochs, stopped after the first (a checkpoint) and resumed by the same command,
  which finishes and writes the fast probe (``FOLDER/train``);
- ``verify``: that run folder holds 2 train epochs, ``train`` then ``resume`` in ``command.txt``,
  a checkpoint of epoch 2, a backbone and ``probe.json``;
- ``torchrun``: data-parallel training with ``torchrun``: nccl on 2 GPUs when there are 2 or more,
  else 2 CPU processes on gloo (tiny; ``FOLDER/torchrun``).

After every step ``summary.json`` and ``summary.txt`` are rewritten (status, exit code, seconds and log
of each step), so a killed check keeps what it did. ``--budget`` (default 450 s) caps the whole check:
a step gets at most the time left, and a step that would start with less than 10 s left is skipped.
Exit status 0 when no step failed or timed out. ``--cpu-smoke`` runs every step on the CPU at tiny
sizes (the benchmark with one step), ``--skip`` leaves steps out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from featuredrop.atomic import atomic_write, check_output_dir  # noqa: E402
from featuredrop.cli import OneLineParser, positive_float, positive_int  # noqa: E402

STEPS = ("versions", "tests", "distributed", "bench", "train", "resume", "verify", "torchrun")
MIN_START_S = 10.0
"""A step that would start with less time left than this is skipped."""


@dataclass(frozen=True)
class Step:
    """One step: ``command`` (``None``: skipped, ``note`` says why) and its own time limit."""

    name: str
    command: tuple[str, ...] | None
    timeout_s: float
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of a step: ``status`` is ``ok``, ``failed``, ``timeout`` or ``skipped``."""

    name: str
    status: str
    exit_code: int | None
    seconds: float
    log: str
    note: str = ""


def _py(*args: str) -> tuple[str, ...]:
    return (sys.executable, *args)


def build_steps(folder: Path, cpu_smoke: bool, gpus: int) -> list[Step]:
    """The check's steps for ``folder`` (see the module docstring); ``gpus``: visible CUDA devices."""
    me = str(Path(__file__).resolve())
    device = "cpu" if cpu_smoke else "cuda"
    run = folder / "train"
    if cpu_smoke:
        size = ["--preset", "smoke", "--train-size", "64", "--test-size", "64", "--width", "4", "--batch-size", "32"]
    else:
        size = ["--preset", "paper", "--train-size", "4096", "--test-size", "1024"]
    train = _py("-m", "deep_experiments", "run", *size, "--dataset", "c+digits", "--method", "viewmaker",
                "--epochs", "2", "--no-paper-probe", "--stop-after", "1", "--device", device, "--no-progress",
                "--out", str(run))
    bench_file = ROOT / "benchmarks" / "bench_deep_step.py"
    if not bench_file.is_file():
        bench = Step("bench", None, 0, f"{bench_file.relative_to(ROOT)} does not exist (yet): no benchmark")
    else:
        tiny = ["--batch", "8", "--width", "4", "--steps", "1", "--warmup", "1", "--methods", "expert",
                "--modes", "fp32"] if cpu_smoke else []
        bench = Step("bench", _py(str(bench_file), "--device", device, *tiny, "--json", str(folder / "bench.json")),
                     200)
    nccl = gpus >= 2 and not cpu_smoke
    ddp_size = ["--preset", "smoke", "--batch-size", "128"] if nccl else \
        ["--preset", "smoke", "--train-size", "32", "--test-size", "32", "--width", "4", "--batch-size", "16"]
    torchrun = _py("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "deep_experiments",
                   "run", *ddp_size, "--dataset", "c+digits", "--method", "viewmaker", "--epochs", "1",
                   "--no-paper-probe", "--device", "cuda" if nccl else "cpu", "--no-progress",
                   "--out", str(folder / "torchrun"))
    return [
        Step("versions", _py(me, "--versions", str(folder / "versions.json")), 60),
        Step("tests", _py("-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "--junitxml",
                          str(folder / "tests.xml"), "tests"), 150),
        Step("distributed", _py("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/deep/test_distributed.py"), 120),
        bench,
        Step("train", train, 150),
        Step("resume", train, 150),
        Step("verify", _py(me, "--verify", str(run), "--epochs", "2"), 30),
        Step("torchrun", torchrun, 120, "nccl on 2 GPUs" if nccl else "2 CPU processes on gloo"),
    ]


def run_step(step: Step, index: int, folder: Path, deadline: float, env: dict[str, str]) -> Outcome:
    """Run ``step``, teeing its output to the terminal and to ``folder/NN-NAME.log``; never raises for the step."""
    log = folder / f"{index:02d}-{step.name}.log"
    left = deadline - time.monotonic()
    if step.command is None or left < MIN_START_S:
        note = step.note if step.command is None else f"budget: {left:.0f} s left"
        log.write_text(f"skipped: {note}\n")
        print(f"== {step.name}: skipped ({note})", flush=True)
        return Outcome(step.name, "skipped", None, 0.0, log.name, note)
    limit = min(step.timeout_s, left)
    print(f"== {step.name}: {' '.join(step.command)}  (limit {limit:.0f} s)", flush=True)
    t0 = time.monotonic()
    timed_out = threading.Event()
    with log.open("w", encoding="utf-8") as out:
        out.write(f"$ {' '.join(step.command)}\n")
        try:
            proc = subprocess.Popen(step.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    errors="replace", env=env, cwd=ROOT, start_new_session=True)
        except OSError as err:
            out.write(f"could not start: {err}\n")
            return Outcome(step.name, "failed", None, 0.0, log.name, f"could not start: {err}")

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):  # it may have ended
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(limit, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                out.write(line)
                out.flush()
            code = proc.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - t0
        status = "timeout" if timed_out.is_set() else "ok" if code == 0 else "failed"
        out.write(f"\n[{step.name}: {status}, exit {code}, {seconds:.1f} s]\n")
    print(f"== {step.name}: {status} (exit {code}, {seconds:.1f} s)", flush=True)
    note = f"killed after {limit:.0f} s" if status == "timeout" else step.note
    return Outcome(step.name, status, code, round(seconds, 1), log.name, note)


def write_summary(folder: Path, outcomes: Sequence[Outcome], started: float, mode: str) -> bool:
    """``summary.json`` and ``summary.txt`` of the steps so far; returns whether none failed or timed out."""
    ok = all(o.status in ("ok", "skipped") for o in outcomes)
    data = {"mode": mode, "ok": ok, "seconds": round(time.monotonic() - started, 1),
            "steps": [asdict(o) for o in outcomes]}
    atomic_write(folder / "summary.json", json.dumps(data, indent=2) + "\n")
    lines = [f"gpu check ({mode}): {'OK' if ok else 'FAILED'} in {data['seconds']} s", ""]
    lines += [f"{o.name:<12} {o.status:<8} exit {o.exit_code!s:<5} {o.seconds:>7.1f} s  {o.log}"
              + (f"  ({o.note})" if o.note else "") for o in outcomes]
    atomic_write(folder / "summary.txt", "\n".join(lines) + "\n")
    return ok


def versions(path: Path) -> int:
    """Print and write the versions of the software and the device (the ``versions`` step)."""
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "torch": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                            "cuda_available": torch.cuda.is_available(), "devices": []}
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        info["devices"].append({"name": props.name, "capability": f"{props.major}.{props.minor}",
                                "memory_gib": round(props.total_memory / 2**30, 1)})
    for name in ("torchvision", "numpy", "sklearn", "skimage"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    text = json.dumps(info, indent=2)
    print(text)
    atomic_write(path, text + "\n")
    return 0


def verify(run: Path, epochs: int) -> int:
    """Check the ``train``/``resume`` run folder (the ``verify`` step); prints each finding."""
    import torch

    problems = []
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()] \
        if (run / "metrics.jsonl").exists() else []
    trained = [r["epoch"] for r in metrics if r.get("kind") == "train"]
    if trained != list(range(1, epochs + 1)):
        problems.append(f"train epochs recorded {trained}, expected 1..{epochs}")
    labels = [line.split(":")[0] for line in (run / "command.txt").read_text().splitlines()] \
        if (run / "command.txt").exists() else []
    if labels[:2] != ["train", "resume"]:
        problems.append(f"command.txt labels {labels}, expected train then resume")
    if (run / "checkpoint.pt").exists():
        epoch = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["epoch"]
        if epoch != epochs:
            problems.append(f"checkpoint of epoch {epoch}, expected {epochs}")
    else:
        problems.append("no checkpoint.pt")
    problems += [f"no {name}" for name in ("backbone.pt", "probe.json") if not (run / name).exists()]
    losses = [r["loss"] for r in metrics if r.get("kind") == "train"]
    print(f"{run}: train epochs {trained}, losses {losses}, commands {labels}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("verify: OK" if not problems else f"verify: {len(problems)} problem(s)")
    return 1 if problems else 0


RUN_FILES = ("config.json", "command.txt", "metrics.jsonl", "probe.json", "checkpoint.pt", "checkpoint.prev.pt",
             "backbone.pt", "viewmaker.pt")
"""The files a run folder of ``deep_experiments run`` holds (and, while one is written, their ``.*.tmp-*``)."""


def _not_a_run(path: Path) -> list[str]:
    """The entries of ``path`` that a run folder of this check would not hold (all of them if it is a file)."""
    if path.is_symlink() or not path.is_dir():  # a link may lead to anything: never delete through it
        return [path.name]
    return sorted(p.name for p in path.iterdir()
                  if not (p.is_file() and (p.name in RUN_FILES or (p.name.startswith(".") and ".tmp-" in p.name))))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 1 when a step failed or timed out."""
    p = OneLineParser(prog="gpu_check.py", description=__doc__.split("\n")[0])
    p.add_argument("folder", nargs="?", default=os.environ.get("OUT") or "runs/gpu-check",
                   help="where everything goes (default: $OUT if set, else runs/gpu-check)")
    p.add_argument("--cpu-smoke", action="store_true", help="every step on the CPU at tiny sizes")
    p.add_argument("--budget", type=positive_float, default=450.0, help="seconds for the whole check (default %(default)s)")
    p.add_argument("--skip", default="", help=f"comma-separated steps to leave out ({', '.join(STEPS)})")
    p.add_argument("--versions", default=None, help=argparse.SUPPRESS)
    p.add_argument("--verify", default=None, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=positive_int, default=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.versions:
        try:
            check_output_dir(Path(args.versions).parent, "--versions")
        except ValueError as err:
            p.error(str(err))
        return versions(Path(args.versions))
    if args.verify:
        if not Path(args.verify).is_dir():
            p.error(f"--verify {args.verify}: not a folder")
        return verify(Path(args.verify), args.epochs)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(STEPS):
        p.error(f"--skip: unknown step(s) {sorted(skip - set(STEPS))}; choose from {', '.join(STEPS)}")
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not gpus and not args.cpu_smoke:
        p.error("no CUDA device here; pass --cpu-smoke for the CPU version of the check")
    try:
        folder = check_output_dir(args.folder, "FOLDER").resolve()  # absolute: the steps run from the repository root
    except ValueError as err:
        p.error(str(err))
    stale = [folder / name for name in ("train", "torchrun") if name not in skip and (folder / name).exists()]
    foreign = [f"{path}/{item}" for path in stale for item in _not_a_run(path)]
    if foreign:
        p.error(f"FOLDER holds files this check did not make ({', '.join(foreign[:3])}); the check would delete "
                f"them: move them or pass another FOLDER")
    folder.mkdir(parents=True, exist_ok=True)
    for path in stale:  # this check's own run folders, of a previous check: every check starts them afresh
        try:
            shutil.rmtree(path)
        except OSError as err:
            p.error(f"cannot remove the previous check's {path} ({err.strerror or err}); remove it or pass another FOLDER")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    mode = "cpu-smoke" if args.cpu_smoke else f"cuda ({gpus} GPU{'s' if gpus != 1 else ''})"
    started = time.monotonic()
    deadline = started + args.budget
    outcomes: list[Outcome] = []
    for index, step in enumerate(build_steps(folder, args.cpu_smoke, gpus), start=1):
        if step.name in skip:
            step = Step(step.name, None, 0, "--skip")
        outcomes.append(run_step(step, index, folder, deadline, env))
        write_summary(folder, outcomes, started, mode)
    ok = write_summary(folder, outcomes, started, mode)
    print((folder / "summary.txt").read_text(), end="")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
