"""Datasets: the registry and its loaders (embedded, synthetic, the paper's image/audio data sets).

- :mod:`refine.datasets.registry` — ``load_dataset(name, **params)``, ``register_dataset``;
- :mod:`refine.datasets.builtin` — scikit-learn's digits and a synthetic Gaussian mixture;
- :mod:`refine.datasets.hub` — the catalogued data sets (:mod:`refine.catalogue`) as loaders of
  cached backbone features, read by :mod:`refine.datasets.readers` and extracted by
  :mod:`refine.datasets.extraction`;
- :mod:`refine.datasets.transforms` — pool options of every dataset (``pool_fraction``,
  ``imbalance_ratio``, ``noise_std``), applied by ``load_dataset``.
"""

from refine.datasets import (
    builtin,  # noqa: F401  (registers digits and synthetic)
    hub,  # noqa: F401  (registers the catalogued data sets)
    synthetic_shapes,  # noqa: F401  (registers synthetic_shapes)
)
from refine.datasets.registry import (
    DatasetEntry,
    available_datasets,
    dataset_entry,
    load_dataset,
    register_dataset,
)
from refine.datasets.transforms import POOL_TRANSFORM_PARAMS, apply_pool_transforms

__all__ = [
    "POOL_TRANSFORM_PARAMS",
    "DatasetEntry",
    "apply_pool_transforms",
    "available_datasets",
    "dataset_entry",
    "load_dataset",
    "register_dataset",
]
