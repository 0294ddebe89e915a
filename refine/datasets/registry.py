"""Dataset registry: ``load_dataset(name, **params)`` for every dataset the package knows.

Loaders register themselves with :func:`register_dataset`. Each entry carries its default batch
size b (the paper's Table 1) and a short description used by ``refine datasets`` and Table 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from refine.data import Dataset
from refine.errors import unknown_choice


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset loader and what Table 1 reports about it."""

    name: str
    loader: Callable[..., Dataset]
    batch_size: int
    n_classes: int | None
    description: str
    needs_features: bool  # True: image/audio data, run through a backbone (feature cache)


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str,
    *,
    batch_size: int,
    n_classes: int | None,
    description: str,
    needs_features: bool = False,
) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering a loader under ``name``."""

    def deco(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} registered twice")
        _REGISTRY[name] = DatasetEntry(name, fn, batch_size, n_classes, description, needs_features)
        return fn

    return deco


def available_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    return sorted(_REGISTRY)


def dataset_entry(name: str) -> DatasetEntry:
    """The registry entry of ``name`` (clear error listing the valid names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_choice("dataset", name, _REGISTRY) from None


def load_dataset(name: str, **params) -> Dataset:
    """Load the registered dataset ``name``; ``params`` go to its loader.

    The pool transforms of :mod:`refine.datasets.transforms` work for every dataset and are
    taken out of ``params`` first: ``pool_fraction``/``pool_seed`` (a seeded sub-pool),
    ``imbalance_ratio``/``imbalance_seed`` (a long-tailed pool) and ``noise_std``/``noise_seed``/
    ``noise_normalize_test`` (noisy pool features); the rest go to the loader.
    """
    from refine.datasets.transforms import apply_pool_transforms, split_pool_params

    loader_params, pool_params = split_pool_params(params)
    return apply_pool_transforms(dataset_entry(name).loader(**loader_params), **pool_params)
