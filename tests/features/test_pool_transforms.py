"""Pool transforms of every dataset: seeded sub-pool, long tail, noisy features."""

from __future__ import annotations

import numpy as np
import pytest

from refine.data import Dataset
from refine.datasets import load_dataset
from refine.datasets.transforms import (
    apply_pool_transforms,
    long_tailed_counts,
    long_tailed_indices,
    published_pool_indices,
)
from refine.errors import ConfigError


def _balanced(n_classes: int, per_class: int, n_test_per_class: int = 3, dim: int = 2) -> Dataset:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), per_class)
    y_te = np.repeat(np.arange(n_classes), n_test_per_class)
    return Dataset(
        name="toy",
        X_train=rng.normal(size=(y.size, dim)),
        y_train=y,
        X_test=rng.normal(size=(y_te.size, dim)),
        y_test=y_te,
        n_classes=n_classes,
        batch_size=10,
    )


@pytest.mark.parametrize(("ir", "total", "tail"), [(10, 17_614, 45), (50, 11_349, 9)])
def test_cifar100_lt_class_counts_from_a_45000_pool(ir, total, tail):
    data = _balanced(100, 450)
    lt = apply_pool_transforms(data, imbalance_ratio=ir)
    counts = np.bincount(lt.y_train, minlength=100)
    assert (counts[0], counts[-1], counts.sum(), lt.n_train) == (450, tail, total, total)
    assert np.all(np.diff(counts) <= 0)  # head to tail, never increasing
    assert counts.tolist() == lt.metadata["pool_transforms"]["class_counts"]
    assert counts.tolist() == long_tailed_counts(45_000, 100, ir).tolist()
    # the test split is untouched
    np.testing.assert_array_equal(lt.X_test, data.X_test)
    np.testing.assert_array_equal(lt.y_test, data.y_test)
    # the pool rows are rows of the original pool, each at most once, with their own label
    idx = lt.metadata["pool_indices"]
    assert np.unique(idx).size == idx.size
    np.testing.assert_array_equal(lt.X_train, data.X_train[idx])
    np.testing.assert_array_equal(lt.y_train, data.y_train[idx])


def test_long_tail_shuffle_is_seeded_within_each_class():
    y = np.repeat(np.arange(4), 30)
    a = long_tailed_indices(y, 5, seed=42)
    assert a.tolist() == long_tailed_indices(y, 5, seed=42).tolist()
    b = long_tailed_indices(y, 5, seed=7)
    assert a.tolist() != b.tolist()
    # same counts per class whatever the seed; the head keeps every instance (30 = N/C)
    assert np.bincount(y[a]).tolist() == np.bincount(y[b]).tolist() == [30, 17, 10, 6]
    # not simply the first instances of each class: the tail's 6 are a shuffled choice
    tail = a[y[a] == 3]
    assert sorted(tail.tolist()) != list(range(90, 96))
    # positions come class after class, head first (the published order)
    assert np.all(np.diff(y[a]) >= 0)


def test_a_class_smaller_than_its_quota_keeps_all_of_it():
    y = np.array([0] * 10 + [1] * 2 + [2] * 10)  # N/C = 7.33: class 1's quota 4 > its 2
    kept = long_tailed_indices(y, 2, seed=0)
    assert np.bincount(y[kept]).tolist() == [7, 2, 3]


def test_published_90_percent_pool():
    idx = published_pool_indices(50_000, 0.9, seed=42)
    assert idx.size == 45_000 and np.unique(idx).size == 45_000
    assert idx.min() >= 0 and idx.max() < 50_000
    assert idx.tolist() == np.random.RandomState(42).permutation(50_000)[:45_000].tolist()
    assert idx.tolist() != published_pool_indices(50_000, 0.9, seed=1).tolist()


def test_transforms_reach_every_dataset_through_load_dataset():
    plain = load_dataset("digits")
    sub = load_dataset("digits", pool_fraction=0.9)
    assert sub.n_train == int(plain.n_train * 0.9) == 1212
    np.testing.assert_array_equal(sub.X_train, plain.X_train[sub.metadata["pool_indices"]])
    np.testing.assert_array_equal(sub.X_test, plain.X_test)
    lt = load_dataset("digits", pool_fraction=0.9, imbalance_ratio=10)
    # the long tail is cut from the 90 % pool, as published (sub-pool first, then the tail)
    assert set(lt.metadata["pool_indices"]) <= set(sub.metadata["pool_indices"])
    counts = np.bincount(lt.y_train, minlength=10)
    assert counts[0] > 5 * counts[-1] and lt.n_train < 0.5 * sub.n_train
    np.testing.assert_array_equal(lt.y_test, plain.y_test)
    syn = load_dataset("synthetic", n_train=400, imbalance_ratio=4)
    assert syn.n_train < 400 and syn.metadata["pool_transforms"]["imbalance_ratio"] == 4.0
    whole = load_dataset("digits", pool_fraction=1.0)  # off: the whole split, in its order
    np.testing.assert_array_equal(whole.X_train, plain.X_train)
    assert "pool_transforms" not in whole.metadata


def test_noisy_features_are_normalised_pool_plus_gaussian_noise():
    plain = load_dataset("digits")
    noisy = load_dataset("digits", noise_std=0.1, noise_seed=3)
    unit = plain.X_train / np.linalg.norm(plain.X_train, axis=1, keepdims=True)
    resid = (noisy.X_train - unit).ravel()
    # 86 208 draws: the sample std lies within 1 % of 0.1 and the mean within 4 s.e. of 0
    assert abs(resid.std() - 0.1) < 0.001
    assert abs(resid.mean()) < 4 * 0.1 / np.sqrt(resid.size)
    np.testing.assert_array_equal(noisy.X_test, plain.X_test)  # published: test untouched
    again = load_dataset("digits", noise_std=0.1, noise_seed=3)
    np.testing.assert_array_equal(again.X_train, noisy.X_train)
    other = load_dataset("digits", noise_std=0.1, noise_seed=4)
    assert not np.array_equal(other.X_train, noisy.X_train)
    consistent = load_dataset("digits", noise_std=0.1, noise_normalize_test=True)
    np.testing.assert_allclose(np.linalg.norm(consistent.X_test, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
        ({"imbalance_ratio": "x"}, "imbalance_ratio"),
        ({"pool_fraction": 0}, "pool_fraction"),
        ({"pool_fraction": 1.5}, "pool_fraction"),
        ({"noise_std": -1}, "noise_std"),
    ],
)
def test_bad_transform_values_name_the_parameter(params, word):
    with pytest.raises(ConfigError, match=word):
        load_dataset("digits", **params)


def test_refine_run_routes_dataset_params_to_the_pool_transforms(tmp_path):
    from typer.testing import CliRunner

    from refine.cli import app

    base = ["run", "--dataset", "digits", "--strategy", "random", "--seeds", "1", "--cycles", "0"]
    bad = CliRunner().invoke(
        app, [*base, "--dataset-param", "imbalance_ratio=0.5", "--out", str(tmp_path / "a")]
    )
    assert bad.exit_code == 2 and "imbalance_ratio must be a finite number >= 1" in bad.output
    ok = CliRunner().invoke(
        app,
        [*base, "--dataset-param", "imbalance_ratio=10", "-q", "--out", str(tmp_path / "b")],
    )
    assert ok.exit_code == 0, ok.output
