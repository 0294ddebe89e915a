"""Where ALFA-Mix and DropQuery stop taking every flagged point and start clustering them.

The two published rules differ by one: ALFA-Mix takes all flagged points when there are *at
most* b of them, DropQuery only when there are *fewer than* b (dal-toolbox ``alfamix.py`` /
``dropquery.py``, following the original codes). With exactly b distinct flagged points both give
the same set, so the rule is observable only through whether k-means ran: the batch then comes
in cluster order, drawn from the generator, instead of pool order.
"""

from __future__ import annotations

import numpy as np
import pytest

import refine.strategies._flagged_batch as flagged_batch
from refine.strategies import make_strategy
from refine.strategies.alfamix import AlfaMix
from refine.strategies.dropquery import DropQuery
from tests.conftest import make_context

B = 6


@pytest.fixture
def kmeans_calls(monkeypatch):
    """Record every k-means call of the shared flagged-batch step (and run it as usual)."""
    calls = []
    real = flagged_batch.nearest_to_centres

    def spy(X, k, rng):
        calls.append((X.shape[0], k))
        return real(X, k, rng)

    monkeypatch.setattr(flagged_batch, "nearest_to_centres", spy)
    return calls


def _flag_first(monkeypatch, cls, n_flagged):
    """Make ``cls.candidate_mask`` flag exactly the first ``n_flagged`` candidates."""

    def mask(self, *args):
        candidates = args[-2]
        out = np.zeros(np.asarray(candidates).size, dtype=bool)
        out[:n_flagged] = True
        return out

    monkeypatch.setattr(cls, "candidate_mask", mask)


@pytest.mark.parametrize(
    ("name", "cls", "n_flagged", "clustered"),
    [
        ("dropquery", DropQuery, B - 1, False),
        ("dropquery", DropQuery, B, True),  # "fewer than b": exactly b are clustered
        ("dropquery", DropQuery, B + 1, True),
        ("alfamix", AlfaMix, B - 1, False),
        ("alfamix", AlfaMix, B, False),  # "at most b": exactly b are taken as they are
        ("alfamix", AlfaMix, B + 1, True),
    ],
)
def test_take_all_boundary(monkeypatch, kmeans_calls, name, cls, n_flagged, clustered):
    ctx, cand = make_context(n=120, seed=4)
    _flag_first(monkeypatch, cls, n_flagged)
    batch = make_strategy(name).select(ctx, cand, B, np.random.default_rng(0))
    assert np.unique(batch).size == B and not np.isin(batch, ctx.labeled).any()
    flagged = cand[:n_flagged]
    assert kmeans_calls == ([(n_flagged, B)] if clustered else [])
    if clustered:
        # one point per cluster, all of them flagged
        assert np.isin(batch, flagged).all()
    else:
        # every flagged point, in pool order, then the random fill
        assert batch[:n_flagged].tolist() == flagged.tolist()
