"""Datasets: the registry and its loaders (embedded, synthetic, and Hugging Face image/audio)."""

from refine.datasets import (
    builtin,  # noqa: F401  (registers digits and synthetic)
    hub,  # noqa: F401
    synthetic_shapes,  # noqa: F401  (registers synthetic_shapes)
)
from refine.datasets.registry import (
    DatasetEntry,
    available_datasets,
    dataset_entry,
    load_dataset,
    register_dataset,
)

__all__ = [
    "DatasetEntry",
    "available_datasets",
    "dataset_entry",
    "load_dataset",
    "register_dataset",
]
