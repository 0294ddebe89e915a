"""Every strategy reads only what it declares (``Strategy.requirements()``).

The AL loop and the practitioner API compute and share what a strategy declares; an undeclared
read would either recompute (the loop) or read something that is not there (the API's cold
start). A recording proxy of the selection context logs which model outputs each registered
strategy touches during one call; the log must be a subset of the declaration.
"""

from __future__ import annotations

import numpy as np
import pytest

from refine.strategies import Strategy, available_strategies, make_strategy
from refine.strategies.base import REQUIREMENTS
from tests.conftest import build, make_context

#: context attribute → the requirement it belongs to (everything else is neutral bookkeeping)
READS = {
    "X": "features",
    "labels": "labels",
    "head": "head",
    "fit_head": "head",
    "trainer": "head",
    "probas": "probas",
    "logits": "probas",
    "normalized_features": "normalized_features",
}


class RecordingContext:
    """Delegates to a real context and records the requirement of every attribute read."""

    def __init__(self, ctx):
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "reads", set())

    def __getattr__(self, name):
        if name in READS:
            self.reads.add(READS[name])
        return getattr(self._ctx, name)


def _recorded(strategy: Strategy, n_labeled: int = 20) -> set[str]:
    ctx, cand = make_context(seed=11, n_labeled=n_labeled)
    proxy = RecordingContext(ctx)
    strategy.select(proxy, cand, 8, np.random.default_rng(0))
    return proxy.reads


@pytest.mark.parametrize("name", available_strategies() + ["filtered:margin", "filtered:bait"])
def test_reads_nothing_undeclared(name):
    strategy = build(name)
    declared = strategy.requirements()
    assert declared <= REQUIREMENTS
    undeclared = _recorded(strategy) - declared
    assert not undeclared, f"{name} reads {sorted(undeclared)} without declaring it"


def test_the_proxy_catches_an_undeclared_read():
    # a strategy that declares nothing but reads the probabilities must be caught
    class Sneaky(Strategy):
        name = ""

        def _select(self, ctx, candidates, batch_size, rng):
            order = np.argsort(ctx.probas(candidates).max(axis=1))
            return candidates[order[:batch_size]]

    assert _recorded(Sneaky()) == {"probas"}


def test_composites_declare_their_members_needs():
    refine = make_strategy("refine", strategies=["margin", "coreset"], final="random")
    assert refine.requirements() >= {"probas", "features"}
    assert make_strategy("filtered:random", strategies=["random"]).requirements() == frozenset()
    tailor = make_strategy("tailor", strategies=["random", "margin"])
    assert tailor.requirements() == {"labels", "probas"}
