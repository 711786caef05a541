"""The run machinery: training loop and learner, components, checkpoints, run folders (written and
read), the final probes of a run and grids of runs as subprocesses.

Import the modules themselves (``deep_experiments.run.train``, ``.folder``, ...): this package
file stays empty so that reading a run folder does not import the training code.
"""
