"""What every benchmark prints first: how many threads it ran on, and how loaded the machine was.

Timings on a shared 2-core machine move by +-60 % with the load and by 2x with the thread count,
so a number is only comparable with the thread count and load printed beside it (and with the
reference implementation timed in the same run, where the benchmark has one).
"""

from __future__ import annotations

import os


def thread_report() -> str:
    """``threads: torch N, BLAS M (OMP_NUM_THREADS=...); C cores, load avg L``."""
    import torch

    try:
        from threadpoolctl import threadpool_info

        blas = ",".join(sorted({str(pool["num_threads"]) for pool in threadpool_info()})) or "?"
    except ImportError:
        blas = "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"threads: torch {torch.get_num_threads()}, BLAS {blas} "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); "
            f"{os.cpu_count()} cores, load avg {load:.2f}")
