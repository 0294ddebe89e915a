"""BAIT: the incremental greedy against a from-scratch evaluation of the trace objective."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from refine.errors import ConfigError
from refine.strategies.bait import Bait, FisherGreedy, _subtract_outer, fisher_factors
from tests.conftest import make_context, raw_batch


# ---------------------------------------------------------------------------------- brute force
def explicit_embeddings(probas, H, grad_likelihood, topk=None, normalize=True):
    """The reference code's per-sample Fisher embeddings, built explicitly (n × rows × P)."""
    p = np.asarray(probas, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    n, K = p.shape
    if grad_likelihood == "binary_cross_entropy":
        top = p.max(axis=1)
        # rows √p̂·(1−p̂)·h and √(1−p̂)·(−p̂)·h (the 2×D embedding of Fast Fishing)
        a = np.sqrt(top) * (1 - top)
        b = np.sqrt(1 - top) * (-top)
        return np.stack([a[:, None] * H, b[:, None] * H], axis=1)
    k = K if topk is None else topk
    out = np.zeros((n, k, K * H.shape[1]))
    for x in range(n):
        order = np.argsort(-p[x], kind="stable")[:k]
        w = p[x, order]
        if normalize:
            w = w / w.sum()
        for j, c in enumerate(order):
            e = np.zeros(K)
            e[c] = 1.0
            out[x, j] = np.sqrt(w[j]) * np.kron(e - p[x], H[x])
    return out


def trace_objective(V_cand, V_lab, selected, batch_size, lmb):
    """``tr((λI + n_L/(n_L+b)·F_L + Σ_S Ĩ(x))⁻¹ F)`` from scratch (means over cand ∪ L and L)."""
    nL = V_lab.shape[0]
    P = V_cand.shape[2]
    fisher = lambda V: np.einsum("nip,niq->pq", V, V)  # noqa: E731
    F = (fisher(V_cand) + fisher(V_lab)) / (V_cand.shape[0] + nL)
    FL = fisher(V_lab) / nL if nL else np.zeros((P, P))
    M = lmb * np.eye(P) + nL / (nL + batch_size) * FL
    Vs = V_cand[list(selected)] * np.sqrt(batch_size / (nL + batch_size))
    M = M + fisher(Vs) if len(selected) else M
    return float(np.trace(np.linalg.solve(M, F)))


def tiny_problem(seed=0, n=12, d=3, k=3, n_labeled=4):
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(n + n_labeled, d))
    logits = rng.normal(scale=2.0, size=(n + n_labeled, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return H[:n], p[:n], H[n:], p[n:]


def make_engine(H, p, HL, pL, batch_size, lmb, grad_likelihood, topk=None):
    """A FisherGreedy built from the module's functions, with F and M₀ from the explicit sums."""
    R = fisher_factors(p, grad_likelihood, topk)
    RL = fisher_factors(pL, grad_likelihood, topk)
    Vc = explicit_embeddings(p, H, grad_likelihood, topk)
    VL = explicit_embeddings(pL, HL, grad_likelihood, topk)
    if grad_likelihood == "binary_cross_entropy":
        # the engine works with the equivalent single row √(p̂(1−p̂))·h
        Vc1 = R[:, :, 0:1] * H[:, None, :]
        VL1 = RL[:, :, 0:1] * HL[:, None, :]
        for V2, V1 in [(Vc, Vc1), (VL, VL1)]:
            np.testing.assert_allclose(
                np.einsum("nip,niq->npq", V2, V2), np.einsum("nip,niq->npq", V1, V1), atol=1e-12
            )
    nL = HL.shape[0]
    F = (np.einsum("nip,niq->pq", Vc, Vc) + np.einsum("nip,niq->pq", VL, VL)) / (len(H) + nL)
    FL = np.einsum("nip,niq->pq", VL, VL) / nL
    M0 = lmb * np.eye(F.shape[0]) + nL / (nL + batch_size) * FL
    eng = FisherGreedy(H, R, F, np.linalg.inv(M0), batch_size / (nL + batch_size), max_rows=5)
    return eng, Vc, VL


@pytest.mark.parametrize(
    "grad_likelihood,topk",
    [("binary_cross_entropy", None), ("cross_entropy", None), ("cross_entropy", 2)],
)
def test_incremental_scores_equal_from_scratch_trace(grad_likelihood, topk):
    H, p, HL, pL = tiny_problem(seed=1)
    b, lmb = 3, 0.5
    eng, Vc, VL = make_engine(H, p, HL, pL, b, lmb, grad_likelihood, topk)
    selected: list[int] = []
    # forward: the score of x is the decrease of the trace when x joins S
    for _ in range(5):
        base = trace_objective(Vc, VL, selected, b, lmb)
        brute = np.array(
            [base - trace_objective(Vc, VL, selected + [x], b, lmb) for x in range(len(H))]
        )
        np.testing.assert_allclose(eng.scores(+1.0), brute, rtol=1e-7, atol=1e-10)
        brute[selected] = -np.inf
        x = int(np.argmax(brute))
        selected.append(x)
        eng.update(x, +1.0)
    # backward: the removal score is the increase of the trace when x leaves S
    kept = np.array(selected)
    for _ in range(2):
        base = trace_objective(Vc, VL, kept.tolist(), b, lmb)
        brute = np.array(
            [trace_objective(Vc, VL, [y for y in kept if y != x], b, lmb) - base for x in kept]
        )
        np.testing.assert_allclose(eng.scores(-1.0, kept), brute, rtol=1e-7, atol=1e-10)
        j = int(np.argmin(brute))
        x = int(kept[j])
        kept = np.delete(kept, j)
        eng.update(x, -1.0, kept)


@pytest.mark.parametrize("grad_likelihood", ["binary_cross_entropy", "cross_entropy"])
def test_forward_greedy_equals_brute_force_argmin(grad_likelihood):
    """oversampling=1: each step adds the candidate minimising the from-scratch objective."""
    H, p, HL, pL = tiny_problem(seed=2, n=9)
    b, lmb = 4, 1.0
    eng, Vc, VL = make_engine(H, p, HL, pL, b, lmb, grad_likelihood)
    chosen = eng.run(b, n_forward=b)
    selected: list[int] = []
    for _ in range(b):
        objs = [
            trace_objective(Vc, VL, selected + [x], b, lmb) if x not in selected else np.inf
            for x in range(len(H))
        ]
        selected.append(int(np.argmin(objs)))
    assert chosen.tolist() == selected


def test_forward_backward_equals_brute_force_pruning():
    H, p, HL, pL = tiny_problem(seed=3, n=10)
    b, lmb = 3, 1.0
    eng, Vc, VL = make_engine(H, p, HL, pL, b, lmb, "binary_cross_entropy")
    chosen = eng.run(b, n_forward=2 * b)
    selected: list[int] = []
    for _ in range(2 * b):
        objs = [
            trace_objective(Vc, VL, selected + [x], b, lmb) if x not in selected else np.inf
            for x in range(len(H))
        ]
        selected.append(int(np.argmin(objs)))
    while len(selected) > b:
        objs = [trace_objective(Vc, VL, [y for y in selected if y != x], b, lmb) for x in selected]
        del selected[int(np.argmin(objs))]
    assert chosen.tolist() == selected


def test_greedy_batch_is_optimal_on_a_trivial_pool():
    """On a pool where brute force over all subsets is cheap, report the greedy gap (sanity)."""
    H, p, HL, pL = tiny_problem(seed=4, n=7, d=2)
    b, lmb = 2, 1.0
    eng, Vc, VL = make_engine(H, p, HL, pL, b, lmb, "binary_cross_entropy")
    chosen = eng.run(b, n_forward=2 * b)
    best = min(
        trace_objective(Vc, VL, list(S), b, lmb) for S in itertools.combinations(range(7), b)
    )
    got = trace_objective(Vc, VL, chosen.tolist(), b, lmb)
    assert got <= best * 1.05  # greedy + pruning is near the optimum on this pool
    assert got >= best - 1e-12


def test_strategy_matches_engine_built_from_scratch():
    """The strategy's F, F_L, M₀ and rescaling give the same batch as the explicit construction."""
    ctx, cand = make_context(n=120, d=5, k=4, n_labeled=15, seed=3, epochs=20)
    sub = cand[:40]
    b = 5
    H = ctx.X[sub].astype(np.float64)
    HL = ctx.X[ctx.labeled].astype(np.float64)
    eng, _, _ = make_engine(
        H, ctx.probas(sub), HL, ctx.probas(ctx.labeled), b, 1.0, "binary_cross_entropy"
    )
    expected = sub[eng.run(b, 2 * b)]
    got = Bait().select(ctx, sub, b, np.random.default_rng(0))
    np.testing.assert_array_equal(got, expected)


def test_topk_strategy_selects_a_valid_batch():
    ctx, cand = make_context(n=150, d=4, k=3, n_labeled=12, seed=4, epochs=20)
    bait = Bait(grad_likelihood="cross_entropy", expectation_topk=2)
    a = raw_batch(bait, ctx, cand, 6, np.random.default_rng(0))
    assert a.size == 6 and np.unique(a).size == 6 and np.isin(a, cand).all()


def test_dal_fisher_scaling_weights_chunks():
    from refine.strategies.bait import row_weights

    w = row_weights(70, "dal", 32)
    np.testing.assert_allclose(w[:32], 1 / 32)
    np.testing.assert_allclose(w[64:], 1 / 6)
    np.testing.assert_allclose(row_weights(5, "mean", 32), 0.2)
    ctx, cand = make_context(n=200, d=4, k=3, n_labeled=40, seed=5, epochs=20)
    a = raw_batch(Bait(fisher_scaling="dal"), ctx, cand, 5, np.random.default_rng(0))
    assert a.size == 5 and np.unique(a).size == 5 and np.isin(a, cand).all()


def test_fewer_candidates_than_twice_the_batch():
    ctx, cand = make_context(n=100, d=4, k=3, n_labeled=10, seed=6, epochs=20)
    chosen = raw_batch(Bait(), ctx, cand[:15], 10, np.random.default_rng(0))
    assert chosen.size == 10 and np.unique(chosen).size == 10 and np.isin(chosen, cand[:15]).all()


@pytest.mark.parametrize(
    "params,match",
    [
        ({"lmb": 0}, "lmb"),
        ({"oversampling": 0.5}, "oversampling"),
        ({"grad_likelihood": "mse"}, "grad_likelihood"),
        ({"expectation_topk": 2}, "expectation_topk"),
        ({"grad_likelihood": "cross_entropy", "expectation_topk": 9}, "expectation_topk"),
        ({"fisher_scaling": "sum"}, "fisher_scaling"),
        ({"precision": "float16"}, "precision.*auto, float32, float64"),
        ({"grad_likelihood": "cross_entropy", "memory_budget_mb": 1e-4}, "memory_budget_mb"),
    ],
)
def test_bad_parameters_raise_config_errors(params, match):
    ctx, cand = make_context(n=60, d=4, k=3, n_labeled=6, seed=7, epochs=5)
    with pytest.raises(ConfigError, match=match):
        Bait(**params).select(ctx, cand, 3, np.random.default_rng(0))


@pytest.mark.parametrize(
    "grad_likelihood,topk", [("binary_cross_entropy", None), ("cross_entropy", 2)]
)
def test_fisher_matrix_and_quadratic_forms_equal_explicit_sums(grad_likelihood, topk):
    from refine.strategies.bait import fisher_matrix, quad_forms

    H, p, _, _ = tiny_problem(seed=8, n=11, d=3, k=4)
    R = fisher_factors(p, grad_likelihood, topk)
    V = R[:, :, :, None] * H[:, None, None, :]  # the k × K'D embeddings, built explicitly
    V = V.reshape(len(H), R.shape[1], -1)
    w = np.random.default_rng(0).random(len(H))
    explicit = np.einsum("n,nip,niq->pq", w, V, V)
    np.testing.assert_allclose(fisher_matrix(H, R, w, max_rows=4), explicit, atol=1e-12)
    rng = np.random.default_rng(1)
    mat = rng.normal(size=explicit.shape)
    mat = mat + mat.T
    np.testing.assert_allclose(
        quad_forms(H, R, mat, 0.3, max_rows=4),
        0.3 * np.einsum("nip,pq,njq->nij", V, mat, V),
        atol=1e-10,
    )


# ---------------------------------------------------------------------------------- precision
def test_row_dtype_auto_switches_at_the_documented_size():
    from refine.strategies.bait import FLOAT32_ROWS_FROM, row_dtype

    assert FLOAT32_ROWS_FROM == 2**20
    assert row_dtype("auto", 2**20 // 384, 384) is np.float64  # 2730·384 < 2²⁰
    assert row_dtype("auto", 2**20 // 384 + 1, 384) is np.float32
    assert row_dtype("auto", 1024, 1024) is np.float32  # exactly 2²⁰
    assert row_dtype("auto", 1347, 64) is np.float64  # digits
    assert row_dtype("float64", 10**6, 384) is np.float64
    assert row_dtype("float32", 3, 2) is np.float32


def _greedy_pair(grad_likelihood, seed=11, n=400, d=24, b=8):
    ctx, cand = make_context(n=n + 40, d=d, k=4, n_labeled=40, seed=seed, epochs=20)
    bait = Bait(grad_likelihood=grad_likelihood)
    engines = {}
    for precision in ("float64", "float32"):
        bait.precision = precision
        engines[precision] = bait._engine(ctx, cand, b)
    return engines, b


@pytest.mark.parametrize("grad_likelihood", ["binary_cross_entropy", "cross_entropy"])
def test_float32_rows_track_float64_to_single_precision(grad_likelihood):
    """Step by step (the same forced picks), S, T and the scores agree to single precision.

    Measured on this case: 1e-7 to 6e-7 of the largest entry; the bound asserted is 1e-5.
    """
    engines, b = _greedy_pair(grad_likelihood)
    e64, e32 = engines["float64"], engines["float32"]
    assert e64.H_rows.dtype == np.float64 and e64.H_rows is e64.H
    assert e32.H_rows.dtype == np.float32 and e32.H.dtype == np.float64
    picks = np.argsort(-e64.scores(+1.0))[: 2 * b]
    for i in picks:
        e64.update(int(i), +1.0)
        e32.update(int(i), +1.0)
    assert e32.S.dtype == np.float64 and e32.T.dtype == np.float64
    for a, c in [(e64.S, e32.S), (e64.T, e32.T), (e64.scores(+1.0), e32.scores(+1.0))]:
        assert np.abs(c - a).max() <= 1e-5 * np.abs(a).max()
    # the float32 products really are used: some entries differ in their last bits
    assert not np.array_equal(e32.T, e64.T)
    np.testing.assert_array_equal(e32.Minv, e64.Minv)  # M⁻¹ does not read the rows


def test_float32_step_products_obey_the_dot_product_error_bound():
    """|fl32(H·y) − H·y| ≤ (D + 2)·u·(|H|·|y|), u = 2⁻²⁴ (Higham, Thm 3.2, plus the two input
    roundings): the products the float32 steps use are single-precision dot products, no worse."""
    engines, _ = _greedy_pair("binary_cross_entropy")
    e64, e32 = engines["float64"], engines["float32"]
    rng = np.random.default_rng(3)
    y = rng.normal(size=e64.H.shape[1])
    exact = e64.H @ y
    got = (e32.H_rows @ y.astype(np.float32)).astype(np.float64)
    D, u = e64.H.shape[1], 2.0**-24
    bound = (D + 2) * u * (np.abs(e64.H) @ np.abs(y))
    assert np.all(np.abs(got - exact) <= bound)
    assert np.abs(got - exact).max() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_rows_select_the_float64_batch_without_near_ties(seed):
    ctx, cand = make_context(n=600, d=16, k=5, n_labeled=30, seed=seed, epochs=30)
    b = 10
    a = raw_batch(Bait(precision="float64"), ctx, cand, b, np.random.default_rng(0))
    c = raw_batch(Bait(precision="float32"), ctx, cand, b, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(c), np.sort(a))


def test_auto_precision_is_exactly_float64_on_small_pools_and_traced_when_float32():
    ctx, cand = make_context(n=300, d=8, k=4, n_labeled=20, seed=5, epochs=20)
    b = 6
    auto = Bait()
    picked = auto.select_with_trace(ctx, cand, b, np.random.default_rng(0))
    exact = Bait(precision="float64").select_with_trace(ctx, cand, b, np.random.default_rng(0))
    np.testing.assert_array_equal(picked.indices, exact.indices)
    assert "precision" not in picked.trace
    fast = Bait(precision="float32").select_with_trace(ctx, cand, b, np.random.default_rng(0))
    assert fast.trace["precision"] == "float32"


@pytest.mark.parametrize("D", [1, 7, 64, 65, 384])
def test_in_place_outer_update_equals_the_matrix_product_bit_for_bit(D):
    from refine.strategies.bait import _subtract_outer

    rng = np.random.default_rng(D)
    for _ in range(5):
        A = rng.normal(size=(D, D)) * 10.0 ** rng.integers(-3, 4)
        y = rng.normal(size=(D, 1))
        c = np.array([[rng.normal()]])
        expected = A - (y @ c) @ y.T
        _subtract_outer(A, y[:, 0] * c[0, 0], y[:, 0])
        np.testing.assert_array_equal(A, expected)


class _ArrayScalarsGreedy(FisherGreedy):
    """The binary update as it was before its scalar fast path: 1×1 solve and symmetrisations.

    A frozen copy of the earlier code, kept as the oracle of the bit-for-bit test below.
    """

    def update(self, i, sign, rows=slice(None)):
        if not self.binary:
            return super().update(i, sign, rows)
        Vi = self._embedding(i)
        Y = self.Minv @ Vi.T
        inner = np.eye(1) + sign * (Vi @ Y)
        C = sign * np.linalg.solve(inner, np.eye(1))
        C = (C + C.T) / 2
        FY = self.F @ Y
        Z = self.Minv @ FY
        E = Y.T @ FY
        E = (E + E.T) / 2
        H = self.H_rows[rows]
        r = self.R[rows, 0, 0] * math.sqrt(self.rho)
        a = r * (H @ Y[:, 0].astype(H.dtype, copy=False))
        z = r * (H @ Z[:, 0].astype(H.dtype, copy=False))
        c, e = C[0, 0], E[0, 0]
        self.S[rows, 0, 0] -= c * a * a
        self.T[rows, 0, 0] += (c * c * e) * (a * a) - (2.0 * c) * (z * a)
        _subtract_outer(self.Minv, Y[:, 0] * c, Y[:, 0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rows_dtype", [np.float64, np.float32])
def test_binary_scalar_update_equals_the_array_form_bit_for_bit(seed, rows_dtype):
    # forward greedy with oversampling and backward pruning: the same picks, S, T and M⁻¹
    H, p, HL, pL = tiny_problem(seed=10 + seed, n=40)
    b = 4
    eng, *_ = make_engine(H, p, HL, pL, b, 1.0, "binary_cross_entropy")
    args = (eng.H, eng.R, eng.F, eng.Minv.copy(), eng.rho, 5, rows_dtype)
    new, old = FisherGreedy(*args), _ArrayScalarsGreedy(*args)
    assert new.binary
    np.testing.assert_array_equal(new.run(b, 2 * b), old.run(b, 2 * b))
    for attr in ("S", "T", "Minv"):
        np.testing.assert_array_equal(getattr(new, attr), getattr(old, attr))


def test_binary_update_on_a_singular_step_raises_as_the_solve_did():
    H, p, HL, pL = tiny_problem(seed=3, n=10)
    eng, *_ = make_engine(H, p, HL, pL, 2, 1.0, "binary_cross_entropy")
    # v = e₀ and M⁻¹ = I exactly, so removing it gives 1 − v·M⁻¹v = 0
    eng.rho = 1.0
    eng.R[0, 0, 0] = 1.0
    eng.H[0] = 0.0
    eng.H[0, 0] = 1.0
    eng.Minv = np.eye(eng.Minv.shape[0])
    with pytest.raises(np.linalg.LinAlgError):
        _ArrayScalarsGreedy.update(eng, 0, -1.0)  # the solve's error
    with pytest.raises(np.linalg.LinAlgError):
        eng.update(0, -1.0)
