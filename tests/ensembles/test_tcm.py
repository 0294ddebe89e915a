"""TCM: TypiClust for the configured number of cycles, then Margin, with no hidden state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.errors import ConfigError
from refine.head import HeadConfig
from refine.loop import TrialSpec, run_trial
from refine.strategies import make_strategy
from tests.conftest import make_pool


def context_at(
    cycle: int, n_labeled: int = 20, seed: int = 0
) -> tuple[SelectionContext, np.ndarray]:
    X, y = make_pool(n=240, d=6, k=4, seed=seed)
    labeled = np.random.default_rng(seed).choice(len(y), n_labeled, replace=False)
    ctx = SelectionContext.from_arrays(
        X, labeled, y[labeled], 4, seed=seed, head_config=HeadConfig(epochs=30), cycle=cycle
    )
    return ctx, ctx.unlabeled()


@pytest.mark.parametrize("typiclust_cycles", [0, 1, 3])
def test_switches_exactly_after_the_configured_cycle(typiclust_cycles):
    tcm = make_strategy("tcm", typiclust_cycles=typiclust_cycles)
    for cycle in range(1, 7):
        ctx, cand = context_at(cycle)
        expected = "typiclust" if cycle <= typiclust_cycles else "margin"
        got = tcm.select(ctx, cand, 8, np.random.default_rng(cycle))
        assert tcm.trace_ == {"tcm_phase": expected, "cycle": cycle}
        # the batch is the phase strategy's batch for the same generator
        ref = make_strategy(expected).select(ctx, cand, 8, np.random.default_rng(cycle))
        np.testing.assert_array_equal(got, ref)
        ranked = tcm.rank(ctx, cand, 5, np.random.default_rng(cycle))
        ref_rank = make_strategy(expected).rank(ctx, cand, 5, np.random.default_rng(cycle))
        np.testing.assert_array_equal(ranked, ref_rank)


def test_default_is_three_typiclust_cycles_in_the_loop():
    data = load_dataset("synthetic", n_train=400, n_test=100, n_features=6, n_classes=4)
    spec = TrialSpec("synthetic", "raw", "tcm", 0, n_cycles=5, head=HeadConfig(epochs=20))
    df = run_trial(data, spec)
    phases = [json.loads(t)["tcm_phase"] for t in df.trace[1:]]
    assert phases == ["typiclust"] * 3 + ["margin"] * 2
    assert make_strategy("tcm").state_dict() == {}  # the phase is a function of ctx.cycle


def test_switch_rule_hook_replaces_the_schedule():
    seen = []

    def rule(cycle, n_labeled, batch_size, n_classes):
        seen.append((cycle, n_labeled, batch_size, n_classes))
        return n_labeled < 4 * n_classes  # e.g. "TypiClust until 4 labels per class"

    tcm = make_strategy("tcm", switch_rule=rule)
    ctx, cand = context_at(cycle=1, n_labeled=10)
    tcm.select(ctx, cand, 5, np.random.default_rng(0))
    assert tcm.trace_["tcm_phase"] == "typiclust"
    ctx, cand = context_at(cycle=1, n_labeled=16)
    tcm.select(ctx, cand, 5, np.random.default_rng(0))
    assert tcm.trace_["tcm_phase"] == "margin"
    assert seen[0] == (1, 10, 5, 4)


def test_small_pool_still_records_the_phase():
    tcm = make_strategy("tcm")
    ctx, cand = context_at(cycle=5)
    with pytest.warns(UserWarning):
        tcm.select(ctx, cand[:3], 8, np.random.default_rng(0))
    assert tcm.trace_["tcm_phase"] == "margin"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"typiclust_cycles": -1}, "typiclust_cycles"),
        ({"typiclust_cycles": 1.5}, "typiclust_cycles"),
        ({"switch_rule": 3}, "switch_rule"),
        ({"margin_params": "x"}, "margin_params"),
    ],
)
def test_bad_parameters_are_named(params, match):
    ctx, cand = context_at(cycle=1)
    with pytest.raises(ConfigError, match=match):
        make_strategy("tcm", **params).select(ctx, cand, 5, np.random.default_rng(0))
