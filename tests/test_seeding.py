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
    with pytest.raises(TypeError):
        child_seed(1, True)


def test_keys_map_to_the_documented_integers():
    # the spawn key of a path is fixed forever (committed results depend on it): an int is
    # itself, a str is crc32(utf-8) + 2**32, whatever the key's Python type
    import zlib

    class Name(str):
        pass

    expected = (3, zlib.crc32(b"round") + 2**32, zlib.crc32("draw-\u00e9".encode()) + 2**32)
    for path in [(3, "round", "draw-\u00e9"), (np.int64(3), Name("round"), "draw-\u00e9")]:
        ss = child_seed(np.random.SeedSequence(11), *path)
        assert ss.spawn_key == expected
        assert ss.entropy == 11
    a = child_rng(11, 3, "round").random(3)
    b = child_rng(np.random.SeedSequence(11), np.int64(3), Name("round")).random(3)
    np.testing.assert_array_equal(a, b)
