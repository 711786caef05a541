"""Benchmark: training-step throughput of the deep arm's views against a plain contrastive step.

Run on demand::

    python benchmarks/bench_deep_step.py --device cuda       # paper: batch 512, ResNet-18 width 64, 20 timed steps
    python benchmarks/bench_deep_step.py --device cpu        # the CPU protocol: ConvN width 32, batch 256, C+Letters
    python benchmarks/bench_deep_step.py --device cpu --preset paper   # ResNet-18 width 16, batch 32, C+Digits

``--preset`` picks the run config the rows are built from: ``cpu`` (the default on CPU) is the CPU
protocol of ``python -m deep_experiments run --preset cpu --dataset c+letters`` (ConvN width 32, batch
256, crop-only views, Adam, the one-block viewmaker), ``paper`` (the default on CUDA) the paper's
(ResNet-18, SGD, SimCLR views). ``--encoder``, ``--width``, ``--batch`` and ``--dataset`` replace the
preset's. Every row is timed in the same process on the same random batch ``(batch, C, S, S)`` in [0, 1]:

- ``project <method>``: :meth:`deep_experiments.run.learner.ContrastiveLearner.step` built by
  :func:`deep_experiments.run.components.build_components` from that :class:`RunConfig`, i.e. the views
  (expert augmentation, feature dropout or the viewmaker, with its own adversarial step), the encoder
  step, the loss guard, the optimizer;
- ``plain``: the same encoder written the obvious way: the two views already made (no
  augmentation), ``nt_xent`` of one forward of both views, backward, a step of the config's optimizer
  (SGD with its momentum, or Adam) at its learning rate and weight decay; eager. The ratio is then the
  project's own cost (views, guard, bookkeeping), not a choice of optimizer. On CPU (a shared machine)
  the plain step and the project's steps of fixed views (expert, dropout, ...) are timed together, their
  steps alternating (:func:`_time_alternating`), so that a changing load falls on all of them;
- ``plain viewmaker`` (float32, with the viewmaker among ``--methods``): the viewmaker step written the
  obvious way on the same networks (:func:`plain_viewmaker_step`; the config's viewmaker, so the CPU
  preset's width 8 with one residual block by default). It computes exactly the project's numbers
  (``tests/deep/test_viewmaker.py``), so the ratio ``project / plain viewmaker`` printed under the table
  is the project's own cost or gain. The two are timed together, their steps alternating, and share one
  peak-memory reading.

Run as a script, the process keeps freed memory in its heap as the deep CLI does
(:func:`deep_experiments.run.perf.retain_freed_memory`; both kinds of rows alike). A line on stderr
names each row before it is timed and says every few seconds that a slow row still runs.

Two modes: ``fp32`` (project switches off, plain in float32) and ``bf16`` (project with
``train.perf`` bf16, channels_last and fused_optimizer, plus compile with ``--compile``, and the
viewmaker with ``views.viewmaker.precision`` bf16; plain under bf16 autocast with channels-last
weights and inputs). ``device_data`` is not exercised: the batch
already lives on the device. The ratio column divides each project row by the plain step of its
mode. views/s counts the ``2 * batch`` views of the encoder step (the viewmaker's step makes and
encodes ``2 * batch`` more, not counted). Peak memory: CUDA ``torch.cuda.max_memory_allocated``
per row; CPU the process's peak resident set (``resource.getrusage().ru_maxrss``), which never
decreases, so on CPU it is an upper bound for every row timed so far. On CUDA the fraction of
the device's dense bf16 peak uses the encoder's forward + backward FLOPs per view counted by
``torch.utils.flop_counter`` (CIFAR ResNet-18 at width 64: ~3.34 GFLOP) and a peak from
:data:`PEAK_BF16_TFLOPS` by device name or ``--peak-tflops``. ``--json OUT`` writes everything
atomically, with the command, date, machine and load and the speed targets below (:mod:`record`).

Targets: (one H100-class GPU, batch 512, ResNet-18 width 64) the project's expert step with
its fast switches at least 1.5x the views/s of the plain bf16 + channels-last step, printed beside the
measured ratio as a target (never measured by this repository so far: no GPU was lent); (CPU, the CPU
protocol) the project's float32 expert and dropout steps at least :data:`TARGET_CPU_RATIO` of the plain step;
the project's float32 viewmaker step at least :data:`TARGET_VIEWMAKER_RATIO` of the plain viewmaker step.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from progress import heartbeat  # noqa: E402
from record import SpeedTarget, begin, check_json_path, cpu_name, finish, write  # noqa: E402
from threads import thread_report  # noqa: E402

from deep_experiments.configs import PRESETS, build_config  # noqa: E402
from deep_experiments.data import DATASETS, dataset_spec  # noqa: E402
from deep_experiments.device import resolve_device  # noqa: E402
from deep_experiments.models import ENCODERS, build_encoder  # noqa: E402
from deep_experiments.models.viewmaker import Viewmaker  # noqa: E402
from deep_experiments.normalize import Normalize  # noqa: E402
from deep_experiments.run.components import build_components  # noqa: E402
from deep_experiments.run.perf import retain_freed_memory  # noqa: E402
from deep_experiments.seeds import make_generator, seeded_init  # noqa: E402
from deep_experiments.views import METHODS  # noqa: E402
from featuredrop.cli import OneLineParser  # noqa: E402
from featuredrop.losses import nt_xent  # noqa: E402

PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200", 989.0), ("H100", 989.0), ("H800", 989.0),
    ("GH200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
)
"""Dense bf16 tensor-core peaks (vendor data sheets, TFLOP/s), first substring match of the device name."""
RESNET18_GFLOP_PER_VIEW = 3.34
"""CIFAR ResNet-18 (width 64) forward + backward per 32x32 view, for comparison with the counted value."""
TARGET_EXPERT_RATIO = 1.5
TARGET_CPU_RATIO = 0.97
"""The CPU protocol's float32 expert and dropout steps against the plain step (views/s ratio)."""
BENCH_PRESETS = ("cpu", "paper")
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "cpu": {"dataset": "c+letters"},  # encoder, width and batch: the preset's own
    "paper": {"dataset": "c+digits", "cpu": {"width": 16, "batch": 32}},  # the paper's sizes on CUDA
}
"""What a preset does not fix: the dataset, and the paper preset's smaller encoder and batch on CPU."""
TARGET_VIEWMAKER_RATIO = 1.0
"""The project's float32 viewmaker step against the plain viewmaker step (:func:`plain_viewmaker_step`)."""
PLAIN_VIEWMAKER = "plain viewmaker"
MODES = ("fp32", "bf16")
FAST_SWITCHES = {"bf16": True, "channels_last": True, "fused_optimizer": True}

Step = Callable[[], None]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step: Callable[[], object], device: torch.device, warmup: int, steps: int, name: str = "") -> float:
    """Seconds per step: ``warmup`` untimed steps, then the mean of ``steps`` (synchronized at both ends).

    Names the row on stderr, and says every few seconds that it still runs (:func:`progress.heartbeat`).
    """
    with heartbeat(f"timing {name}: {warmup} warm-up + {steps} timed steps"):
        for _ in range(warmup):
            step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return (time.perf_counter() - t0) / steps


def _time_alternating(steps: dict[str, Callable[[], object]], device: torch.device, warmup: int, count: int,
                      name: str = "") -> dict[str, float]:
    """Seconds per step of each of ``steps``, timed one step at a time in alternating order (ABBA...).

    For two rows whose ratio is the point: a load that changes while they run (a shared machine) then
    falls on both alike, where rows timed one after the other can differ by 10 % for that alone.
    """
    keys = list(steps)
    total = dict.fromkeys(keys, 0.0)
    with heartbeat(f"timing {name}: {warmup} warm-up + {count} timed steps each, alternating"):
        for _ in range(warmup):
            for key in keys:
                steps[key]()
        for i in range(count):
            for key in keys if i % 2 == 0 else keys[::-1]:
                _sync(device)
                t0 = time.perf_counter()
                steps[key]()
                _sync(device)
                total[key] += time.perf_counter() - t0
    return {key: value / count for key, value in total.items()}


def _peak_memory(device: torch.device) -> tuple[float, str]:
    """MiB and what it measures (see the module docstring)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated (this row)"
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "process peak RSS so far (ru_maxrss)"


def _config(args: argparse.Namespace, method: str, mode: str) -> Any:
    """The run config of a row: ``--preset``'s, with the dataset, encoder, width, batch, views and switches."""
    perf = {**FAST_SWITCHES, "compile": args.compile} if mode == "bf16" else {}
    return build_config(PRESETS[args.preset], {"data": {"dataset": args.dataset},
                         "train": {"encoder": args.encoder, "width": args.width, "batch_size": args.batch, "perf": perf},
                         "views": {"kind": method, **({"viewmaker": {"precision": "bf16"}} if mode == "bf16" else {})}})


def project_step(args: argparse.Namespace, method: str, mode: str, images: torch.Tensor,
                 base: torch.Tensor) -> Step:
    """One call of the project's training step for ``method`` in ``mode``, built by its own builders."""
    config = _config(args, method, mode)
    comps = build_components(config, dataset_spec(config.data), images.device)
    for module in comps.modules().values():
        module.train()
    gen = make_generator(config.train.seed, "augment", images.device)

    def step() -> None:
        comps.learner.step(images, base, gen)

    return step


def plain_viewmaker_step(args: argparse.Namespace, images: torch.Tensor) -> Callable[[], tuple[float, float]]:
    """The viewmaker step written the obvious way, eager float32, on the networks of the row's config.

    The same encoder and viewmaker (the config's width and residual blocks; torch's own ``nn.Upsample``
    in it), seeded as a run of seed ``train.seed`` seeds them, the same Adam optimizers and noise
    stream: two views under ``torch.no_grad``, one forward of both, ``nt_xent``, backward, encoder step;
    then two fresh views, the encoder's parameters frozen, ``-nt_xent`` backward, viewmaker step. The
    step returns both losses (``tests/deep/test_viewmaker.py`` checks that the project's step computes
    exactly these).
    """
    config = _config(args, "viewmaker", "fp32")
    spec, tc, vc = dataset_spec(config.data), config.train, config.views.viewmaker
    device = images.device
    with seeded_init(tc.seed, "init/encoder"):
        encoder = build_encoder(tc.encoder, spec.channels, tc.out_dim, tc.width, spec.image_size).to(device)
    with seeded_init(tc.seed, "init/viewmaker"):
        viewmaker = Viewmaker(spec.channels, vc.budget_for(spec), vc.num_res_blocks, vc.width).to(device)
    for block in viewmaker.up:  # torch's upsampling layer, as the obvious network has it
        block[0] = torch.nn.Upsample(scale_factor=2, mode="nearest")
    encoder.train()
    viewmaker.train()
    if tc.optimizer == "adam":
        encoder_opt: torch.optim.Optimizer = torch.optim.Adam(encoder.parameters(), lr=tc.lr,
                                                              weight_decay=tc.weight_decay)
    else:
        encoder_opt = torch.optim.SGD(encoder.parameters(), lr=tc.lr, momentum=tc.momentum,
                                      weight_decay=tc.weight_decay)
    viewmaker_opt = torch.optim.Adam(viewmaker.parameters(), lr=vc.lr)
    normalize = Normalize(spec.channels, spec.shared_channels)
    gen = make_generator(tc.seed, "augment", device)

    def views() -> torch.Tensor:
        return torch.cat([normalize(viewmaker(images, gen)), normalize(viewmaker(images, gen))])

    def step() -> tuple[float, float]:
        encoder_opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            both = views()
        loss = nt_xent(*encoder(both).chunk(2), tc.temperature, tc.loss_variant)
        loss.backward()
        encoder_opt.step()
        viewmaker_opt.zero_grad(set_to_none=True)
        encoder.requires_grad_(False)
        adversary = nt_xent(*encoder(views()).chunk(2), tc.temperature, tc.loss_variant)
        (-vc.adversary_weight * adversary).backward()
        viewmaker_opt.step()
        encoder.requires_grad_(True)
        return loss.item(), adversary.item()

    return step


def plain_step(args: argparse.Namespace, mode: str, views: torch.Tensor) -> Step:
    """The obvious step on two ready views: forward both, nt_xent, backward, the config's optimizer (bf16:
    autocast, channels-last)."""
    config = _config(args, "expert", mode)
    spec, tc = dataset_spec(config.data), config.train
    with seeded_init(0, "init/encoder"):
        encoder = build_encoder(args.encoder, spec.channels, tc.out_dim, args.width, spec.image_size).to(views.device)
    if mode == "bf16":
        encoder = encoder.to(memory_format=torch.channels_last)
        views = views.contiguous(memory_format=torch.channels_last)
    encoder.train()
    opt: torch.optim.Optimizer
    if tc.optimizer == "adam":
        opt = torch.optim.Adam(encoder.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    else:
        opt = torch.optim.SGD(encoder.parameters(), lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(views.device.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            z = encoder(views)
        z1, z2 = z.float().chunk(2)
        nt_xent(z1, z2, tc.temperature).backward()
        opt.step()

    return step


def encoder_gflop_per_view(args: argparse.Namespace, device: torch.device) -> float:
    """Forward + backward FLOPs of the encoder per view (``torch.utils.flop_counter``), in GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode

    config = _config(args, "expert", "fp32")
    spec = dataset_spec(config.data)
    with seeded_init(0, "init/encoder"):
        encoder = build_encoder(args.encoder, spec.channels, config.train.out_dim, args.width, spec.image_size).to(device)
    x = torch.zeros(2, spec.channels, spec.image_size, spec.image_size, device=device)
    with FlopCounterMode(display=False) as counter:
        encoder(x).square().sum().backward()
    return counter.get_total_flops() / 2 / 1e9


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The dense bf16 peak of ``device`` (``override`` wins); None on CPU or an unknown GPU."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="bench_deep_step.py", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    p.add_argument("--preset", choices=BENCH_PRESETS, default=None,
                   help="run config of the rows (default: cpu on CPU, the CPU protocol; paper on CUDA)")
    p.add_argument("--batch", type=int, default=None,
                   help="images per step (default: the preset's; paper on CPU: 32)")
    p.add_argument("--encoder", choices=ENCODERS, default=None, help="default: the preset's")
    p.add_argument("--width", type=int, default=None, help="encoder width (default: the preset's; paper on CPU: 16)")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="the spec: channels, size, policy (default: c+letters for cpu, c+digits for paper)")
    p.add_argument("--methods", default="expert,dropout,viewmaker", help=f"comma-separated kinds of views ({', '.join(METHODS)})")
    p.add_argument("--modes", default=",".join(MODES), help="fp32 and/or bf16 (bf16 + channels-last)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per row (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per row first")
    p.add_argument("--compile", action="store_true", help="add torch.compile to the project's bf16 switches")
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the device (TFLOP/s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads on CPU (default: torch's)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file (atomically)")
    return p


def _check(p: argparse.ArgumentParser, args: argparse.Namespace, device: torch.device) -> None:
    methods = [m for m in args.methods.split(",") if m]
    modes = [m for m in args.modes.split(",") if m]
    bad = sorted(set(methods) - set(METHODS)) or sorted(set(modes) - set(MODES))
    if bad or not methods or not modes:
        p.error(f"--methods must name some of {METHODS} and --modes some of {MODES}; got {args.methods!r}, {args.modes!r}")
    args.methods, args.modes = methods, modes
    cuda = device.type == "cuda"  # a default only where the option was not given (0 is refused, not defaulted)
    args.preset = ("paper" if cuda else "cpu") if args.preset is None else args.preset
    train = build_config(PRESETS[args.preset]).train
    sizes = {"encoder": train.encoder, "width": train.width, "batch": train.batch_size}
    if not cuda:
        sizes.update(PRESET_DEFAULTS[args.preset].get("cpu", {}))
    for name, value in sizes.items():
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    args.dataset = PRESET_DEFAULTS[args.preset]["dataset"] if args.dataset is None else args.dataset
    args.steps = 20 if args.steps is None else args.steps
    for name in ("batch", "width", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.batch < 2 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        p.error("--batch must be >= 2, --warmup >= 0 and --threads >= 1")
    if args.peak_tflops is not None and not (math.isfinite(args.peak_tflops) and args.peak_tflops > 0):
        p.error(f"--peak-tflops must be > 0, got {args.peak_tflops}")
    check_json_path(p, args.json)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = _parser()
    args = p.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        p.error(str(err))
    _check(p, args, device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    begun = begin(__file__, argv)
    spec = dataset_spec(_config(args, "expert", "fp32").data)
    gen = torch.Generator().manual_seed(0)
    shape = (args.batch, spec.channels, spec.image_size, spec.image_size)
    images = torch.randint(0, 256, shape, generator=gen).float().div_(255.0).to(device)
    base = torch.randint(0, 256, shape, generator=gen).float().div_(255.0).to(device)
    views = torch.rand((2 * args.batch, *shape[1:]), generator=gen).to(device)

    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{cpu_name()}, {os.cpu_count()} cores")
    gflop = encoder_gflop_per_view(args, device)
    peak = peak_tflops(device, args.peak_tflops)
    print(f"# {hardware}; torch {torch.__version__}; {thread_report()}")
    print(f"# preset {args.preset}: {args.encoder} width {args.width}, batch {args.batch} of "
          f"{'x'.join(map(str, shape[1:]))} ({args.dataset}, {spec.expert_augmentation} views, "
          f"{_config(args, 'expert', 'fp32').train.optimizer}); "
          f"{args.steps} timed steps after {args.warmup} warm-up; encoder fwd+bwd {gflop:.3f} GFLOP/view (counted; "
          f"CIFAR ResNet-18 width 64: ~{RESNET18_GFLOP_PER_VIEW}); bf16 peak "
          f"{'n/a' if peak is None else f'{peak:g} TFLOP/s'}")
    print(f"# bf16 mode: project train.perf = {sorted(k for k, v in {**FAST_SWITCHES, 'compile': args.compile}.items() if v)}"
          f", viewmaker precision bf16; plain = eager bf16 autocast + channels_last")
    print("| mode | step | ms/step | views/s | / plain | peak MiB | % bf16 peak |")
    print("|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    viewmaker_rates: dict[str, float] = {}
    for mode in args.modes:
        entries = [("plain", None)] + [(f"project {m}", m) for m in args.methods]
        if mode == "fp32" and "viewmaker" in args.methods:  # the viewmaker's own baseline, timed just before it
            entries.insert(entries.index(("project viewmaker", "viewmaker")), (PLAIN_VIEWMAKER, PLAIN_VIEWMAKER))
        plain_rate = None
        paired: dict[str, float] = {}  # the plain and the project viewmaker step, timed together
        fixed = [m for m in args.methods if m != "viewmaker"]
        grouped: dict[str, float] = {}  # on CPU: the plain step and the fixed views' steps, timed together
        if device.type == "cpu" and fixed:
            grouped = _time_alternating({"plain": plain_step(args, mode, views),
                                         **{m: project_step(args, m, mode, images, base) for m in fixed}},
                                        device, args.warmup, args.steps, f"{mode} plain and project {', '.join(fixed)}")
        for name, method in entries:
            if device.type == "cuda" and not (method == "viewmaker" and paired):
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            if method == PLAIN_VIEWMAKER:
                paired = _time_alternating({"plain": plain_viewmaker_step(args, images),
                                            "project": project_step(args, "viewmaker", mode, images, base)},
                                           device, args.warmup, args.steps, f"{mode} plain and project viewmaker")
                seconds = paired["plain"]
            elif method == "viewmaker" and paired:
                seconds = paired["project"]
            elif (method or "plain") in grouped:
                seconds = grouped[method or "plain"]
            else:
                step = plain_step(args, mode, views) if method is None else project_step(args, method, mode, images,
                                                                                         base)
                seconds = _time(step, device, args.warmup, args.steps, f"{mode} {name}")
            memory, memory_kind = _peak_memory(device)
            rate = 2 * args.batch / seconds
            plain_rate = rate if method is None else plain_rate
            ratio = rate / plain_rate if plain_rate else float("nan")
            mfu = rate * gflop * 1e9 / (peak * 1e12) if peak else None
            row = {"mode": mode, "step": name, "method": method, "ms_per_step": 1000 * seconds, "views_per_s": rate,
                   "ratio_to_plain": ratio, "peak_memory_mib": memory, "memory_kind": memory_kind,
                   "fraction_of_bf16_peak": mfu}
            rows.append(row)
            if method == PLAIN_VIEWMAKER:
                viewmaker_rates = {"plain": rate}
            elif method is not None:
                ratios[f"{mode}/{method}"] = ratio
            if method == "viewmaker" and mode == "fp32":
                viewmaker_rates["project"] = rate
            print(f"| {mode} | {name} | {1000 * seconds:,.1f} | {rate:,.0f} | {ratio:.2f}x | {memory:,.0f} | "
                  f"{'n/a' if mfu is None else f'{100 * mfu:.1f} %'} |")
    print(f"# peak MiB: {rows[0]['memory_kind']}")
    if args.preset == "cpu" and device.type == "cpu":
        cpu_ratios = {m: ratios[f"fp32/{m}"] for m in ("expert", "dropout") if f"fp32/{m}" in ratios}
        if cpu_ratios:
            print("# CPU protocol, float32 / plain: " + ", ".join(f"{m} {r:.2f}x" for m, r in cpu_ratios.items())
                  + f"; target >= {TARGET_CPU_RATIO}x each")
    viewmaker_ratio = viewmaker_rates["project"] / viewmaker_rates["plain"] if viewmaker_rates else None
    if viewmaker_ratio is not None:
        vc = _config(args, "viewmaker", "fp32").views.viewmaker
        print(f"# viewmaker (width {vc.width}, {vc.num_res_blocks} residual block(s)), float32: project / plain "
              f"viewmaker step {viewmaker_ratio:.2f}x; target >= {TARGET_VIEWMAKER_RATIO}x")
    if "bf16/expert" in ratios:
        print(f"# expert (bf16 switches) / plain bf16 + channels_last: measured {ratios['bf16/expert']:.2f}x here "
              f"({device.type}, batch {args.batch}); target >= {TARGET_EXPERT_RATIO}x on one H100-class GPU at "
              f"batch 512 (a target, not a measurement)")
    result = {**finish(begun, rows, speed_targets(args, device, ratios, viewmaker_ratio)),
              "settings": {"preset": args.preset, "encoder": args.encoder, "width": args.width, "batch": args.batch,
                           "dataset": args.dataset,
                           "steps": args.steps, "warmup": args.warmup, "compile": args.compile,
                           "methods": args.methods, "modes": args.modes},
              "encoder_gflop_per_view": gflop, "peak_bf16_tflops": peak, "rows": rows, "ratios": ratios,
              "viewmaker_to_plain_viewmaker": viewmaker_ratio,
              "targets": {"bf16/expert": {"min_ratio": TARGET_EXPERT_RATIO, "device": "one H100-class GPU",
                                          "batch": 512, "measured_here": False},
                          "fp32/expert,fp32/dropout": {"min_ratio": TARGET_CPU_RATIO, "device": "cpu", "preset": "cpu",
                                                       "measured_here": args.preset == "cpu" and device.type == "cpu"}}}
    result["machine"].update(device=str(device), hardware=hardware)
    if args.json:
        write(args.json, result)
    return result


def speed_targets(args: argparse.Namespace, device: torch.device, ratios: dict[str, float],
                  viewmaker_ratio: float | None) -> list[SpeedTarget]:
    """The docstring's targets, each with what this run measured of it (None where it ran other settings)."""
    train = build_config(PRESETS["cpu"]).train
    protocol = (args.preset == "cpu" and device.type == "cpu" and (args.encoder, args.width, args.batch, args.dataset)
                == (train.encoder, train.width, train.batch_size, PRESET_DEFAULTS["cpu"]["dataset"]))
    not_protocol = "" if protocol else "not the CPU protocol (preset cpu at its sizes, on CPU)"
    targets = [SpeedTarget(f"CPU-protocol step, project {m} float32 / plain step", "min", TARGET_CPU_RATIO, "x",
                           ratios.get(f"fp32/{m}") if protocol else None,
                           not_protocol or ("" if f"fp32/{m}" in ratios else f"{m} not among --methods"))
               for m in ("expert", "dropout")]
    targets.append(SpeedTarget("project viewmaker float32 / plain viewmaker step", "min", TARGET_VIEWMAKER_RATIO, "x",
                               viewmaker_ratio, "" if viewmaker_ratio is not None else "viewmaker or fp32 not run"))
    gpu = device.type == "cuda" and args.batch == 512 and (args.encoder, args.width) == ("resnet18", 64)
    targets.append(SpeedTarget("project expert (bf16 switches) / plain bf16 + channels-last step, one H100-class "
                               "GPU, ResNet-18 width 64, batch 512", "min", TARGET_EXPERT_RATIO, "x",
                               ratios.get("bf16/expert") if gpu else None,
                               "" if gpu else f"needs one GPU at batch 512; this run: {device.type}, batch {args.batch}"))
    return targets


if __name__ == "__main__":
    retain_freed_memory()  # as the deep CLI's process (a setting of the process: not made by main() in a caller's)
    main()
