"""Shared pytest set-up: headless matplotlib and hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (used by ``.ci/run``) derandomizes hypothesis so CI is reproducible;
``dev`` runs more examples.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
