"""Shared pytest set-up: headless matplotlib and hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (used by ``.ci/run``) derandomizes hypothesis so CI is reproducible;
``dev`` runs more examples.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# One thread per process: on a busy 2-core CI machine torch/OpenMP with 2 threads ran the deep
# tests 3x slower (measured 102 s vs 30 s).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a core dependency
    pass
