"""Seed streams are addressed by path: independent of order and of other consumers."""

from __future__ import annotations

import numpy as np
import pytest

from refine.seeding import child_rng, child_seed


def test_same_path_same_stream_any_order():
    a = child_rng(7, "cycle", 3).random(5)
    child_rng(7, "cycle", 4).random(100)  # another consumer in between changes nothing
    b = child_rng(7, "cycle", 3).random(5)
    np.testing.assert_array_equal(a, b)


def test_different_paths_and_seeds_differ():
    draws = {
        (s, p): tuple(child_rng(s, *p).integers(0, 2**31, 4))
        for s in (1, 2)
        for p in [("cycle", 1), ("cycle", 2), ("round", 1), ("cycle", "1")]
    }
    assert len(set(draws.values())) == len(draws)


def test_nested_paths_compose():
    parent = child_seed(3, "a")
    assert child_seed(parent, "b").spawn_key == child_seed(3, "a", "b").spawn_key


def test_bad_keys():
    with pytest.raises(ValueError):
        child_seed(1, -1)
    with pytest.raises(TypeError):
        child_seed(1, 1.5)
