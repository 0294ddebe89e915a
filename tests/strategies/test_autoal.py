"""AutoAL (``autoal``, ``autoal-original``): scoring pieces, the search, determinism, resume."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.errors import ConfigError
from refine.head import HeadConfig
from refine.io import read_parquet_with_metadata
from refine.loop import TIMING_COLUMNS, TrialSpec, run_trial
from refine.strategies import Strategy, make_strategy
from refine.strategies._autoal_nets import (
    _fit_mixture,
    gmm_threshold,
    loss_prediction_loss,
    relaxed_scores,
    size_penalty,
)
from refine.strategies.autoal import AUTOAL_CANDIDATES, AutoAL, AutoALOriginal
from tests.conftest import make_context

#: Small schedules that keep every code path (FitNet, SearchNet, LossNet updates) but run fast.
FAST = {
    "autoal": {"num_bilevel_steps": 36, "num_fit_net_epochs": 5, "gmm_draws": 2000},
    "autoal-original": {"num_bilevel_steps": 36, "num_fit_net_steps": 10, "gmm_draws": 2000},
}


class ByFeature(Strategy):
    """Test candidate: the candidates with the largest ``sign · X[:, 0]``."""

    requires = frozenset({"features"})

    def __init__(self, sign: float = 1.0):
        self.sign = sign

    def _select(self, ctx, candidates, batch_size, rng):
        order = np.argsort(-self.sign * ctx.X[candidates, 0], kind="stable")
        return candidates[order[:batch_size]]


# ---------------------------------------------------------------------- scoring pieces
def test_gmm_threshold_is_the_upper_percentile_of_the_fitted_mixture():
    # scores from N(0, 1): the mixture fits it, the 98th percentile of N(0, 1) is 2.054;
    # 10 000 draws give a standard error of ~0.03, the fit on 2000 scores ~0.05
    scores = np.random.default_rng(0).standard_normal(2000)
    assert gmm_threshold(scores, 0.02, seed=1) == pytest.approx(2.054, abs=0.15)
    assert gmm_threshold(scores, 0.5, seed=1) == pytest.approx(0.0, abs=0.1)
    # deterministic for a seed
    assert gmm_threshold(scores, 0.02, seed=3) == gmm_threshold(scores, 0.02, seed=3)


def test_gmm_threshold_with_fewer_scores_than_components():
    assert np.isfinite(gmm_threshold(np.array([0.25, 0.75]), 0.02, seed=0))
    assert np.isfinite(gmm_threshold(np.full(8, 0.125), 0.02, seed=0))  # all tied


def _scores(kind: int, n: int, rng) -> np.ndarray:
    if kind == 0:
        return rng.random(n)
    if kind == 1:
        return np.round(rng.random(n), 2)  # ties
    if kind == 2:
        return rng.choice([0.1, 0.5, 0.9], n)  # fewer distinct values than components
    return np.concatenate([rng.normal(0, 1e-3, n // 2), rng.normal(1, 0.2, n - n // 2)])


@pytest.mark.parametrize("kind", range(4))
def test_mixture_fit_without_validation_equals_the_estimator_bit_for_bit(kind):
    """gmm_threshold's _fit_mixture runs GaussianMixture.fit's own steps: every fitted
    parameter, the EM bookkeeping and the draws equal the estimator's exactly."""
    rng = np.random.default_rng(kind)
    for n in (2, 3, 5, 6, 17, 64, 257):
        X = _scores(kind, n, rng).reshape(-1, 1)
        seed = int(rng.integers(2**31 - 1))
        ref = GaussianMixture(min(5, n), covariance_type="diag", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(X)
        got = _fit_mixture(GaussianMixture(min(5, n), covariance_type="diag", random_state=seed), X)
        for attr in (
            "weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_",
            "n_iter_", "converged_", "lower_bound_",
        ):  # fmt: skip
            np.testing.assert_array_equal(getattr(got, attr), getattr(ref, attr), err_msg=attr)
        np.testing.assert_array_equal(got.sample(500)[0], ref.sample(500)[0])


def test_mixture_fit_stops_at_max_iter_as_the_estimator_does():
    X = _scores(3, 200, np.random.default_rng(5)).reshape(-1, 1)
    ref = GaussianMixture(5, covariance_type="diag", random_state=2, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X)
    got = _fit_mixture(GaussianMixture(5, covariance_type="diag", random_state=2, max_iter=2), X)
    assert got.n_iter_ == ref.n_iter_ == 2 and got.converged_ is ref.converged_ is False
    np.testing.assert_array_equal(got.means_, ref.means_)


def test_published_steepness_leaves_no_gradient_and_a_finite_one_does():
    scores = torch.softmax(torch.linspace(-1, 1, 64, dtype=torch.float64), 0)
    thr = gmm_threshold(scores.numpy(), 0.02, seed=0)
    for steepness, vanishes in ((1e11, True), (1e3, False)):
        s = scores.clone().requires_grad_()
        relaxed_scores(s, thr, steepness).sum().backward()
        assert (s.grad.abs().max().item() == 0.0) is vanishes
    hard = relaxed_scores(scores, thr, 1e11)
    assert set(hard.unique().tolist()) <= {0.0, 1.0}  # a step function in float64


def test_size_penalty_hand_values():
    assert size_penalty(3, 3) == 0.0
    assert size_penalty(5, 3) == pytest.approx(2 * (1 / (1 + math.exp(-1)) - 0.5))
    assert size_penalty(1, 3) == size_penalty(5, 3)


def test_loss_prediction_loss_hand_values():
    # order agrees with the losses: zero; reversed: margin + |difference| per ordered pair
    agree = loss_prediction_loss(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 1.0]))
    reverse = loss_prediction_loss(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 1.0]))
    assert agree.item() == 0.0 and reverse.item() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        loss_prediction_loss(torch.zeros(3), torch.zeros(3))


# ---------------------------------------------------------------------- the search
def informative_pool(seed: int = 0, n: int = 400):
    """x0 > 0: random labels (high loss for any classifier); x0 < 0: labels by the sign of x1."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = np.where(X[:, 0] > 0, rng.integers(0, 2, n), (X[:, 1] > 0).astype(int))
    labeled = rng.choice(n, 200, replace=False)
    ctx = SelectionContext.from_arrays(
        X, labeled, y[labeled], n_classes=2, seed=seed, head_config=HeadConfig(epochs=20)
    )
    return ctx, ctx.unlabeled()


@pytest.mark.parametrize("objective, sign", [("maximize", 1.0), ("minimize", -1.0)])
def test_searchnet_weight_of_the_informative_strategy_moves_with_the_objective(objective, sign):
    # ByFeature(+1) marks the noisy, high-loss instances, ByFeature(-1) the clean ones. SearchNet
    # starts with equal outputs for both (zero weights, bias 0.5). With a finite steepness and
    # aligned rows, maximising the loss of the selected instances (the AutoAL paper and code)
    # raises SearchNet's output for the informative strategy above the other one's, step by step;
    # minimising it (the Refine authors' sign) lowers it.
    ctx, cand = informative_pool()
    strat = AutoAL(
        strategies=[ByFeature(1.0), ByFeature(-1.0)],
        search_objective=objective,
        score_rows="aligned",
        steepness=1e3,
        lr=1e-2,  # the published 1e-3 moves SearchNet ten times less within one query
        num_fit_net_epochs=20,
        ratio=0.1,
        num_bilevel_steps=1,  # this first call only builds the networks
    )
    strat.select(ctx, cand, 10, np.random.default_rng(0))
    with torch.no_grad():
        strat.nets_["search"].weight.zero_()
        strat.nets_["search"].bias.fill_(0.5)
    strat.set_params(num_bilevel_steps=200)
    strat.select(ctx, cand, 10, np.random.default_rng(1))
    w = np.asarray(strat.history_["weights"])  # SearchNet updates × strategies
    assert w.shape == (len(range(27, 200, 3)), 2)
    gap = sign * (w[:, 0] - w[:, 1])  # informative minus uninformative, signed by the objective
    assert gap[0] == 0.0
    assert gap[-10:].mean() > 0.05
    assert gap[-10:].mean() > gap[20:30].mean() > gap[:10].mean()


def test_published_defaults_move_searchnet_only_by_weight_decay():
    # steepness 1e11: the selection loss has no gradient; with weight decay 0 SearchNet's
    # parameters do not move over a whole query, with a finite steepness they do
    ctx, cand = informative_pool()

    def search_params_moved(**params) -> bool:
        strat = AutoAL(
            strategies=[ByFeature(1.0), ByFeature(-1.0)],
            weight_decay=0.0,
            **{**FAST["autoal"], **params},
        )
        strat.select(ctx, cand, 10, np.random.default_rng(0))
        before = [p.detach().clone() for p in strat.nets_["search"].parameters()]
        strat.select(ctx, cand, 10, np.random.default_rng(1))
        assert strat.trace_["autoal_search_updates"] > 0
        after = list(strat.nets_["search"].parameters())
        return not all(torch.equal(a, b) for a, b in zip(before, after, strict=True))

    assert not search_params_moved()
    assert search_params_moved(steepness=1e3, score_rows="aligned", ratio=0.1)


def test_final_batch_is_the_top_of_the_weighted_marks():
    # SearchNet with zero weights and biases (w_high, w_low): instances marked by the strategy
    # with the larger bias come first; with negative biases unmarked instances (score 0) win
    ctx, cand = informative_pool(n=300)
    params = dict(
        strategies=[ByFeature(1.0), ByFeature(-1.0)],
        num_bilevel_steps=1,  # step 0 updates nothing (before search_start)
        num_fit_net_epochs=0,
        quota=10,
    )
    x0 = ctx.X[cand, 0]
    for bias, expected in (
        ([1.0, 2.0], np.sort(cand[np.argsort(x0)[:5]])),  # ByFeature(-1)'s picks
        ([2.0, 1.0], np.sort(cand[np.argsort(-x0)[:5]])),  # ByFeature(+1)'s picks
    ):
        strat = AutoAL(**params)
        strat.select(ctx, cand, 5, np.random.default_rng(0))
        with torch.no_grad():
            strat.nets_["search"].weight.zero_()
            strat.nets_["search"].bias.copy_(torch.tensor(bias))
        chosen = strat.select(ctx, cand, 5, np.random.default_rng(1))
        np.testing.assert_array_equal(np.sort(chosen), expected)
        assert strat.trace_["autoal_unmarked"] == 0
    strat = AutoAL(**params)
    strat.select(ctx, cand, 5, np.random.default_rng(0))
    with torch.no_grad():
        strat.nets_["search"].weight.zero_()
        strat.nets_["search"].bias.copy_(torch.tensor([-1.0, -2.0]))
    chosen = strat.select(ctx, cand, 5, np.random.default_rng(1))
    marked = set(cand[np.argsort(x0)[:5]]) | set(cand[np.argsort(-x0)[:5]])
    assert not set(chosen.tolist()) & marked
    assert strat.trace_["autoal_unmarked"] == 5


# ---------------------------------------------------------------------- determinism and state
@pytest.mark.parametrize("name", ["autoal", "autoal-original"])
def test_same_seed_same_batches_over_cycles_and_state_roundtrip(name):
    ctx, cand = make_context(seed=3, n_labeled=30)
    a = make_strategy(name, **FAST[name])
    b = clone(a)
    first = a.select(ctx, cand, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(first, b.select(ctx, cand, 10, np.random.default_rng(5)))
    assert a.trace_ == b.trace_
    state = json.loads(json.dumps(a.state_dict()))  # JSON-safe
    c = clone(a)
    c.load_state_dict(state)
    for net in ("search", "fit", "loss"):
        for p, q in zip(a.nets_[net].parameters(), c.nets_[net].parameters(), strict=True):
            assert torch.equal(p, q)  # bit-exact
    ctx2, cand2 = make_context(seed=4, n_labeled=30)
    second = a.select(ctx2, cand2, 10, np.random.default_rng(6))
    np.testing.assert_array_equal(second, c.select(ctx2, cand2, 10, np.random.default_rng(6)))


def test_original_variant_repeats_the_first_cycle_three_times():
    ctx, cand = make_context(seed=3, n_labeled=40)
    strat = AutoALOriginal(**FAST["autoal-original"])
    strat.select(ctx, cand, 10, np.random.default_rng(0))
    # |L| = 40: halves of 20, batches of b = 10 → 2 pairs, 3 repeats
    assert strat.trace_["autoal_batch_pairs"] == 6
    strat.select(ctx, cand, 10, np.random.default_rng(1))
    assert strat.trace_["autoal_batch_pairs"] == 2


def test_trace_is_json_and_accounts_for_the_batch():
    ctx, cand = make_context(seed=2, n_labeled=30)
    strat = make_strategy("autoal", **FAST["autoal"])
    chosen = strat.select(ctx, cand, 10, np.random.default_rng(0))
    t = json.loads(json.dumps(strat.trace_))
    assert t["autoal_strategies"] == list(AUTOAL_CANDIDATES)
    assert len(t["autoal_weights"]) == len(AUTOAL_CANDIDATES)
    assert t["autoal_split"] == [15, 15]
    # every chosen instance is unmarked or marked by at least one strategy
    assert (
        t["autoal_unmarked"]
        <= chosen.size
        <= t["autoal_unmarked"] + sum(t["autoal_picks"].values())
    )


def test_state_of_another_run_is_refused():
    ctx, cand = make_context(seed=2, n_labeled=30)
    strat = make_strategy("autoal", **FAST["autoal"])
    strat.select(ctx, cand, 10, np.random.default_rng(0))
    other = AutoAL(strategies=["random", "margin"])
    with pytest.raises(ConfigError, match="strategies"):
        other.load_state_dict(strat.state_dict())
    ctx_k, cand_k = make_context(seed=2, n_labeled=30, k=3)
    with pytest.raises(ConfigError, match="classes"):
        strat.select(ctx_k, cand_k, 10, np.random.default_rng(0))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"search_objective": "max"}, "search_objective"),
        ({"score_rows": "sorted"}, "score_rows"),
        ({"rescore": "never"}, "rescore"),
        ({"ratio": 1.5}, "ratio"),
        ({"steepness": 0}, "steepness"),
        ({"num_bilevel_steps": 0}, "num_bilevel_steps"),
        ({"device": "tpu"}, "device"),
        ({"strategies": ["margin", "margin"]}, "unique"),
        ({"strategies": ["nope"]}, "nope"),
    ],
)
def test_bad_parameters_are_named(params, match):
    ctx, cand = make_context(seed=1)
    with pytest.raises(ConfigError, match=match):
        AutoAL(**params).select(ctx, cand, 5, np.random.default_rng(0))


def test_rescore_batch_runs_the_strategies_once_per_batch():
    calls = []

    class Counting(ByFeature):
        def _select(self, ctx, candidates, batch_size, rng):
            calls.append(candidates.size)
            return super()._select(ctx, candidates, batch_size, rng)

    ctx, cand = make_context(seed=1, n_labeled=20)
    for rescore, n_bilevel_calls in (("batch", 1), ("step", len([*range(27, 36, 3)]) + 12)):
        calls.clear()
        AutoALOriginal(
            strategies=[Counting()],
            rescore=rescore,
            first_cycle_repeats=1,
            **FAST["autoal-original"],
        ).select(ctx, cand, 10, np.random.default_rng(0))
        # |L| = 20: one pair of 10; the final scoring adds one call on the candidates
        assert len(calls) == n_bilevel_calls + 1


def test_rng_free_picks_are_kept_across_steps_with_the_batches_of_recomputing(monkeypatch):
    """rescore="step": Margin, MaxHerding and UHerding, which draw no random number here, are
    computed once per (rows, picks) and reused on the later steps; the batches, traces and nets
    are those of recomputing them on every step (direct_rng switched off)."""
    from refine.strategies import margin, maxherding, uherding

    calls = []

    class CountingMargin(margin.MarginSampling):
        def _select(self, ctx, candidates, batch_size, rng):
            calls.append(candidates.size)
            return super()._select(ctx, candidates, batch_size, rng)

    ctx, cand = make_context(seed=2, n_labeled=20)
    members = ["random", CountingMargin(), "maxherding", "uherding", "typiclust"]
    kw = dict(strategies=members, first_cycle_repeats=1, **FAST["autoal-original"])
    reused = AutoALOriginal(**kw)
    batch = reused.select(ctx, cand, 10, np.random.default_rng(0))
    # one pair of 10: one bilevel computation (then reused) and the final scoring
    assert calls == [10, cand.size]
    for cls in (CountingMargin, maxherding.MaxHerding, uherding.UHerding):
        monkeypatch.setattr(cls, "direct_rng", False)
    calls.clear()
    recomputed = AutoALOriginal(**kw)
    np.testing.assert_array_equal(batch, recomputed.select(ctx, cand, 10, np.random.default_rng(0)))
    assert len(calls) == len([*range(27, 36, 3)]) + 12 + 1  # every SearchNet/FitNet step
    assert reused.trace_ == recomputed.trace_ and reused.history_ == recomputed.history_
    for net in ("search", "fit", "loss"):
        for p, q in zip(
            reused.nets_[net].parameters(), recomputed.nets_[net].parameters(), strict=True
        ):
            assert torch.equal(p, q)


@pytest.mark.parametrize("name", ["autoal", "autoal-original"])
def test_typiclusts_step_marks_in_one_call_give_the_batches_of_one_call_per_step(monkeypatch, name):
    """rescore="step": TypiClust's picks for all scoring steps of a bilevel run come from one
    select_draws call (its seedings side by side); batches, traces and nets equal one select per
    step (batched_draws switched off)."""
    from refine.strategies import typiclust

    seen = []
    real = typiclust.TypiClust.select_draws

    def spy(self, ctx, subsets, batch_size, rngs):
        seen.append(len(subsets))
        return real(self, ctx, subsets, batch_size, rngs)

    monkeypatch.setattr(typiclust.TypiClust, "select_draws", spy)
    ctx, cand = make_context(seed=4, n_labeled=24)
    kw = dict(strategies=["random", "typiclust", "margin"], rescore="step", **FAST[name])
    if name == "autoal-original":
        kw["first_cycle_repeats"] = 1
    together = make_strategy(name, **kw)
    batch = together.select(ctx, cand, 10, np.random.default_rng(3))
    assert seen and all(n > 1 for n in seen)
    monkeypatch.setattr(typiclust.TypiClust, "batched_draws", False)
    seen.clear()
    alone = make_strategy(name, **kw)
    np.testing.assert_array_equal(batch, alone.select(ctx, cand, 10, np.random.default_rng(3)))
    assert seen == []
    assert together.trace_ == alone.trace_ and together.history_ == alone.history_
    for net in ("search", "fit", "loss"):
        for p, q in zip(
            together.nets_[net].parameters(), alone.nets_[net].parameters(), strict=True
        ):
            assert torch.equal(p, q)


# ---------------------------------------------------------------------- resume after SIGKILL
KILL_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from refine.datasets import load_dataset
    from refine.head import HeadConfig
    from refine.loop import TrialSpec, run_trial
    out, k, strategy, params, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    spec = TrialSpec("synthetic", "raw", strategy, 2, n_cycles=5, head=HeadConfig(epochs=30),
                     strategy_params=json.loads(params))
    def die(cycle, row):
        if cycle == k:
            os.kill(os.getpid(), signal.SIGKILL)
    run_trial(load_dataset("synthetic", **json.loads(data)), spec, out, on_cycle=die)
    """
)
DATA = {"n_train": 400, "n_test": 100, "n_features": 8, "n_classes": 4, "imbalance": 5.0}


@pytest.mark.parametrize("strategy", ["autoal", "autoal-original"])
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, strategy):
    params = FAST[strategy]
    k = 2
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_SCRIPT,
            str(tmp_path),
            str(k),
            strategy,
            json.dumps(params),
            json.dumps(DATA),
        ],
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    spec = TrialSpec(
        "synthetic",
        "raw",
        strategy,
        2,
        n_cycles=5,
        head=HeadConfig(epochs=30),
        strategy_params=params,
    )
    partial, meta = read_parquet_with_metadata(spec.result_path(tmp_path))
    assert len(partial) == k + 1 and not meta["complete"]
    assert meta["strategy_state"]["nets"] is not None  # the networks come back from the file
    data = load_dataset("synthetic", **DATA)
    resumed = run_trial(data, spec, tmp_path, resume=True)
    fresh = run_trial(data, spec)
    pd.testing.assert_frame_equal(
        resumed.drop(columns=TIMING_COLUMNS), fresh.drop(columns=TIMING_COLUMNS)
    )
    traces = [json.loads(t) for t in fresh.trace[1:]]
    assert all(t["autoal_strategies"] == list(AUTOAL_CANDIDATES) for t in traces)
    assert all(len(json.loads(t)["autoal_weights"]) == 7 for t in resumed.trace[1:])
