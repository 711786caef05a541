"""Deep arm: SimCLR with expert, Viewmaker and feature-dropout views on two-task datasets.

Layout: ``data/`` (the dataset recipes and their registry, ``build_dataset``), ``views/`` (one file
per kind of view and their registry), ``models/`` (encoders and the viewmaker network), ``run/``
(training loop, learner, checkpoints, run folders, final probes, grids); ``configs.py`` (the run
config and its file format), ``probe.py`` (linear probes), ``augment.py`` / ``normalize.py``
(expert augmentations, input normalization), ``seeds.py``, ``device.py``, ``cli.py``.

Kept light on import: submodules pull in torchvision, scikit-image etc. only when used.
"""
