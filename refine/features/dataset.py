"""Former name of :mod:`refine.features.from_cache` (a dataset from cached features).

Kept so that ``from refine.features.dataset import ...`` keeps working; new code imports from
:mod:`refine.features.from_cache` (and the split helpers from :mod:`refine.splits`).
"""

from refine.features.from_cache import find_features, load_features_dataset
from refine.splits import random_split_indices

__all__ = ["find_features", "load_features_dataset", "random_split_indices"]
