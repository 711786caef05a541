"""Two-task image datasets: task A = base image class, task B = class of an overlay shared by both views.

C+Shapes, C+Digits and C+Letters (Viewmaker / Feature Dropout papers) and RandBit (Chen et al. 2021),
as specified in the project notes (experiments.md). The offline defaults are stand-ins: 32x32 crops of
ten real photos (scikit-image, scikit-learn) for CIFAR-10, and scikit-learn's 8x8 handwritten digits
for MNIST; say so wherever results are shown. Real CIFAR-10 / MNIST load from ``data_dir`` through
torchvision.
"""

from .build import build_dataset
from .dataset import TwoTaskDataset
from .spec import DATASETS, DatasetSpec

__all__ = ["DATASETS", "DatasetSpec", "TwoTaskDataset", "build_dataset"]
