"""Benchmark: SimCLR views per second, ours (batched torch) vs kornia vs per-image torchvision.

Run on demand: ``python benchmarks/bench_augment.py [--device cpu|cuda] [--batch 256] [--repeats 5]``.
All three apply the same policy (RandomResizedCrop 0.2-1, flip, ColorJitter 0.4/0.4/0.4/0.1 p 0.8,
grayscale p 0.2, Gaussian blur sigma 0.1-2 p 0.5 with a 13-tap kernel, CIFAR normalization) to a
batch of random 3x32x32 images. Prints the machine, library versions and mean +- std views/s over
``repeats`` timed runs after one warm-up (CUDA: timed with events after a synchronize). kornia is
optional: its row says "not installed" when it is missing (it is an optional dependency). ``--json FILE``
also writes the record of :mod:`record` (no speed target: this benchmark states none).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from record import add_json_option, begin, check_json_path, cpu_name, finish, write
from threads import thread_report
from torchvision.transforms import v2

from deep_experiments.augment import ExpertAugment
from deep_experiments.device import resolve_device
from deep_experiments.normalize import CIFAR_MEAN, CIFAR_STD
from featuredrop.cli import OneLineParser, positive_int

Augment = Callable[[torch.Tensor], torch.Tensor]


def ours(device: torch.device) -> Augment:
    """This package's batched augmentation, one generator for all draws."""
    aug, gen = ExpertAugment(3, 32), torch.Generator(device=device).manual_seed(0)
    return lambda x: aug(x, gen)


def kornia_pipeline(device: torch.device) -> Augment | None:
    """kornia.augmentation with the same policy, or None when kornia is not installed."""
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    pipe = torch.nn.Sequential(
        K.RandomResizedCrop((32, 32), scale=(0.2, 1.0)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((13, 13), (0.1, 2.0), p=0.5),
        K.Normalize(torch.tensor(CIFAR_MEAN), torch.tensor(CIFAR_STD)),
    ).to(device)
    return lambda x: pipe(x)


def torchvision_per_image(device: torch.device) -> Augment:
    """torchvision v2 on tensors, one image at a time (what a DataLoader transform does)."""
    pipe = v2.Compose([
        v2.RandomResizedCrop(32, scale=(0.2, 1.0)),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(13, sigma=(0.1, 2.0))], p=0.5),
        v2.Normalize(CIFAR_MEAN, CIFAR_STD),
    ])
    return lambda x: torch.stack([pipe(img) for img in x])


def time_views(fn: Augment, x: torch.Tensor, repeats: int) -> list[float]:
    """Views per second of ``repeats`` timed calls after one warm-up call."""
    fn(x)
    rates = []
    for _ in range(repeats):
        if x.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn(x)
            end.record()
            torch.cuda.synchronize()
            seconds = start.elapsed_time(end) / 1000
        else:
            t0 = time.perf_counter()
            fn(x)
            seconds = time.perf_counter() - t0
        rates.append(len(x) / seconds)
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="bench_augment.py", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu | cuda[:N] (default %(default)s)")
    parser.add_argument("--batch", type=positive_int, default=256)
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed runs after one warm-up (>= 2: a std)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads on CPU (default 1, as in the README)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    check_json_path(parser, args.json)
    if args.repeats < 2:
        parser.error(f"--repeats must be >= 2 (the table shows a std), got {args.repeats}")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    begun = begin(__file__, argv)
    x = torch.rand(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    try:
        import kornia

        kornia_version = kornia.__version__
    except ImportError:
        kornia_version = "not installed"
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads")
    print(f"# {hardware}; torch {torch.__version__}, torchvision {torchvision.__version__}, kornia {kornia_version}")
    print(f"# {thread_report()}")
    print(f"# batch {args.batch} of 3x32x32, mean +- std of {args.repeats} runs after one warm-up")
    print("| implementation | views/s |")
    print("|---|---|")
    rows = [("ours (batched torch, deep_experiments.augment)", ours(device)),
            ("kornia.augmentation", kornia_pipeline(device)),
            ("torchvision v2, per image", torchvision_per_image(device))]
    means, recorded = {}, []
    for name, fn in rows:
        if fn is None:
            print(f"| {name} | not installed |")
            recorded.append({"implementation": name, "views_per_s": None})
            continue
        rates = time_views(fn, x, args.repeats)
        means[name] = statistics.mean(rates)
        print(f"| {name} | {means[name]:,.0f} +- {statistics.stdev(rates):,.0f} |")
        recorded.append({"implementation": name, "views_per_s": means[name], "std": statistics.stdev(rates)})
    reference = rows[-1][0]  # timed in the same run, so the ratio holds under load where raw rates do not
    ratio = means[rows[0][0]] / means[reference]
    print(f"# ours / {reference}: {ratio:.1f}x (README: 6.9x at 1 thread)")
    if args.json:
        write(args.json, finish(begun, recorded, [], device=str(device), batch=args.batch, repeats=args.repeats,
                                kornia=kornia_version, ours_over_torchvision_per_image=ratio))


if __name__ == "__main__":
    main()
