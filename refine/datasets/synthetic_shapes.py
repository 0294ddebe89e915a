"""Synthetic pools shaped like the paper's hard settings: redundant and outlying instances.

The Gaussian mixture of :func:`refine.datasets.builtin.make_synthetic` gives many classes (b = K),
class imbalance and overlapping classes; this loader adds what the paper's filtering is meant to
remove from a pool (Sec. 3, "uninformative instances"):

- **redundant** instances: a share of the pool replaced by near-copies of a few pool instances
  (tiny jitter, the copied instance's label), as in web-scraped image sets with near-duplicates;
- **outlying** instances: a share of the pool drawn far from every class centre with a random
  label, the instances a max-distance strategy such as Coreset (Sener & Savarese, ICLR 2018)
  picks first.

Only the pool is altered; the test split is the clean mixture, so accuracy measures how well the
labels spent on the pool generalise.
"""

from __future__ import annotations

import numpy as np

from refine.data import Dataset
from refine.datasets.builtin import make_synthetic
from refine.datasets.registry import register_dataset
from refine.errors import ConfigError, check_fraction, check_positive_int
from refine.seeding import child_rng


@register_dataset(
    "synthetic_shapes",
    batch_size=20,
    n_classes=None,
    description="Gaussian mixture with redundant (near-duplicate) and outlying pool instances",
)
def make_synthetic_shapes(
    n_train: int = 3000,
    n_test: int = 1000,
    n_features: int = 32,
    n_classes: int = 20,
    imbalance: float = 1.0,
    cluster_std: float = 2.0,
    clusters_per_class: int = 2,
    redundant: float = 0.0,
    n_prototypes: int = 20,
    outliers: float = 0.0,
    outlier_scale: float = 3.0,
    batch_size: int = 20,
    seed: int = 0,
) -> Dataset:
    """A mixture pool with a share of near-duplicates and a share of outliers.

    Parameters
    ----------
    n_train, n_test, n_features, n_classes, imbalance, cluster_std, clusters_per_class, seed
        As in :func:`refine.datasets.builtin.make_synthetic` (the clean mixture).
    redundant : float
        Share of pool instances (0 ≤ · < 1) replaced by near-copies of ``n_prototypes`` pool
        instances (jitter of norm ≈ 1 % of the cluster spread, the prototype's label).
    n_prototypes : int
        Number of distinct instances the redundant copies repeat.
    outliers : float
        Share of pool instances (0 ≤ · < 1) replaced by outliers: a random direction at
        ``outlier_scale`` times the largest centre norm, with a uniformly random label.
    outlier_scale : float
        Distance of the outliers in units of the largest centre norm (> 0).
    batch_size : int
        Default b of the dataset (the paper's b = K settings: set it to ``n_classes``).
    """
    redundant = check_fraction("redundant", redundant, low_open=False, high_closed=False)
    outliers = check_fraction("outliers", outliers, low_open=False, high_closed=False)
    n_prototypes = check_positive_int("n_prototypes", n_prototypes)
    if not np.isfinite(outlier_scale) or outlier_scale <= 0:
        raise ConfigError(f"outlier_scale must be a positive number, got {outlier_scale!r}")
    base = make_synthetic(
        n_train=n_train,
        n_test=n_test,
        n_features=n_features,
        n_classes=n_classes,
        imbalance=imbalance,
        cluster_std=cluster_std,
        clusters_per_class=clusters_per_class,
        batch_size=batch_size,
        seed=seed,
    )
    X = base.X_train.copy()
    y = base.y_train.copy()
    n, d = X.shape
    rng = child_rng(seed, "synthetic_shapes", "pool")
    order = rng.permutation(n)
    n_red = int(round(redundant * n))
    n_out = int(round(outliers * n))
    if n_red + n_out >= n - n_prototypes:
        raise ConfigError(
            f"redundant + outliers leave fewer than n_prototypes={n_prototypes} clean instances"
        )
    protos = order[:n_prototypes]
    red_idx = order[n_prototypes : n_prototypes + n_red]
    out_idx = order[n_prototypes + n_red : n_prototypes + n_red + n_out]
    if n_red:
        src = protos[rng.integers(0, n_prototypes, size=n_red)]
        jitter = rng.normal(0.0, 0.01 * cluster_std / np.sqrt(d), size=(n_red, d))
        X[red_idx] = X[src] + jitter.astype(np.float32)
        y[red_idx] = y[src]
    if n_out:
        radius = outlier_scale * float(np.linalg.norm(base.X_test, axis=1).max())
        direction = rng.normal(size=(n_out, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        X[out_idx] = (radius * direction).astype(np.float32)
        y[out_idx] = rng.integers(0, base.n_classes, size=n_out)
    return Dataset(
        name="synthetic_shapes",
        X_train=X,
        y_train=y.astype(np.int64),
        X_test=base.X_test,
        y_test=base.y_test,
        n_classes=base.n_classes,
        batch_size=base.batch_size,
        backbone="raw",
        metadata={
            **base.metadata,
            "redundant": redundant,
            "n_prototypes": n_prototypes,
            "outliers": outliers,
            "outlier_scale": outlier_scale,
        },
    )
