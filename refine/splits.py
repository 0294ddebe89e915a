"""Train/test partitions of data sets that ship without a test split (ESC-50).

Two mechanisms, by name:

- ``"corrected"`` (the default) — :func:`random_split_indices`: one seeded partition, so the
  pool and the test split are disjoint.
- ``"published"`` — :func:`published_split_indices`: the authors' ESC-50 loader calls
  ``datasets.Dataset.train_test_split(train_size=0.8)`` without a seed *twice*, once for the
  training copy and once for the test copy of the same 2 000 clips, and keeps the ``train`` half
  of the first call as the pool and the ``test`` half of the second as the test split. Test clips
  therefore also lie in the pool (about 80 % of them). Without a seed, ``datasets`` derives each
  call's generator from numpy's global state (``default_rng(key[pos])`` of
  ``np.random.get_state()``, then one ``np.random.random()`` step), and the published driver
  seeds that global state with 42 just before building the data; this function replays the same
  two calls on a local ``RandomState(seed)``, so with ``seed=42`` and the hub's clip order it
  gives the published partition, provided nothing else drew from numpy's global generator in
  between.
"""

from __future__ import annotations

import math

import numpy as np

from refine.errors import ConfigError, check_fraction, unknown_choice
from refine.seeding import child_rng

SPLIT_MECHANISMS = ("corrected", "published")


def random_split_indices(
    n: int, test_fraction: float, seed: int, name: str = "split"
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test partition of ``range(n)`` (sorted index arrays).

    ``round(test_fraction · n)`` instances go to the test split. The permutation comes from a
    generator addressed by ``(seed, "train-test-split", name)``, independent of any AL seed.
    """
    frac = check_fraction("test_fraction", test_fraction)
    n_test = int(round(frac * n))
    if not 0 < n_test < n:
        raise ConfigError(
            f"test_fraction={test_fraction} leaves an empty train or test split for n={n}"
        )
    perm = child_rng(int(seed), "train-test-split", name).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _unseeded_hf_split(rs: np.random.RandomState, n: int, train_size: float):
    # What `datasets.Dataset.train_test_split(train_size=...)` does with seed=None, on `rs`
    # standing in for numpy's global RandomState.
    _, keys, pos, *_ = rs.get_state()
    seed = keys[pos] if pos < 624 else keys[0]
    rs.random_sample()  # the one step `datasets` takes from the global generator
    perm = np.random.default_rng(int(seed)).permutation(n)
    n_train = int(math.floor(train_size * n))
    n_test = n - n_train
    return perm[n_test : n_test + n_train], perm[:n_test]


def published_split_indices(
    n: int, train_fraction: float = 0.8, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """The published ESC-50 pool and test split: two unseeded splits of the same clips.

    Returns ``(pool, test)`` index arrays (in the order ``datasets`` selects them). They overlap:
    see :func:`leaked_count`. ``seed`` is the published driver's global numpy seed (42).
    """
    frac = check_fraction("train_fraction", train_fraction)
    if not 0 < int(math.floor(frac * n)) < n:
        raise ConfigError(f"train_fraction={train_fraction} leaves an empty split for n={n}")
    rs = np.random.RandomState(int(seed))
    pool, _ = _unseeded_hf_split(rs, n, frac)  # ESC(split="train")
    _, test = _unseeded_hf_split(rs, n, frac)  # ESC(split="test"), a new split of the same clips
    return pool.astype(np.int64), test.astype(np.int64)


def leaked_count(pool: np.ndarray, test: np.ndarray) -> int:
    """Number of test instances that also lie in the pool."""
    return int(np.intersect1d(pool, test).size)


def default_split_seed(mechanism: str) -> int:
    """The seed a mechanism uses when none is given: 0 (corrected), 42 (published driver)."""
    if mechanism not in SPLIT_MECHANISMS:
        raise unknown_choice("split", mechanism, SPLIT_MECHANISMS)
    return 0 if mechanism == "corrected" else 42


def split_indices(
    mechanism: str, n: int, test_fraction: float, seed: int | None, name: str = "split"
) -> tuple[np.ndarray, np.ndarray]:
    """``(pool, test)`` by ``mechanism`` (seed None: :func:`default_split_seed`)."""
    seed = default_split_seed(mechanism) if seed is None else int(seed)
    if mechanism == "corrected":
        return random_split_indices(n, test_fraction, seed, name)
    return published_split_indices(n, 1.0 - test_fraction, seed)
