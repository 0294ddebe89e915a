"""Pool transforms that work for every dataset: a seeded sub-pool, a long tail, noisy features.

:func:`refine.datasets.load_dataset` pops the keyword arguments of :func:`apply_pool_transforms`
(CLI: ``refine run --dataset-param imbalance_ratio=10``) and applies them, in this order, to the
dataset its loader returns:

1. ``pool_fraction`` — keep a seeded random share of the training split as the AL pool. The
   authors' code (``dal_toolbox.datasets.base.BaseData`` with ``val_split=0.1``) keeps a random
   90 % of every image dataset's training split and never uses the other 10 %; their driver seeds
   numpy's global generator with 42 right before building the data, so the pool is the first
   ``int(0.9 · N)`` entries of a ``RandomState(42)`` permutation of ``range(N)``, in that
   permuted order (provided nothing drew from numpy's global generator in between; the
   backbone is built there). With ``pool_fraction=0.9, pool_seed=42`` this module draws that
   permutation (from a local ``RandomState``, never the global one), so on the same instance
   order it keeps the same instances. ``1.0`` (the default) keeps the whole split in its order.
2. ``imbalance_ratio`` — a long-tailed pool with the exponential profile of Cao et al. (2019,
   "Learning imbalanced datasets with label-distribution-aware margin loss") as the authors'
   ``LongTailedWrapper`` builds it: with C classes present and n instances in the pool, class c
   (sorted label order, 0 = head) keeps ``int((n/C) · (1/IR)^(c/(C−1)))`` instances, the first
   ones of a shuffle of that class's pool positions. The shuffles are those of a legacy
   ``RandomState(imbalance_seed)`` called class after class (the published code reseeds numpy's
   global generator with 42 and shuffles with it, which is the same stream), so the default seed
   42 reproduces the published subset. The kept positions are concatenated class after class
   (head first), as published. Only the pool is thinned; the test split stays as it was.
3. ``noise_std`` — L2-normalise every pool feature vector, then add isotropic Gaussian noise of
   that standard deviation (the published ``NoisyDataset``, std 0.1 in its config, off by
   default). The test features are left untouched by default, as in the published code, which
   wraps only the training dataset: the head is trained on unit-norm noisy features and tested
   on raw ones. A linear head's arg-max is invariant to a positive rescaling of its input up to
   the bias, so this mostly leaves accuracy comparable; ``noise_normalize_test=True`` also
   L2-normalises (without noise) the test features, the consistent alternative. One difference
   stays: the published wrapper draws fresh noise at every read (every epoch and every query
   sees another draw), while here the noise is drawn once per dataset from
   ``child_rng(noise_seed, "pool-noise")``, because the package's features are fixed arrays
   that every strategy and every head training must see identically.

Every transform records what it did in ``Dataset.metadata["pool_transforms"]`` and the kept
positions of the loader's training split in ``Dataset.metadata["pool_indices"]``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from refine.data import Dataset
from refine.errors import ConfigError, check_fraction, check_positive_int
from refine.seeding import child_rng

#: The keyword arguments of :func:`apply_pool_transforms` (what ``load_dataset`` pops).
POOL_TRANSFORM_PARAMS = (
    "pool_fraction",
    "pool_seed",
    "imbalance_ratio",
    "imbalance_seed",
    "noise_std",
    "noise_seed",
    "noise_normalize_test",
)


def split_pool_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split loader keyword arguments into (the loader's own, the pool transforms')."""
    pool = {k: v for k, v in params.items() if k in POOL_TRANSFORM_PARAMS}
    rest = {k: v for k, v in params.items() if k not in POOL_TRANSFORM_PARAMS}
    return rest, pool


def published_pool_indices(n: int, pool_fraction: float, seed: int = 42) -> np.ndarray:
    """Positions kept by the published code's random ``pool_fraction`` share of ``range(n)``.

    The first ``int(n · pool_fraction)`` entries of ``RandomState(seed).permutation(n)`` (the
    published ``BaseData`` with ``val_split = 1 − pool_fraction`` after ``np.random.seed(seed)``),
    in permutation order. E.g. 45 000 of CIFAR's 50 000 at ``pool_fraction=0.9``.
    """
    n = check_positive_int("n", n)
    frac = check_fraction("pool_fraction", pool_fraction)
    n_keep = int(n * frac)
    if n_keep < 1:
        raise ConfigError(f"pool_fraction={pool_fraction} keeps no instance of a pool of {n}")
    return np.random.RandomState(int(seed)).permutation(n)[:n_keep].astype(np.int64)


def long_tailed_counts(n: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Instances kept per class (0 = head): ``int((n/C) · (1/IR)^(c/(C−1)))``.

    Written as the published ``LongTailedWrapper._get_img_num_per_cls`` computes it (the order of
    the floating-point operations decides the floor at exact integers). From a pool of 45 000 in
    100 classes: 450 at the head, 45 at the tail and 17 614 in total for IR = 10; 9 and 11 349
    for IR = 50.
    """
    ir = check_imbalance_ratio(imbalance_ratio)
    c = check_positive_int("n_classes", n_classes, minimum=2)
    img_max = n / c
    return np.array(
        [int(img_max * (1.0 / ir) ** (k / (c - 1.0))) for k in range(c)], dtype=np.int64
    )


def long_tailed_indices(labels: np.ndarray, imbalance_ratio: float, seed: int = 42) -> np.ndarray:
    """Positions of ``labels`` kept by the exponential long-tail profile (see the module doc).

    Classes are those present in ``labels``, in sorted order (the first is the head). Within a
    class the positions are shuffled by one ``RandomState(seed)`` (class after class) and the
    first ``counts[c]`` kept; a class with fewer instances than its count keeps all of them.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if classes.size < 2:
        raise ConfigError(
            f"imbalance_ratio needs a pool with at least 2 classes, got {classes.size}"
        )
    counts = long_tailed_counts(labels.size, classes.size, imbalance_ratio)
    rs = np.random.RandomState(int(seed))
    kept = []
    for cls, count in zip(classes, counts, strict=True):
        pos = np.flatnonzero(labels == cls)
        rs.shuffle(pos)
        kept.append(pos[:count])
    return np.concatenate(kept).astype(np.int64)


def check_imbalance_ratio(value: Any) -> float:
    """``imbalance_ratio`` must be a finite number >= 1 (1: balanced)."""
    try:
        ir = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"imbalance_ratio must be a number >= 1, got {value!r}") from None
    if not math.isfinite(ir) or ir < 1:
        raise ConfigError(f"imbalance_ratio must be a finite number >= 1, got {value!r}")
    return ir


def _check_noise_std(value: Any) -> float:
    try:
        std = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"noise_std must be a number >= 0, got {value!r}") from None
    if not math.isfinite(std) or std < 0:
        raise ConfigError(f"noise_std must be a finite number >= 0, got {value!r}")
    return std


def l2_normalize(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` scaled to unit Euclidean norm (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def apply_pool_transforms(
    data: Dataset,
    *,
    pool_fraction: float = 1.0,
    pool_seed: int = 42,
    imbalance_ratio: float | None = None,
    imbalance_seed: int = 42,
    noise_std: float = 0.0,
    noise_seed: int = 0,
    noise_normalize_test: bool = False,
) -> Dataset:
    """``data`` with its pool thinned and/or noised (see the module docstring for each step).

    Parameters
    ----------
    data : Dataset
        What the dataset's loader returned.
    pool_fraction : float
        Share of the training split kept as the pool, in (0, 1]; 0.9 is the published code's.
    pool_seed : int
        Seed of that share's permutation (42: the published one).
    imbalance_ratio : float, optional
        IR >= 1 of the exponential long tail (10 and 50 in the published experiments); None: off.
    imbalance_seed : int
        Seed of the within-class shuffles (42: the published one).
    noise_std : float
        Standard deviation of the Gaussian noise added to the L2-normalised pool features
        (0: off; 0.1 in the published config).
    noise_seed : int
        Seed of that noise.
    noise_normalize_test : bool
        Also L2-normalise the test features (no noise). False: as published, test untouched.

    Returns
    -------
    Dataset
        A new dataset (``data`` itself when every transform is off). The test split is never
        subsampled.
    """
    frac = check_fraction("pool_fraction", pool_fraction)
    std = _check_noise_std(noise_std)
    if imbalance_ratio is not None:
        check_imbalance_ratio(imbalance_ratio)
    if frac == 1.0 and imbalance_ratio is None and std == 0.0:
        return data
    X, y = data.X_train, data.y_train
    X_test = data.X_test
    idx = np.arange(data.n_train, dtype=np.int64)
    record: dict[str, Any] = dict(data.metadata.get("pool_transforms", {}))
    if frac < 1.0:
        keep = published_pool_indices(idx.size, frac, pool_seed)
        idx = idx[keep]
        record.update(pool_fraction=frac, pool_seed=int(pool_seed), n_pool=int(idx.size))
    if imbalance_ratio is not None:
        keep = long_tailed_indices(y[idx], imbalance_ratio, imbalance_seed)
        idx = idx[keep]
        counts = np.bincount(y[idx], minlength=data.n_classes)
        record.update(
            imbalance_ratio=float(imbalance_ratio),
            imbalance_seed=int(imbalance_seed),
            class_counts=counts.tolist(),
        )
    X, y = X[idx], y[idx]
    if std > 0:
        rng = child_rng(int(noise_seed), "pool-noise")
        X = l2_normalize(X) + rng.normal(0.0, std, size=X.shape).astype(np.float32)
        record.update(noise_std=std, noise_seed=int(noise_seed))
        if noise_normalize_test:
            X_test = l2_normalize(X_test)
        record["noise_normalize_test"] = bool(noise_normalize_test)
    metadata = {**data.metadata, "pool_transforms": record, "pool_indices": idx}
    return replace(data, X_train=X, y_train=y, X_test=X_test, metadata=metadata)
