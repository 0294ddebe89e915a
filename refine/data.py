"""The data model: frozen features of a train pool and a test split.

Everything downstream (state, head, strategies, loop) consumes a :class:`Dataset`: an ``N×D``
float32 feature matrix of the training pool with integer labels (revealed to strategies only once
an instance is labeled) and a held-out test split on which accuracy is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refine.errors import DataError


def validate_features(X: Any, *, name: str = "features") -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 ``N×D`` array, rejecting NaN/inf and bad shapes."""
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 2-D array (N×D), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise DataError(
            f"{name} contain NaN or inf in {bad_rows.size} row(s) (first: {bad_rows[:5].tolist()}); "
            "clean or drop them before active learning"
        )
    return arr


def validate_labels(
    y: Any, n: int, n_classes: int | None = None, *, name: str = "labels"
) -> np.ndarray:
    """Return ``y`` as an int64 vector of length ``n`` with values in ``[0, n_classes)``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"features and {name} have different lengths: {n} vs {arr.shape[0]}")
    if not np.issubdtype(arr.dtype, np.integer):
        if (
            np.issubdtype(arr.dtype, np.floating)
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
        ):
            arr = arr.astype(np.int64)
        else:
            raise DataError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise DataError(f"{name} must be non-negative class indices, got minimum {arr.min()}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise DataError(f"{name} contain class {arr.max()} but n_classes={n_classes}")
    return arr


@dataclass(frozen=True)
class Dataset:
    """Frozen features of a training pool and a test split.

    Parameters
    ----------
    name : str
        Registry name of the dataset (e.g. ``"digits"``).
    X_train, y_train : ndarray
        Pool features (``N×D``, float32) and labels (``N``, int64). In simulation the labels act as
        the oracle; strategies only ever see the labels of labeled instances.
    X_test, y_test : ndarray
        Test split on which accuracy is reported after every cycle.
    n_classes : int
        Number of classes K. Labels lie in ``[0, K)``.
    batch_size : int
        The paper's per-cycle budget b for this dataset (the paper's Table 1).
    backbone : str
        Which feature extractor produced the features (``"raw"`` for embedded tabular data).
    class_names : tuple of str, optional
        Human-readable class names.
    metadata : dict
        Free-form provenance (hub id, cache key, split seed, ...).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    batch_size: int
    backbone: str = "raw"
    class_names: tuple[str, ...] | None = None
    metadata: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        X_train = validate_features(self.X_train, name="train features")
        X_test = validate_features(self.X_test, name="test features")
        if X_train.shape[1] != X_test.shape[1]:
            raise DataError(
                f"train and test features differ in dimension: {X_train.shape[1]} vs {X_test.shape[1]}"
            )
        if int(self.n_classes) < 2:
            raise DataError(f"n_classes must be >= 2, got {self.n_classes}")
        y_train = validate_labels(
            self.y_train, X_train.shape[0], self.n_classes, name="train labels"
        )
        y_test = validate_labels(self.y_test, X_test.shape[0], self.n_classes, name="test labels")
        if int(self.batch_size) < 1:
            raise DataError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.class_names is not None and len(self.class_names) != self.n_classes:
            raise DataError(
                f"class_names has {len(self.class_names)} entries but n_classes={self.n_classes}"
            )
        object.__setattr__(self, "X_train", X_train)
        object.__setattr__(self, "X_test", X_test)
        object.__setattr__(self, "y_train", y_train)
        object.__setattr__(self, "y_test", y_test)
        object.__setattr__(self, "n_classes", int(self.n_classes))
        object.__setattr__(self, "batch_size", int(self.batch_size))

    @property
    def n_train(self) -> int:
        """Number of pool instances N."""
        return int(self.X_train.shape[0])

    @property
    def n_features(self) -> int:
        """Feature dimension D."""
        return int(self.X_train.shape[1])

    def describe(self) -> dict:
        """Summary row for Table 1 (name, sizes, classes, b)."""
        return {
            "dataset": self.name,
            "backbone": self.backbone,
            "n_train": self.n_train,
            "n_test": int(self.X_test.shape[0]),
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "batch_size": self.batch_size,
        }
