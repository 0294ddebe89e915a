"""Shared fixtures: small synthetic pools and selection contexts with a trained head."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from refine.context import SelectionContext
from refine.head import HeadConfig


def make_pool(
    n: int = 300,
    d: int = 8,
    k: int = 4,
    seed: int = 0,
    spread: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian blob per class: features (n×d float32) and labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3.0, size=(k, d))
    y = np.arange(n) % k
    rng.shuffle(y)
    X = centres[y] + rng.normal(0, spread, size=(n, d))
    return X.astype(np.float32), y.astype(np.int64)


def make_context(
    n: int = 300,
    d: int = 8,
    k: int = 4,
    n_labeled: int = 20,
    seed: int = 0,
    duplicates: bool = False,
    missing_class: bool = False,
    epochs: int = 50,
) -> tuple[SelectionContext, np.ndarray]:
    """A selection context over a synthetic pool, and its unlabeled indices.

    Parameters
    ----------
    duplicates : bool
        Make every feature row appear twice (the second half copies the first).
    missing_class : bool
        Keep class ``k-1`` out of the labeled set.
    epochs : int
        Head training epochs (fewer than the protocol's 200 to keep tests fast).
    """
    X, y = make_pool(n, d, k, seed)
    if duplicates:
        half = n // 2
        X[half : 2 * half] = X[:half]
        y[half : 2 * half] = y[:half]
    rng = np.random.default_rng(seed + 1)
    eligible = np.flatnonzero(y != k - 1) if missing_class else np.arange(n)
    labeled = (
        rng.choice(eligible, size=n_labeled, replace=False) if n_labeled else np.array([], int)
    )
    ctx = SelectionContext.from_arrays(
        X,
        labeled_idx=labeled,
        labels=y[labeled],
        n_classes=k,
        seed=seed,
        head_config=HeadConfig(epochs=epochs),
    )
    return ctx, ctx.unlabeled()


@pytest.fixture
def context_factory():
    """Factory fixture around :func:`make_context`."""
    return make_context


def raw_batch(strategy, ctx, candidates, batch_size, rng) -> np.ndarray:
    """The strategy's own output, bypassing the base class's output checks.

    ``Strategy.select`` validates what ``_select`` returns and raises on a broken batch, so a test
    that checks ``select``'s output can only re-assert the base class. Tests of a strategy's own
    logic call this instead: the indices exactly as its ``_select`` produced them.
    """
    from refine.strategies.base import Selection

    if np.asarray(candidates).size <= batch_size:
        return strategy.select(ctx, candidates, batch_size, rng)
    out = strategy._select(ctx, np.asarray(candidates, dtype=np.int64), batch_size, rng)
    return np.asarray(out.indices if isinstance(out, Selection) else out)


#: Cheaper settings of strategies whose published schedules make the registry-wide tests slow.
#: The contract tests exercise the same code paths; the strategies' own tests use the defaults.
CHEAP_PARAMS = {
    "autoal": dict(num_bilevel_steps=6, search_start=2, num_fit_net_epochs=3, gmm_draws=1000),
    "autoal-original": dict(
        num_bilevel_steps=6,
        search_start=2,
        num_fit_net_steps=5,
        first_cycle_repeats=1,
        gmm_draws=1000,
    ),
}


def build(name: str):
    """``make_strategy(name)`` with :data:`CHEAP_PARAMS` for the slow strategies."""
    from refine.strategies import make_strategy

    return make_strategy(name, **CHEAP_PARAMS.get(name, {}))
