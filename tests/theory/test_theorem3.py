"""Theorem 3 of Huseljic et al. (arXiv 2511.22344): the counterexample and the corrected claim."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from refine.seeding import child_rng
from theory import theorem3 as T3
from theory.bounds import theorem1_exact_np

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

values = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=10)


@st.composite
def pools(draw):
    """(v, probs, q, m): a pool with n values and n_A probability rows over the full space."""
    v = np.array(draw(values))
    n = v.size
    n_a = draw(st.integers(min_value=1, max_value=12))
    probs = np.array(
        draw(
            st.lists(
                st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n),
                min_size=n_a,
                max_size=n_a,
            )
        )
    )
    q = draw(st.floats(min_value=1e-3, max_value=1.0))
    m = draw(st.integers(min_value=1, max_value=30))
    return v, probs, q, m


@SETTINGS
@given(pools())
def test_identity_E_r_minus_mean_is_cov_over_mean_pi(pool):
    v, probs, q, m = pool
    s = T3.summarize_pool(v, probs, q, m)
    assume(s.pi.mean() > 1e-9)  # E_r is undefined when the next pool is surely empty
    assert abs(s.identity_residual) <= 1e-9 * max(1.0, abs(s.gap))


@SETTINGS
@given(pools())
def test_similarly_ordered_probabilities_never_decrease_the_expected_value(pool):
    """Corrected Theorem 3: p_(.,a) similarly ordered with v for every a  =>  E_r >= Vbar."""
    v, probs, q, m = pool
    s = T3.summarize_pool(v, T3.similarly_ordered(v, probs), q, m)
    assume(s.pi.sum() > 1e-9)
    assert s.e_r >= s.v_bar - 1e-12


@SETTINGS
@given(v=values, seed=st.integers(0, 2**16))
def test_similarly_ordered_also_holds_with_ties_in_value(v, seed):
    """Ties in v leave the order of p free among tied instances; Chebyshev still applies."""
    v = np.round(np.array(v), 1)  # force ties
    probs = child_rng(seed, "p").random((3, v.size))
    s = T3.summarize_pool(v, T3.similarly_ordered(v, probs), 0.4, 11)
    assert s.e_r >= s.v_bar - 1e-12


def test_similarly_ordered_keeps_each_strategys_probabilities():
    v = np.array([0.3, 0.1, 0.9, 0.5])
    p = np.array([[0.4, 0.3, 0.2, 0.1], [0.0, 1.0, 0.5, 0.25]])
    so = T3.similarly_ordered(v, p)
    assert np.allclose(np.sort(so, axis=1), np.sort(p, axis=1))
    order = np.argsort(v)
    assert np.all(np.diff(so[:, order], axis=1) >= 0)


def test_constructed_counterexample_violates_theorem3_as_stated():
    ce = T3.construct_counterexample(q=0.4, m=11, n_a=2)
    assert np.all(ce.corr_p_v > 0)  # the paper's assumption holds for every strategy ...
    assert ce.e_r < ce.v_bar  # ... yet the survival-weighted value decreases
    assert ce.cov_pi_v < 0
    # With one draw of one strategy survival is linear in p and the same pool is fine.
    lin = T3.summarize_pool(ce.v, ce.probs[:1], 0.4, 1)
    assert lin.e_r >= lin.v_bar


@pytest.mark.parametrize("n_a,m", [(1, 2), (1, 11), (2, 1), (2, 11)])
def test_search_finds_counterexamples_and_none_after_similar_ordering(n_a, m):
    res = T3.search_counterexamples(child_rng(0, "search", n_a, m), 4_000, n_a=n_a, q=0.4, m=m)
    assert res.n_eligible > 100
    assert res.n_violations > 0
    assert res.n_similarly_ordered_violations == 0
    w = res.worst
    assert w is not None and np.all(w.corr_p_v > 0) and w.e_r < w.v_bar


def test_no_counterexample_when_survival_is_linear_in_p():
    """n_A = m = 1: pi = q p, so Cov(pi, v) = q Cov(p, v) > 0 -- the paper's claim holds."""
    res = T3.search_counterexamples(child_rng(0, "linear"), 4_000, n_a=1, q=0.4, m=1)
    assert res.n_eligible > 100 and res.n_violations == 0


def test_independent_enumeration_matches_brute_force():
    v = np.array([0.1, 0.7, 0.4])
    pi = np.array([0.2, 0.9, 0.5])
    num = den = 0.0
    for mask in itertools.product([0, 1], repeat=3):
        mask = np.array(mask, bool)
        pr = np.prod(np.where(mask, pi, 1 - pi))
        if mask.any():
            num += pr * v[mask].mean()
            den += pr
    mean, p_empty = T3.expected_pool_mean_independent(v, pi)
    assert mean == pytest.approx(num / den)
    assert p_empty == pytest.approx(np.prod(1 - pi))


def test_E_r_differs_from_expected_pool_mean_on_small_pools():
    """E_r (ratio of expectations) is not E[Vbar(P_r)]: the gap is resolvable at n = 4 and
    shrinks with n; the Monte Carlo of the real round agrees with the independent-survival
    enumeration to within the interval."""
    gaps = []
    for n in (4, 16):
        v = np.linspace(0, 1, n)
        probs = np.stack([0.02 + 0.3 * v, 0.02 + 0.3 * v**3])
        g = T3.pool_mean_gap(v, probs, 0.4, 11, 20_000, child_rng(5, "gap", n))
        assert g.mc_lo <= g.mc_mean <= g.mc_hi
        gaps.append(g)
    assert gaps[0].mc_lo > gaps[0].e_r  # E[Vbar] > E_r, beyond the 1e-6 interval
    assert gaps[0].gap > gaps[1].gap > 0
    assert gaps[0].mc_lo - 0.01 <= gaps[0].indep_mean <= gaps[0].mc_hi + 0.01
    # Both stay above the current mean (similarly ordered probabilities).
    assert all(g.mc_lo > g.v_bar for g in gaps)


def test_pi_of_summary_is_theorem1_exact():
    v = np.array([0.0, 1.0])
    p = np.array([[0.2, 0.7], [0.1, 0.1]])
    s = T3.summarize_pool(v, p, 0.5, 3)
    assert np.allclose(s.pi, theorem1_exact_np(p.T, 0.5, 3))
