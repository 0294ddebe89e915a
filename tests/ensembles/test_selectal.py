"""SelectAL: the removal test picks the regime whose removal hurts most; bookkeeping of c and L'."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.head import HeadConfig
from refine.strategies import Strategy, make_strategy
from refine.strategies.selectal import SelectAL
from tests.conftest import make_context, make_pool


class PickFrom(Strategy):
    """Test double: selects the candidates that are in ``preferred`` first (ascending index)."""

    def __init__(self, preferred=()):
        self.preferred = preferred

    def _select(self, ctx, candidates, batch_size, rng):
        first = np.isin(candidates, np.asarray(self.preferred, dtype=np.int64))
        order = np.concatenate([candidates[first], candidates[~first]])
        return order[:batch_size]


def clean_and_noisy_pool(seed: int = 0):
    """Two classes; per class 20 "clean" points far on its own side and 20 "noisy" points.

    The noisy points of both classes are drawn from the same distribution around the origin, so
    no head classifies them better than chance. Removing the clean points leaves L' = noise
    (validation accuracy ≈ 0.5); removing the noisy ones leaves only clean points (≈ 1.0); a
    random removal lies in between (≈ 0.75). The regime of the clean-point remover must win.
    """
    rng = np.random.default_rng(seed)
    d = 4
    X, y, clean = [], [], []
    for k, side in ((0, -1.0), (1, 1.0)):
        centre = np.zeros(d)
        centre[0] = 6.0 * side
        X.append(centre + rng.normal(0, 0.5, size=(20, d)))
        clean.append(np.ones(20, bool))
        X.append(rng.normal(0, 1.0, size=(20, d)))
        clean.append(np.zeros(20, bool))
        y += [k] * 40
    X = np.concatenate(X).astype(np.float32)
    y = np.asarray(y)
    clean = np.concatenate(clean)
    # unlabeled candidates for the final query: a few more points of each kind
    extra = rng.normal(0, 1.0, size=(30, d)).astype(np.float32)
    X = np.concatenate([X, extra])
    labeled = np.arange(80)
    ctx = SelectionContext.from_arrays(
        X, labeled, y, 2, seed=seed, head_config=HeadConfig(epochs=20)
    )
    return ctx, ctx.unlabeled(), np.flatnonzero(clean), np.flatnonzero(~clean[:80])


def known_answer_selectal(low_removes, high_removes):
    return SelectAL(
        epsilon=0.5,  # e = 40, c = 20 per class: a surrogate removes all of one kind
        surrogate_low=PickFrom(tuple(low_removes.tolist())),
        surrogate_high=PickFrom(tuple(high_removes.tolist())),
        val_split=0.25,
        train_epochs=20,
    )


def test_picks_the_regime_whose_removal_hurts_most_low():
    ctx, cand, clean, noisy = clean_and_noisy_pool()
    sel = known_answer_selectal(low_removes=clean, high_removes=noisy)
    batch = sel.select(ctx, cand, 5, np.random.default_rng(0))
    tr = sel.trace_
    assert tr["selectal_regime"] == "low" and tr["selectal_choice"] == "typiclust"
    acc = tr["accuracies"]
    assert acc["low"] < acc["random"] < acc["high"]
    assert acc["low"] <= 0.7 and acc["high"] >= 0.95
    assert tr["removed_per_class"] == 20 and tr["n_removed"] == {
        "random": 40,
        "low": 40,
        "high": 40,
    }
    assert len(tr["random_rep_accuracies"]) == 5
    np.testing.assert_array_equal(
        batch, make_strategy("typiclust").select(ctx, cand, 5, _query_rng(0))
    )
    json.dumps(tr)  # stored in the results table


def test_picks_the_regime_whose_removal_hurts_most_high():
    ctx, cand, clean, noisy = clean_and_noisy_pool(seed=1)
    sel = known_answer_selectal(low_removes=noisy, high_removes=clean)
    batch = sel.select(ctx, cand, 5, np.random.default_rng(0))
    assert sel.trace_["selectal_regime"] == "high"
    assert sel.trace_["selectal_choice"] == "badge"
    np.testing.assert_array_equal(batch, make_strategy("badge").select(ctx, cand, 5, _query_rng(0)))


def _query_rng(seed):
    from refine.seeding import child_rng, rng_seed_sequence

    return child_rng(rng_seed_sequence(np.random.default_rng(seed)), "query")


def test_removal_size_and_two_instance_floor():
    ctx, cand = make_context(n=200, n_labeled=40, seed=3)
    sel = SelectAL(epsilon=0.2, train_epochs=5, num_random_reps=1, num_val_reps=1)
    sel.select(ctx, cand, 4, np.random.default_rng(0))
    counts = np.bincount(ctx.labels, minlength=4)
    c = min(int(0.2 * 40) // 4, counts.min())
    assert sel.trace_["removed_per_class"] == c
    assert sel.trace_["n_removed"]["low"] == 4 * c
    # one label per class: c = 1 removes whole classes until only two instances remain
    X, y = make_pool(n=60, d=4, k=3, seed=0)
    labeled = np.array([np.flatnonzero(y == k)[0] for k in range(3)])
    ctx = SelectionContext.from_arrays(X, labeled, y[labeled], 3, head_config=HeadConfig(epochs=5))
    sel.select(ctx, ctx.unlabeled(), 4, np.random.default_rng(0))
    assert sel.trace_["n_removed"] == {"random": 1, "low": 1, "high": 1}


def test_empty_labeled_set_uses_the_low_budget_strategy():
    ctx, cand = make_context(n_labeled=0)
    sel = make_strategy("selectal")
    batch = sel.select(ctx, cand, 6, np.random.default_rng(2))
    assert sel.trace_["selectal_regime"] == "low" and "empty" in sel.trace_["reason"]
    assert batch.size == 6


def test_decision_is_reproducible():
    ctx, cand = make_context(seed=4)
    a = make_strategy("selectal").decide(ctx, np.random.default_rng(9))
    ctx, cand = make_context(seed=4)
    b = make_strategy("selectal").decide(ctx, np.random.default_rng(9))
    assert a == b


@pytest.mark.parametrize(
    "params, match",
    [
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": 2.5}, "epsilon"),
        ({"epsilon": 50}, "epsilon=50"),  # absolute count >= |L| = 20
        ({"val_split": 1.0}, "val_split"),
        ({"num_val_reps": 0}, "num_val_reps"),
        ({"train_epochs": 0}, "train_epochs"),
        ({"surrogate_high": 3}, "surrogate_high"),
        ({"strategy_params": [1]}, "strategy_params"),
    ],
)
def test_bad_parameters_are_named(params, match):
    ctx, cand = make_context()
    with pytest.raises(ConfigError, match=match):
        make_strategy("selectal", **params).select(ctx, cand, 5, np.random.default_rng(0))
