"""The feature cache: extract frozen-backbone features once, verify them on every load.

- :func:`extract_features` — cached extraction of one split (backbone runs only on a miss);
- :func:`load_features_dataset` — a :class:`refine.data.Dataset` from a features directory,
  without building a backbone (what the AL loop uses);
- :func:`read_cache` / :func:`write_cache` / :func:`list_caches` — the file format
  (see :mod:`refine.features.cache` for its specification).
"""

from refine.features.cache import (
    FORMAT_VERSION,
    CacheEntry,
    cache_filename,
    cache_key,
    library_versions,
    list_caches,
    read_cache,
    read_metadata,
    write_cache,
)
from refine.features.errors import (
    CacheCorruptedError,
    CacheMismatchError,
    CacheWarning,
    FeaturesNotFoundError,
    ResourceUnavailableError,
)
from refine.features.extract import (
    CacheRequest,
    SplitFeatures,
    cache_identity,
    cache_request,
    extract_features,
    lookup_cache,
)
from refine.features.from_cache import find_features, load_features_dataset
from refine.splits import random_split_indices

__all__ = [
    "FORMAT_VERSION",
    "CacheCorruptedError",
    "CacheEntry",
    "CacheMismatchError",
    "CacheRequest",
    "CacheWarning",
    "FeaturesNotFoundError",
    "ResourceUnavailableError",
    "SplitFeatures",
    "cache_filename",
    "cache_identity",
    "cache_key",
    "cache_request",
    "extract_features",
    "find_features",
    "library_versions",
    "list_caches",
    "load_features_dataset",
    "lookup_cache",
    "random_split_indices",
    "read_cache",
    "read_metadata",
    "write_cache",
]
