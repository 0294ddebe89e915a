"""ESC-50's pool/test split: the corrected seeded partition and the published mechanism."""

from __future__ import annotations

import logging

import datasets
import numpy as np
import pytest

from refine.datasets import load_dataset
from refine.errors import ConfigError
from refine.splits import (
    leaked_count,
    published_split_indices,
    random_split_indices,
    split_indices,
)


def test_published_mechanism_is_datasets_unseeded_train_test_split_called_twice(monkeypatch):
    # The published loader: np.random.seed(42) in the driver, then for each of the train and
    # the test copy `load_dataset(...).train_test_split(train_size=0.8)` without a seed. Replay
    # it with the real `datasets` code, its global-state reads routed to a local RandomState(42).
    rs = np.random.RandomState(42)
    monkeypatch.setattr(np.random, "get_state", rs.get_state)
    monkeypatch.setattr(np.random, "random", rs.random_sample)
    clips = datasets.Dataset.from_dict({"clip": np.arange(2000)})
    pool_copy = clips.train_test_split(train_size=0.8)["train"]["clip"]
    test_copy = clips.train_test_split(train_size=0.8)["test"]["clip"]
    pool, test = published_split_indices(2000, 0.8, seed=42)
    assert pool.tolist() == list(pool_copy) and test.tolist() == list(test_copy)


def test_published_split_leaks_test_clips_and_the_corrected_one_none():
    pool, test = published_split_indices(2000, 0.8, seed=42)
    assert (pool.size, test.size) == (1600, 400)
    leaked = leaked_count(pool, test)
    # each test clip lies in an independent 80 % pool: Binomial(400, 0.8) = 320 ± 8
    assert 320 - 4 * 8 < leaked < 320 + 4 * 8
    tr, te = split_indices("corrected", 2000, 0.2, None, "esc50")
    assert leaked_count(tr, te) == 0
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(2000))
    np.testing.assert_array_equal(tr, random_split_indices(2000, 0.2, 0, "esc50")[0])
    with pytest.raises(ConfigError, match="split"):
        split_indices("leaky", 2000, 0.2, None)


def test_esc50_published_split_reports_its_leak(eat_standin, tiny_audio, tmp_path, caplog):
    out = tmp_path / "features"
    common = dict(
        backbone=eat_standin, features_dir=out, data_dir=tiny_audio.hub_dir, progress=False
    )
    fixed = load_dataset("esc50", **common)
    assert fixed.metadata["leaked_test_clips"] == 0 and fixed.metadata["split"] == "corrected"
    with caplog.at_level(logging.WARNING, logger="refine"):
        leaky = load_dataset("esc50", split="published", split_seed=3, **common)
    pool, test = published_split_indices(10, 0.8, seed=3)
    n_leaked = leaked_count(pool, test)
    assert n_leaked > 0  # this seed leaks on the 10-clip fixture
    assert leaky.metadata["leaked_test_clips"] == n_leaked
    assert leaky.metadata["split_seed"] == 3
    assert f"{n_leaked} of the 2 test instances also in the pool" in caplog.text
    # the leaked test rows are pool rows: identical features in both splits
    shared = {tuple(r) for r in leaky.X_train.round(5)} & {tuple(r) for r in leaky.X_test.round(5)}
    assert len(shared) == n_leaked
    assert load_dataset("esc50", split="published", **common).metadata["split_seed"] == 42
