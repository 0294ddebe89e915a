"""Hypothesis properties of the strategy contract over random small pools.

The parametrised contract tests (``test_strategy_contract.py``) pin a few degenerate pools; here
hypothesis draws many: pools of 2–150 instances, 1–6 dimensions, integer-valued features (ties and
exact duplicates everywhere), 0–15 labels that may miss classes, and every batch size up to the
number of candidates. Every registered strategy's own ``_select`` output (the base class's checks
bypassed, :func:`tests.conftest.raw_batch`) must be ``min(b, |candidates|)`` unique unlabeled
candidates, and the same batch for the same seed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refine.context import SelectionContext
from refine.head import HeadConfig
from refine.strategies import SmallPoolWarning, available_strategies
from tests.conftest import build as build_strategy
from tests.conftest import raw_batch

pools = st.fixed_dictionaries(
    {
        "n": st.integers(2, 150),
        "d": st.integers(1, 6),
        "k": st.integers(2, 5),
        "n_labeled": st.integers(0, 15),
        "integer_features": st.booleans(),
        "b_fraction": st.floats(0.0, 1.0),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def build(p):
    rng = np.random.default_rng(p["seed"])
    n, k = p["n"], p["k"]
    n_labeled = min(p["n_labeled"], n - 1)
    if p["integer_features"]:
        X = rng.integers(0, 3, size=(n, p["d"])).astype(np.float32)  # many exact duplicates
    else:
        X = rng.standard_normal((n, p["d"])).astype(np.float32)
    labeled = rng.choice(n, size=n_labeled, replace=False)
    labels = rng.integers(0, k, size=n_labeled)  # classes may be missing from L
    ctx = SelectionContext.from_arrays(
        X, labeled, labels, n_classes=k, seed=1, head_config=HeadConfig(epochs=5)
    )
    cand = ctx.unlabeled()
    b = max(1, int(round(p["b_fraction"] * cand.size)))
    return ctx, cand, b


@pytest.mark.parametrize("name", available_strategies())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=pools)
def test_contract_on_random_small_pools(name, p):
    ctx, cand, b = build(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallPoolWarning)
        chosen = raw_batch(build_strategy(name), ctx, cand, b, np.random.default_rng(p["seed"]))
        again = raw_batch(build_strategy(name), ctx, cand, b, np.random.default_rng(p["seed"]))
    assert np.issubdtype(chosen.dtype, np.integer)
    assert chosen.size == min(b, cand.size)
    assert np.unique(chosen).size == chosen.size
    assert np.isin(chosen, cand).all() and not ctx.labeled_mask[chosen].any()
    np.testing.assert_array_equal(chosen, again)
