"""The synthetic_shapes pool: near-duplicates and outliers in the pool only, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from refine.datasets import load_dataset
from refine.errors import ConfigError


def test_redundant_and_outlying_shares_and_clean_test_split():
    clean = load_dataset("synthetic_shapes", n_train=1000, n_test=300, seed=3)
    d = load_dataset(
        "synthetic_shapes", n_train=1000, n_test=300, redundant=0.2, outliers=0.05, seed=3
    )
    np.testing.assert_array_equal(d.X_test, clean.X_test)
    np.testing.assert_array_equal(d.y_test, clean.y_test)
    changed = np.any(d.X_train != clean.X_train, axis=1)
    assert changed.sum() == 200 + 50
    norms = np.linalg.norm(d.X_train, axis=1)
    far = norms > 2 * np.linalg.norm(clean.X_test, axis=1).max()
    assert far.sum() == 50  # the outliers, at 3× the largest test norm
    # the near-duplicates sit within a tiny distance of one of 20 prototypes
    near = changed & ~far
    dist = np.linalg.norm(d.X_train[near][:, None] - d.X_train[None, ~changed], axis=2).min(1)
    assert near.sum() == 200 and dist.max() < 0.05
    again = load_dataset(
        "synthetic_shapes", n_train=1000, n_test=300, redundant=0.2, outliers=0.05, seed=3
    )
    np.testing.assert_array_equal(again.X_train, d.X_train)


def test_bad_shares_are_clear_errors():
    with pytest.raises(ConfigError, match="redundant"):
        load_dataset("synthetic_shapes", redundant=1.0)
    with pytest.raises(ConfigError, match="clean instances"):
        load_dataset("synthetic_shapes", n_train=100, redundant=0.5, outliers=0.45)
