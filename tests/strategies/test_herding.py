"""MaxHerding and UHerding: brute force from the formulas, hand-worked calibration and bandwidth
examples, per-cycle memoisation, chunking, and agreement with scikit-activeml."""

from __future__ import annotations

import math

import numpy as np
import pytest

import refine.strategies.uherding as uherding_module
from benchmarks._skal_herding import skal_maxherding
from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.head import HeadConfig, LinearHead
from refine.strategies._herding import (
    GAINS,
    METHODS,
    RBFKernel,
    herding_greedy,
    labeled_coverage,
)
from refine.strategies.maxherding import MaxHerding
from refine.strategies.uherding import (
    DEFAULT_TEMPERATURES,
    UHerding,
    expected_calibration_error,
    holdout_split,
    select_temperature,
    uncertainty_scores,
)
from tests.conftest import make_context


# ---------------------------------------------------------------------- brute force
def unit(A) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def rbf(A, B, gamma) -> np.ndarray:
    """k(a, b) = exp(−γ‖a − b‖²) from explicit differences (float64)."""
    return np.exp(-gamma * ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))


def brute_force(Fc, FL, gamma, b, u=None, gain="paper", cover_labeled=False):
    """Greedy batch written directly from the objective, one candidate at a time.

    ``gain="paper"``: add the candidate maximising the weighted coverage
    ``GCov(S ∪ {c}) = mean_x u(x) max_{s ∈ L ∪ S ∪ {c}} k(x, s)`` over X = C (or X = L ∪ C with
    ``cover_labeled``, u = 1 on L). ``gain="published"``: the dal-toolbox score
    ``u(c) · mean_j max(k(c, j) − m(c), 0)`` with ``m(c) = max_{s ∈ L ∪ S} k(c, s)``.
    Returns the picks and the gain of each pick (the increase of GCov for the paper form).
    """
    n = len(Fc)
    u = np.ones(n) if u is None else np.asarray(u, dtype=np.float64)
    X = np.concatenate([FL, Fc]) if cover_labeled else Fc
    w = np.concatenate([np.ones(len(FL)), u]) if cover_labeled else u

    def gcov(S):
        centres = np.concatenate([FL, Fc[S]]) if len(S) or len(FL) else np.empty((0, Fc.shape[1]))
        if len(centres) == 0:
            return 0.0
        return float(np.mean(w * rbf(X, centres, gamma).max(axis=1)))

    S: list[int] = []
    gains = []
    for _ in range(b):
        best, arg = -np.inf, None
        for c in range(n):
            if c in S:
                continue
            if gain == "paper":
                score = gcov(S + [c])
            else:
                centres = np.concatenate([FL, Fc[S]])
                m_c = rbf(Fc[c : c + 1], centres, gamma).max() if len(centres) else 0.0
                score = u[c] * np.mean(np.maximum(rbf(Fc[c : c + 1], Fc, gamma)[0] - m_c, 0.0))
            if score > best:
                best, arg = score, c
        gains.append(best - gcov(S) if gain == "paper" else best)
        S.append(arg)
    return np.array(S), np.array(gains)


def small_context(n=60, d=6, n_labeled=5, seed=0, k=3):
    """A pool of unnormalised Gaussian points (varied norms) with a few labeled ones."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=(n, 1))).astype(np.float32)
    y = rng.integers(0, k, size=n)
    labeled = rng.choice(n, size=n_labeled, replace=False)
    ctx = SelectionContext.from_arrays(
        X, labeled, y[labeled], n_classes=k, seed=seed, head_config=HeadConfig(epochs=30)
    )
    return ctx, ctx.unlabeled()


def softmax64(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- greedy = brute force
@pytest.mark.parametrize("gain", GAINS)
@pytest.mark.parametrize("n_labeled", [0, 5])
def test_maxherding_equals_brute_force(gain, n_labeled):
    ctx, cand = small_context(n_labeled=n_labeled, seed=1)
    chosen = MaxHerding(gain=gain).select(ctx, cand, 10, np.random.default_rng(0))
    Fc, FL = unit(ctx.X[cand]), unit(ctx.X[ctx.labeled]) if n_labeled else np.empty((0, 6))
    expected, _ = brute_force(Fc, FL, 1.0, 10, gain=gain)
    np.testing.assert_array_equal(chosen, cand[expected])


@pytest.mark.parametrize("gain", GAINS)
def test_uherding_equals_brute_force(gain):
    ctx, cand = small_context(n_labeled=8, seed=2)
    T = 1.7
    chosen = UHerding(gain=gain, temperature=T).select(ctx, cand, 10, np.random.default_rng(0))
    # u from the head's logits, γ from the labeled distances, both written out here
    p = np.sort(softmax64(ctx.logits(cand).astype(np.float64) / T), axis=1)
    u = 1.0 - (p[:, -1] - p[:, -2])
    FL = unit(ctx.X[ctx.labeled])
    d = np.sqrt(((FL[:, None] - FL[None]) ** 2).sum(-1))
    d_min = d[~np.eye(len(FL), dtype=bool)].min()
    expected, _ = brute_force(unit(ctx.X[cand]), FL, 1.0 / d_min**2, 10, u=u, gain=gain)
    np.testing.assert_array_equal(chosen, cand[expected])


def test_covering_labeled_points_too_selects_the_same_batch():
    # The original code's coverage set is L ∪ C; labeled points are covered from the start
    # (k(l, l) = 1), so they add a constant and the argmax is unchanged.
    ctx, cand = small_context(n_labeled=6, seed=3)
    Fc, FL = unit(ctx.X[cand]), unit(ctx.X[ctx.labeled])
    a, _ = brute_force(Fc, FL, 1.0, 8)
    b, _ = brute_force(Fc, FL, 1.0, 8, cover_labeled=True)
    np.testing.assert_array_equal(a, b)


def test_paper_and_published_gains_differ():
    ctx, cand = small_context(n=120, n_labeled=10, seed=4)
    a = MaxHerding(gain="paper").select(ctx, cand, 15, np.random.default_rng(0))
    b = MaxHerding(gain="published").select(ctx, cand, 15, np.random.default_rng(0))
    assert set(a.tolist()) != set(b.tolist())


# ---------------------------------------------------------------------- greedy engine
def engine_problem(seed, n=150, d=7, n_labeled=6, gamma=3.0):
    rng = np.random.default_rng(seed)
    F = unit(rng.normal(size=(n, d))).astype(np.float32)
    FL = unit(rng.normal(size=(n_labeled, d))).astype(np.float32)
    u = rng.uniform(0.05, 1.0, size=n).astype(np.float32)
    return F, FL, u, gamma


@pytest.mark.parametrize("gain", GAINS)
def test_lazy_incremental_and_recomputed_gains_agree_at_every_step(gain):
    F, FL, u, gamma = engine_problem(5)
    m0 = labeled_coverage(F, FL, gamma)
    expected, exp_gains = brute_force(
        F.astype(np.float64), FL.astype(np.float64), gamma, 25, u=u, gain=gain
    )
    for method in METHODS:
        for budget in (512.0, 0.02):  # kept kernel; recomputed rows with a tiny row cache
            trace = []
            picks = herding_greedy(
                F, 25, gamma=gamma, u=u, m0=m0, gain=gain, method=method,
                memory_budget_mb=budget, trace=trace,
            )  # fmt: skip
            np.testing.assert_array_equal(picks, expected, err_msg=f"{method}, {budget} MB")
            np.testing.assert_allclose([g for _, g in trace], exp_gains, rtol=2e-5)


def test_incremental_gains_match_from_scratch_gains_after_every_pick():
    # Maintain the gains by incremental updates and compare the whole vector with a
    # from-scratch evaluation after every pick.
    from refine.strategies._herding import _Gains, _take

    F, FL, u, gamma = engine_problem(6, n=120)
    kernel = RBFKernel(F, gamma)
    gains = _Gains(u, "paper", kernel)
    m = labeled_coverage(F, FL, gamma)
    g = gains.all(m)
    taken = np.zeros(len(F), bool)
    for _ in range(20):
        c = int(np.argmax(np.where(taken, -np.inf, g)))
        taken[c] = True
        m_old = m.copy()
        x = np.flatnonzero(_take(kernel, m, c))
        R = kernel.rows(x) - m_old[x][:, None]
        np.clip(R, 0.0, (m[x] - m_old[x])[:, None], out=R)
        g -= (u[x].astype(np.float64) @ R) / len(F)
        np.testing.assert_allclose(g, gains.all(m), rtol=1e-5, atol=1e-9)


def test_kernel_is_recomputed_in_chunks_below_the_budget_and_selections_are_identical():
    ctx, cand = make_context(n=400, d=8, n_labeled=20, seed=11)
    F = ctx.normalized_features(cand)
    assert RBFKernel(F, 1.0, 512.0).stored
    assert not RBFKernel(F, 1.0, 0.05).stored
    full = RBFKernel(F, 1.0, 512.0)
    chunked = RBFKernel(F, 1.0, 0.05)
    chunked.priority = np.zeros(len(F))
    idx = np.array([3, 100, 7, 250])
    np.testing.assert_allclose(chunked.rows(idx), full.rows(idx), rtol=0, atol=2e-6)
    for strat in (MaxHerding, UHerding):
        for gain in GAINS:
            a = strat(gain=gain).select(ctx, cand, 30, np.random.default_rng(0))
            b = strat(gain=gain, memory_budget_mb=0.05).select(
                ctx, cand, 30, np.random.default_rng(0)
            )
            np.testing.assert_array_equal(a, b)


def test_all_gains_zero_fills_the_batch_at_random():
    # Every candidate duplicates a labeled point: nothing is left to cover, every gain is 0.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(10, 5)).astype(np.float32)
    X = np.concatenate([base, base, base])
    labeled = np.arange(10)
    ctx = SelectionContext.from_arrays(X, labeled, np.zeros(10, np.int64), n_classes=2)
    cand = ctx.unlabeled()
    chosen = MaxHerding().select(ctx, cand, 5, np.random.default_rng(42))
    expected = cand[np.random.default_rng(42).choice(np.arange(20), size=5, replace=False)]
    np.testing.assert_array_equal(chosen, expected)


def test_exact_duplicates_get_kernel_one():
    F = unit([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3.0, 1.0, 0.0]]).astype(np.float32)
    K = RBFKernel(F, 50.0).K
    assert K[0, 1] == 1.0 and K[1, 0] == 1.0 and K[2, 2] == 1.0
    np.testing.assert_array_equal(labeled_coverage(F[:2], F[1:2], 50.0), [1.0, 1.0])


# ---------------------------------------------------------------------- calibration
def test_ece_hand_computed_with_15_bins():
    probas = np.array(
        [[0.9, 0.1], [0.88, 0.12], [0.62, 0.38], [0.3, 0.7], [0.95, 0.05], [1.0, 0.0]]
    )
    labels = np.array([0, 1, 0, 0, 0, 1])
    # bins of 1/15: {0.9, 0.88} → bin 13 (acc 1/2, conf 0.89); 0.62 → bin 9 (right);
    # 0.7 → bin 10 (wrong); 0.95 → bin 14 (right); 1.0 → its own bin (wrong).
    # ECE = (2·|0.5 − 0.89| + |1 − 0.62| + |0 − 0.7| + |1 − 0.95| + |0 − 1|) / 6 = 2.91 / 6
    assert expected_calibration_error(probas, labels, 15) == pytest.approx(2.91 / 6, abs=1e-12)
    # one bin [0, 1) (3 right, confidences summing to 4.05) and the bin of confidence 1.0
    assert expected_calibration_error(probas, labels, 1) == pytest.approx(2.05 / 6, abs=1e-12)


def test_temperature_is_the_ece_minimiser_on_a_constructed_case():
    # Every row has logits (6, 0) and 3 in 4 rows are class 0: one bin, ECE(T) =
    # |0.75 − σ(6/T)|, minimised at T* = 6/ln 3 ≈ 5.46; on the grid |σ(6/5.4) − 0.75| ≈ 0.0023
    # and |σ(6/5.5) − 0.75| ≈ 0.0015, so T = 5.5.
    logits = np.tile([6.0, 0.0], (40, 1))
    labels = np.array([0, 0, 0, 1] * 10)
    T, eces = select_temperature(logits, labels)
    assert T == pytest.approx(5.5)
    brute = [abs(0.75 - 1.0 / (1.0 + math.exp(-6.0 / t))) for t in DEFAULT_TEMPERATURES]
    assert DEFAULT_TEMPERATURES[int(np.argmin(brute))] == pytest.approx(5.5)
    np.testing.assert_allclose(eces, brute, atol=1e-12)
    assert len(DEFAULT_TEMPERATURES) == 190
    assert DEFAULT_TEMPERATURES[0] == 1.0 and DEFAULT_TEMPERATURES[-1] == pytest.approx(19.9)


def test_temperature_ties_go_to_the_smallest():
    logits = np.tile([50.0, 0.0], (10, 1))  # confidence 1 for every T of the grid: ECE 0
    T, _ = select_temperature(logits, np.zeros(10, np.int64))
    assert T == 1.0


def test_margin_uncertainty_of_scaled_probabilities():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 3.0]], dtype=np.float32)
    for T in (1.0, 2.0):
        p = np.sort(softmax64(logits.astype(np.float64) / T), axis=1)
        np.testing.assert_allclose(
            uncertainty_scores(logits, T, "margin"), 1.0 - (p[:, -1] - p[:, -2]), rtol=1e-6
        )
        np.testing.assert_allclose(
            uncertainty_scores(logits, T, "least_confidence"), 1.0 - p[:, -1], rtol=1e-6
        )
    assert uncertainty_scores(logits, 1.0, "margin")[1] == pytest.approx(1.0)


def fixed_logit_context(n_labeled_per_class=(15, 5), seed=0):
    """20 labeled (15 of class 0, 5 of class 1) and a head whose logits are (6, 0) everywhere."""
    rng = np.random.default_rng(seed)
    n_lab = sum(n_labeled_per_class)
    X = rng.normal(size=(n_lab + 40, 4)).astype(np.float32)
    labels = np.concatenate([np.full(c, k) for k, c in enumerate(n_labeled_per_class)])
    ctx = SelectionContext.from_arrays(
        X, np.arange(n_lab), labels, n_classes=2, head_config=HeadConfig(epochs=5)
    )
    calls = []

    def fake_fit_head(idx, y, key="fit"):
        calls.append((key, np.asarray(idx).copy()))
        return LinearHead(np.zeros((2, 4), np.float32), np.array([6.0, 0.0], np.float32))

    ctx.fit_head = fake_fit_head
    return ctx, calls


def test_strategy_temperature_uses_a_stratified_80_20_split_and_the_ece_minimiser():
    ctx, calls = fixed_logit_context()
    # stratified: the 4 held-out instances keep the 3:1 ratio, so acc = 0.75 and T = 5.5
    assert UHerding().cycle_temperature(ctx) == pytest.approx(5.5)
    (key, train_idx) = calls[0]
    assert key == "uherding-temperature" and train_idx.size == 16
    assert np.bincount(ctx.labels[np.isin(ctx.labeled, train_idx)]).tolist() == [12, 4]


def test_strategy_temperature_with_the_published_random_split():
    ctx, calls = fixed_logit_context()
    T = UHerding(temperature_split="random").cycle_temperature(ctx)
    seed = int(ctx.rng_for("uherding-temperature").integers(2**31 - 1))
    tr, va = holdout_split(ctx.labels, 0.2, "random", seed)
    np.testing.assert_array_equal(calls[0][1], ctx.labeled[tr])
    expected, _ = select_temperature(np.tile([6.0, 0.0], (va.size, 1)), ctx.labels[va])
    assert T == expected


def test_temperature_is_computed_once_per_cycle():
    ctx, calls = fixed_logit_context()
    cand = ctx.unlabeled()
    s = UHerding()
    a = s.select(ctx, cand, 5, np.random.default_rng(0))
    b = s.select(ctx, cand[::2], 5, np.random.default_rng(1))
    c = UHerding().select(ctx, cand, 5, np.random.default_rng(0))
    assert [k for k, _ in calls].count("uherding-temperature") == 1
    np.testing.assert_array_equal(a, c)
    assert b.size == 5


def test_bandwidth_is_computed_once_per_cycle(monkeypatch):
    counted = []
    original = uherding_module.min_pairwise_distance

    def counting(*args, **kwargs):
        counted.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(uherding_module, "min_pairwise_distance", counting)
    ctx, cand = make_context(n=200, n_labeled=12, seed=3)
    for seed in range(3):
        UHerding().select(ctx, cand[seed::3], 5, np.random.default_rng(seed))
    assert len(counted) == 1


def test_tiny_labeled_set_uses_temperature_one_without_retraining():
    ctx, calls = fixed_logit_context(n_labeled_per_class=(3, 1))
    assert UHerding().cycle_temperature(ctx) == 1.0
    assert calls == []


# ---------------------------------------------------------------------- bandwidth
def bandwidth_context(labeled_rows):
    """The given labeled points (2-d) plus three unlabeled ones."""
    L = np.asarray(labeled_rows, dtype=np.float32).reshape(-1, 2)
    extra = np.array([[1.0, -1.0], [-1.0, -2.0], [-3.0, 1.0]], np.float32)
    labels = np.arange(len(L)) % 2
    return SelectionContext.from_arrays(
        np.concatenate([L, extra]), np.arange(len(L)), labels, n_classes=2
    )


def test_gamma_from_the_smallest_labeled_distance_by_hand():
    # Unit directions at 0°, 60° and 90° (unnormalised inputs): chord lengths 2 sin(θ/2) are
    # 1, √2 and 2 sin 15°; d_min² = 4 sin² 15° = 2 − √3, so γ = 1/(2 − √3) = 2 + √3.
    ctx = bandwidth_context([[3.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 7.0]])
    assert UHerding().cycle_gamma(ctx) == pytest.approx(2.0 + math.sqrt(3.0), rel=1e-6)
    assert UHerding(zero_distances="exclude").cycle_gamma(ctx) == pytest.approx(2 + math.sqrt(3))


def test_gamma_with_duplicated_labeled_points():
    # (0, 7) and (0, 2) coincide after normalisation
    ctx = bandwidth_context([[3.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 7.0], [0.0, 2.0]])
    assert UHerding().cycle_gamma(ctx) == 1.0  # published: d_min = 0 → γ = 1
    assert UHerding(zero_distances="exclude").cycle_gamma(ctx) == pytest.approx(2 + math.sqrt(3))


def test_gamma_falls_back_to_one_without_a_labeled_pair():
    ctx = bandwidth_context([[3.0, 0.0]])
    assert UHerding().cycle_gamma(ctx) == 1.0
    assert UHerding(gamma=4.0).cycle_gamma(ctx) == 4.0


def test_uherding_without_labels_is_maxherding():
    ctx, cand = make_context(n=150, n_labeled=0, seed=5)
    a = UHerding().select(ctx, cand, 10, np.random.default_rng(0))
    b = MaxHerding().select(ctx, cand, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)


def test_all_zero_uncertainty_falls_back_to_uniform_weights():
    # A tiny temperature saturates the probabilities: u = 0 everywhere, so u ≡ 1 is used.
    ctx, cand = make_context(n=150, n_labeled=10, seed=6)
    a = UHerding(temperature=1e-6, gamma=1.0).select(ctx, cand, 10, np.random.default_rng(0))
    b = MaxHerding().select(ctx, cand, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- scikit-activeml
@pytest.mark.parametrize("n_labeled", [0, 10])
def test_maxherding_matches_scikit_activeml(n_labeled):
    ctx, cand = make_context(n=250, d=8, n_labeled=n_labeled, seed=12)
    sub = cand[::2]
    ours = MaxHerding().select(ctx, sub, 15, np.random.default_rng(0))
    theirs = skal_maxherding(ctx.X, None, ctx.labeled, ctx.labels, sub, 15, seed=0)
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "strategy, params",
    [
        (MaxHerding, {"gain": "transposed"}),
        (MaxHerding, {"gamma": 0.0}),
        (MaxHerding, {"gamma": "auto"}),
        (MaxHerding, {"memory_budget_mb": 0}),
        (UHerding, {"gain": "dal"}),
        (UHerding, {"uncertainty": "bald"}),
        (UHerding, {"temperature": -1.0}),
        (UHerding, {"temperature": "auto"}),
        (UHerding, {"temperature_grid": []}),
        (UHerding, {"val_fraction": 1.0}),
        (UHerding, {"temperature_split": "kfold"}),
        (UHerding, {"zero_distances": "keep"}),
        (UHerding, {"gamma": -2.0}),
        (UHerding, {"ece_bins": 0}),
    ],
)
def test_bad_parameters_raise_config_error(strategy, params):
    ctx, cand = make_context(n=60, n_labeled=6, seed=0)
    with pytest.raises(ConfigError):
        strategy(**params).select(ctx, cand, 5, np.random.default_rng(0))


def test_kept_kernel_equals_the_full_product_and_feeds_the_initial_gains():
    # The kept kernel is built from upper block rows of the Gram matrix mirrored into the lower
    # triangle; every entry must be the one of the full product F @ F.T with the same exponent
    # (n = 1100 spans two Gram block rows of 1024, so the mirrored part is exercised), and the
    # initial gains computed while building it must equal a separate pass over the kernel.
    from refine.strategies import _herding as H

    rng = np.random.default_rng(5)
    F = rng.standard_normal((1100, 24)).astype(np.float32)
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F[7] = F[1000]  # a duplicate across the block boundary: its kernel value is exactly 1
    gamma = 2.5
    sq = H.sq_norms(F)
    ref = H.rbf_block(F, sq, F, sq, gamma)
    np.fill_diagonal(ref, 1.0)
    seen = []
    kernel = H.RBFKernel(F, gamma, 512.0, on_rows=lambda rows, blk: seen.append(rows.start))
    assert kernel.stored
    # Bit for bit where BLAS sums each entry in the same order whatever the product's shape
    # (the Intel machines of sessions 9-11); OpenBLAS's kernels on session 12's AMD EPYC pick
    # their code path by shape (1024 vs 1100 rows), so there ~1 % of the entries differ from the
    # full product's by an ulp of the dot product (an ulp or a few in the kernel).
    np.testing.assert_allclose(kernel.K, ref, rtol=1e-5, atol=0)
    assert kernel.K[7, 1000] == kernel.K[1000, 7] == 1.0
    assert seen == list(range(0, 1100, H._CACHE_ROWS))
    u = rng.uniform(0.1, 1.0, 1100).astype(np.float32)
    m0 = rng.uniform(0.0, 0.5, 1100).astype(np.float32)
    for gain in H.GAINS:
        g = np.empty(1100)
        gains = H._Gains(u, gain)
        kernel = H.RBFKernel(
            F,
            gamma,
            512.0,
            on_rows=lambda rows, blk, g=g, gains=gains: g.__setitem__(
                rows, gains.of_rows(blk, rows, m0, out=gains._buffer(rows.stop - rows.start))
            ),
        )
        gains.kernel = kernel
        np.testing.assert_array_equal(g, gains.all(m0))
        # and against the formula written out
        T = np.maximum(ref - (m0[None, :] if gain == "paper" else m0[:, None]), 0.0)
        expect = (T * (u[None, :] if gain == "paper" else 1.0)).sum(1) / 1100
        if gain == "published":
            expect = expect * u
        np.testing.assert_allclose(g, expect, rtol=1e-5)
