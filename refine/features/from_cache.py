"""Build a :class:`refine.data.Dataset` from a features directory, without touching a backbone.

This is what the AL loop and every later script call: it reads verified cache files written by
:func:`refine.features.extract_features` (or ``refine extract``), checks them against the
backbone's spec, and assembles the train pool and test split.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from refine.backbones.model import Backbone
from refine.catalogue import HUB_DATASETS
from refine.data import Dataset
from refine.errors import ConfigError
from refine.features.cache import CacheEntry, cache_glob, read_cache, read_metadata
from refine.features.errors import (
    CacheCorruptedError,
    CacheMismatchError,
    CacheWarning,
    FeaturesNotFoundError,
)
from refine.features.extract import CacheRequest, cache_request
from refine.splits import default_split_seed, leaked_count, split_indices

log = logging.getLogger("refine")


def find_features(
    request: CacheRequest, features_dir: str | Path, *, strict_versions: bool = False
) -> CacheEntry:
    """The verified cache entry matching ``request`` in ``features_dir``.

    The file with the exact key is preferred. Otherwise a file whose *identity* matches (same
    dataset, split, backbone, weights and preprocessing) but that was written with other library
    versions is used, with a :class:`CacheWarning` naming the differences — unless
    ``strict_versions`` is True. Corrupted files are skipped with a warning.

    Raises
    ------
    FeaturesNotFoundError
        Nothing valid matches; the message says how to create the features.
    """
    features_dir = Path(features_dir)
    exact = request.path(features_dir)
    problems: list[str] = []
    if exact.exists():
        try:
            return read_cache(exact, expected_key=request.key)
        except (CacheCorruptedError, CacheMismatchError) as err:
            warnings.warn(f"skipping {err}", CacheWarning, stacklevel=2)
            problems.append(str(err))
    candidates: list[tuple[str, Path, dict]] = []
    for path in sorted(
        features_dir.glob(cache_glob(request.dataset, request.split, request.spec.name))
    ):
        if path == exact:
            continue
        try:
            meta = read_metadata(path)
        except CacheCorruptedError as err:
            problems.append(str(err))
            continue
        if meta.get("identity") == request.identity:
            candidates.append((str(meta.get("created_utc", "")), path, meta))
        else:
            weights = meta.get("identity", {}).get("weights")
            problems.append(f"{path.name}: other settings (weights {weights!r})")
    if not strict_versions:
        for _, path, _meta in sorted(candidates, key=lambda c: c[0], reverse=True):
            try:
                entry = read_cache(path)
            except (CacheCorruptedError, CacheMismatchError) as err:
                warnings.warn(f"skipping {err}", CacheWarning, stacklevel=2)
                problems.append(str(err))
                continue
            diff = {
                k: (v, request.versions.get(k))
                for k, v in entry.versions.items()
                if request.versions.get(k) != v
            }
            warnings.warn(
                f"using {path.name}, extracted with other library versions "
                + ", ".join(f"{k} {a} (now {b})" for k, (a, b) in sorted(diff.items()))
                + "; re-extract with rebuild=True (CLI: --rebuild) for an exact match",
                CacheWarning,
                stacklevel=2,
            )
            return entry
    elif candidates:
        problems.append(
            f"{len(candidates)} file(s) with the same settings but other library versions "
            "(strict_versions=True)"
        )
    detail = ("; found: " + " | ".join(problems)) if problems else ""
    raise FeaturesNotFoundError(
        f"no valid cached features for dataset {request.dataset!r}, split {request.split!r}, "
        f"backbone {request.spec.name!r} (weights {request.weights!r}) in {features_dir}{detail}. "
        f"Create them with `refine extract --dataset {request.dataset} --backbone {request.spec.name} "
        f"--out {features_dir}` or refine.features.extract_features(...)."
    )


def load_features_dataset(
    dataset: str,
    backbone: str | Backbone = "dinov2",
    features_dir: str | Path = "features",
    *,
    batch_size: int | None = None,
    pretrained: bool = True,
    init_seed: int = 0,
    weights_path: str | Path | None = None,
    split_seed: int | None = None,
    split: str = "corrected",
    test_fraction: float | None = None,
    strict_versions: bool = False,
) -> Dataset:
    """The :class:`~refine.data.Dataset` of ``dataset`` under ``backbone`` from cached features.

    Never builds a backbone and never reads raw data: run ``refine extract`` (or the dataset's
    loader) first. Registered hub datasets (``cifar10``, ``esc50``, ...) know their layout,
    number of classes and the paper's b; for any other name the cache must hold ``train`` and
    ``test`` splits (or only ``all`` plus a ``test_fraction``) and b comes from ``batch_size``
    or the cache's metadata.

    Parameters
    ----------
    dataset : str
        Dataset name used at extraction.
    backbone : str or Backbone
        Backbone name (or the built backbone used at extraction, for custom models).
    features_dir : path
        Directory holding the cache files.
    batch_size : int, optional
        The AL batch size b; defaults to the dataset's b (the paper's Table 1).
    pretrained, init_seed, weights_path
        Which weights the features must come from (as given at extraction).
    split_seed : int, optional
        Seed of the random train/test split of datasets without an official test split (ESC-50);
        default 0 (corrected) or 42 (published).
    split : {"corrected", "published"}
        That split's mechanism (:mod:`refine.splits`): one seeded partition, or the published
        code's two separate splits of the same clips, which leak test clips into the pool (the
        count is logged as a warning and stored as ``metadata["leaked_test_clips"]``).
    test_fraction : float, optional
        Test share of that random split (ESC-50: 0.2).
    strict_versions : bool
        Refuse features extracted with other library versions instead of warning.
    """
    spec = HUB_DATASETS.get(dataset)
    if spec is not None and test_fraction is None:
        test_fraction = spec.test_fraction

    def entry_for(split: str) -> CacheEntry:
        req = cache_request(
            dataset,
            split,
            backbone,
            pretrained=pretrained,
            init_seed=init_seed,
            weights_path=weights_path,
        )
        return find_features(req, features_dir, strict_versions=strict_versions)

    extra: dict[str, Any] = {}
    if test_fraction is not None:
        full = entry_for("all")
        train_idx, test_idx = split_indices(
            split, full.labels.shape[0], test_fraction, split_seed, dataset
        )
        X_tr, y_tr = full.features[train_idx], full.labels[train_idx]
        X_te, y_te = full.features[test_idx], full.labels[test_idx]
        entries = {"all": full}
        leaked = leaked_count(train_idx, test_idx)
        if leaked:
            log.warning(
                "%s: split=%r puts %d of the %d test instances also in the pool",
                dataset,
                split,
                leaked,
                test_idx.size,
            )
        extra = {
            "split": split,
            "split_seed": default_split_seed(split) if split_seed is None else int(split_seed),
            "test_fraction": float(test_fraction),
            "leaked_test_clips": leaked,
        }
    else:
        tr, te = entry_for("train"), entry_for("test")
        X_tr, y_tr, X_te, y_te = tr.features, tr.labels, te.features, te.labels
        entries = {"train": tr, "test": te}
    first = next(iter(entries.values())).metadata
    n_classes = spec.n_classes if spec is not None else first.get("n_classes")
    if n_classes is None:
        n_classes = max(2, int(max(y_tr.max(), y_te.max())) + 1)
    if batch_size is None:
        batch_size = spec.batch_size if spec is not None else first.get("batch_size")
    if batch_size is None:
        raise ConfigError(
            f"batch_size (the AL budget b) is unknown for dataset {dataset!r}; pass batch_size=..."
        )
    names = first.get("class_names")
    class_names = tuple(names) if names and len(names) == n_classes else None
    name = backbone.name if isinstance(backbone, Backbone) else backbone
    return Dataset(
        name=dataset,
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        n_classes=int(n_classes),
        batch_size=int(batch_size),
        backbone=name,
        class_names=class_names,
        metadata={
            "features_dir": str(features_dir),
            "cache_files": {s: str(e.path) for s, e in entries.items()},
            "cache_keys": {s: e.key for s, e in entries.items()},
            "weights": first["identity"]["weights"],
            "versions": first.get("versions", {}),
            "source": first.get("source"),
            **extra,
        },
    )
