"""Two-task image datasets: task A = base image class, task B = class of an overlay shared by both views.

C+Shapes, C+Digits and C+Letters (Viewmaker / Feature Dropout papers) and RandBit (Chen et al. 2021),
as specified in the Feature Dropout paper (docs/related-work.md), one recipe each (:mod:`.recipes`). The offline
defaults are stand-ins: 32x32 crops of ten real photos (scikit-image, scikit-learn) for CIFAR-10, and
scikit-learn's 8x8 handwritten digits for MNIST; say so wherever results are shown. Real CIFAR-10 /
MNIST load from ``data_dir`` through torchvision.
"""

from .build import DatasetBuilder, build_dataset, dataset_spec
from .config import DataConfig
from .dataset import TwoTaskDataset
from .loader import DeviceLoader, ItemBatches, fixed_order, make_loader, unpack_batch
from .recipes import DATASETS, RECIPES, DatasetRecipe, dataset_recipe
from .spec import DatasetSpec

__all__ = ["DATASETS", "DatasetBuilder", "DeviceLoader", "RECIPES", "DataConfig", "DatasetRecipe", "DatasetSpec", "ItemBatches", "TwoTaskDataset", "build_dataset",
           "dataset_recipe", "dataset_spec", "fixed_order", "make_loader", "unpack_batch"]
