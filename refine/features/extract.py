"""Extract features once, cache them, and find them again.

:func:`extract_features` is the one entry point that runs a backbone: it computes the cache key
of the request, returns the cached features when a valid file exists, and otherwise (or when the
file is corrupted or was written for other settings, with a :class:`CacheWarning`) extracts and
writes them atomically.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from refine.backbones.model import Backbone
from refine.backbones.registry import backbone_spec, load_backbone
from refine.backbones.spec import BackboneSpec, thaw
from refine.features.cache import (
    FORMAT_VERSION,
    CacheEntry,
    cache_filename,
    cache_key,
    library_versions,
    read_cache,
    write_cache,
)
from refine.features.errors import CacheCorruptedError, CacheMismatchError, CacheWarning


@dataclass(frozen=True)
class CacheRequest:
    """Everything that identifies one cache entry, computed without building the backbone.

    Attributes
    ----------
    dataset, split : str
        Names of the data.
    spec : BackboneSpec
        The backbone's static description.
    weights : str
        Weights descriptor (hub id, ``random-init(seed=…)``, ``local:<path>``, ``custom:<class>``).
    identity : dict
        The key's identity part.
    versions : dict
        The key's library-version part.
    key : str
        ``cache_key(identity, versions)``.
    """

    dataset: str
    split: str
    spec: BackboneSpec
    weights: str
    identity: dict
    versions: dict
    key: str

    def path(self, features_dir: str | Path) -> Path:
        """Where this entry lives in ``features_dir``."""
        return Path(features_dir) / cache_filename(
            self.dataset, self.split, self.spec.name, self.key
        )


def cache_identity(dataset: str, split: str, spec: BackboneSpec, weights: str) -> dict:
    """The identity part of the cache key (see :mod:`refine.features.cache`)."""
    return {
        "format": FORMAT_VERSION,
        "dataset": dataset,
        "split": split,
        "backbone": spec.name,
        "weights": weights,
        "architecture": spec.architecture,
        "pooling": spec.pooling,
        "output_dim": spec.output_dim,
        "preprocessing": thaw(spec.preprocessing),
    }


def cache_request(
    dataset: str,
    split: str,
    backbone: str | Backbone,
    *,
    pretrained: bool = True,
    init_seed: int = 0,
    weights_path: str | Path | None = None,
) -> CacheRequest:
    """The cache request for ``dataset``/``split`` with ``backbone`` (a name or a built Backbone).

    With a name, the weights descriptor follows ``pretrained``/``init_seed``/``weights_path``
    exactly as :func:`refine.backbones.load_backbone` would build it; with a :class:`Backbone`,
    its own descriptor is used and those three arguments are ignored.
    """
    if isinstance(backbone, Backbone):
        spec, weights = backbone.spec, backbone.weights
    else:
        spec = backbone_spec(backbone)
        weights = spec.weights_descriptor(
            pretrained=pretrained, init_seed=init_seed, weights_path=weights_path
        )
    identity = cache_identity(dataset, split, spec, weights)
    versions = library_versions(spec.packages)
    return CacheRequest(
        dataset, split, spec, weights, identity, versions, cache_key(identity, versions)
    )


def lookup_cache(request: CacheRequest, features_dir: str | Path) -> CacheEntry | None:
    """The valid cache entry for ``request`` in ``features_dir``, or None.

    A file that exists under the request's name but is corrupted or mismatching is reported with
    a :class:`CacheWarning` and treated as missing (so the caller rebuilds it).
    """
    path = request.path(features_dir)
    if not path.exists():
        return None
    try:
        return read_cache(path, expected_key=request.key)
    except (CacheCorruptedError, CacheMismatchError) as err:
        warnings.warn(f"{err}; rebuilding it", CacheWarning, stacklevel=3)
        return None


@dataclass(frozen=True)
class SplitFeatures:
    """Result of :func:`extract_features` for one split.

    Attributes
    ----------
    entry : CacheEntry
        The verified cache entry (features, labels, metadata, path).
    status : {"cached", "extracted"}
        Whether the backbone ran.
    seconds : float
        Wall time of this call.
    """

    entry: CacheEntry
    status: str
    seconds: float

    @property
    def features(self) -> np.ndarray:
        """float32 ``N×D`` features."""
        return self.entry.features

    @property
    def labels(self) -> np.ndarray:
        """int64 labels."""
        return self.entry.labels

    @property
    def path(self) -> Path:
        """The cache file."""
        return self.entry.path


def extract_features(
    items: Sequence[Any],
    labels: Any,
    *,
    dataset: str,
    split: str,
    features_dir: str | Path = "features",
    backbone: str | Backbone = "dinov2",
    device: Any = "cpu",
    pretrained: bool = True,
    weights_path: str | Path | None = None,
    init_seed: int = 0,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    rebuild: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> SplitFeatures:
    """Features of ``items`` under ``backbone``, from the cache or freshly extracted and cached.

    Parameters
    ----------
    items : sequence
        Raw inputs (see :meth:`refine.backbones.Backbone.extract`), read lazily.
    labels : array-like
        Integer label of each item.
    dataset, split : str
        Names recorded in the cache key and file name.
    features_dir : path
        Cache directory (created if needed).
    backbone : str or Backbone
        Backbone name (built only if extraction is needed) or an already built backbone.
    device : str
        Where a backbone built here runs (``"cpu"``, ``"cuda"``, ``"auto"``, ...); a built
        :class:`Backbone` keeps its own device.
    pretrained, weights_path, init_seed
        How a backbone built here gets its weights (see :func:`refine.backbones.load_backbone`).
    batch_size : int
        Inputs per forward pass (not the AL batch size b).
    num_workers : int
        DataLoader workers for decoding/preprocessing.
    progress : bool
        Show a progress bar.
    rebuild : bool
        Extract even if a valid cache file exists.
    metadata : mapping, optional
        Extra JSON-serialisable provenance stored in the file (not part of the key), e.g.
        ``n_classes``, ``class_names``, ``source``, ``batch_size``.

    Returns
    -------
    SplitFeatures
    """
    start = time.perf_counter()
    labels_arr = np.asarray(labels)
    if labels_arr.ndim != 1 or labels_arr.shape[0] != len(items):
        raise ValueError(
            f"labels must be a vector with one entry per item: {len(items)} items, "
            f"labels of shape {labels_arr.shape}"
        )
    request = cache_request(
        dataset,
        split,
        backbone,
        pretrained=pretrained,
        init_seed=init_seed,
        weights_path=weights_path,
    )
    features_dir = Path(features_dir)
    if not rebuild:
        entry = lookup_cache(request, features_dir)
        if entry is not None:
            return SplitFeatures(entry, "cached", time.perf_counter() - start)
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(
            backbone,
            pretrained=pretrained,
            device=device,
            weights_path=weights_path,
            init_seed=init_seed,
        )
    t0 = time.perf_counter()
    feats = backbone.extract(
        items,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        description=f"{dataset}/{split} · {backbone.name}",
    )
    seconds = time.perf_counter() - t0
    meta: dict[str, Any] = dict(metadata or {})
    meta.update(
        {
            "identity": request.identity,
            "versions": request.versions,
            "key": request.key,
            "versions_full": library_versions(
                {*request.spec.packages, "numpy", "datasets", "refine-al"}, public=False
            ),
            "device": str(backbone.device),
            "extract_batch_size": int(batch_size),
            "extract_seconds": round(seconds, 3),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
    entry = write_cache(request.path(features_dir), feats, labels_arr, meta)
    return SplitFeatures(entry, "extracted", time.perf_counter() - start)
