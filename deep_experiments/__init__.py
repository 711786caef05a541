"""Deep arm: SimCLR with expert, Viewmaker and feature-dropout views on two-task datasets.

Kept light on import: submodules pull in torchvision, scikit-image etc. only when used.
"""
