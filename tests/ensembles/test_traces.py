"""An ensemble's trace describes its last call, also when it returned every candidate."""

from __future__ import annotations

import numpy as np
import pytest

from refine.strategies import make_strategy
from tests.conftest import make_context

EARLY = {
    "selectal": {"selectal_regime": None, "reason": "no more candidates than batch_size"},
    "tailor": {"tailor_picks": []},
    "tcm": {"tcm_phase": "typiclust"},
}


@pytest.mark.parametrize("name", sorted(EARLY))
def test_early_return_replaces_the_previous_trace(name):
    ctx, cand = make_context(n=300, d=6, k=3, seed=0)
    s = make_strategy(name)
    s.select(ctx, cand, 10, np.random.default_rng(0))
    full = dict(s.trace_)
    batch = s.select(ctx, cand[:10], 10, np.random.default_rng(1))
    assert sorted(batch.tolist()) == sorted(cand[:10].tolist())
    early = s.trace_
    assert early.items() >= EARLY[name].items()
    if name != "tcm":  # TCM's phase depends on the cycle only: both calls share it
        assert early != full
