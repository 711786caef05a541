"""``python -m deep_experiments``: see :mod:`deep_experiments.cli`."""

from deep_experiments.cli import main

raise SystemExit(main())
