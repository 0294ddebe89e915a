"""Theorems 1-2 of Huseljic et al. (arXiv 2511.22344): symbolic claims and their numeric twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import bounds as B
from theory import examples

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

qs = st.floats(min_value=1e-3, max_value=1.0)
ps = st.floats(min_value=0.0, max_value=1.0)
ms = st.integers(min_value=1, max_value=30)
nas = st.integers(min_value=1, max_value=12)
Rs = st.integers(min_value=1, max_value=10)


# ------------------------------------------------------------------------------ symbolic claims
def test_every_monotonicity_certificate_is_proven_by_sympy():
    certs = B.monotonicity_certificates()
    assert len(certs) >= 12
    for c in certs:
        assert c.proven, c.claim
        # The certified form contains only positive symbols: its sign is decided, not assumed.
        assert c.certified_form.is_nonnegative if c.sign > 0 else c.certified_form.is_nonpositive


def test_certificates_cover_m_alpha_and_R_for_both_theorems():
    claims = " ".join(c.claim for c in B.monotonicity_certificates())
    for needle in (
        "Theorem 1 bound is non-decreasing in m",
        "Theorem 1 bound is non-decreasing in q",
        "Theorem 2 bound is non-increasing in R",
        "Theorem 2 bound is non-decreasing in m",
        "Theorem 2 bound is non-decreasing in q",
    ):
        assert needle in claims


def test_certificate_derivative_matches_the_sympy_derivative_numerically():
    # The certified form is the derivative after a change of variables; evaluate both at a point
    # (u = 1 - q p = 1/(1+w)) to make sure the rewrite did not change the expression.
    c = next(
        c
        for c in B.monotonicity_certificates()
        if c.claim.endswith("in m") and "Theorem 1" in c.claim
    )
    qv, pv, mv = 0.4, 0.5, 11
    w = 1 / (1 - qv * pv) - 1
    lhs = float(c.derivative.subs({B.Q: qv, B.P: pv, B.M: mv}))
    rhs = float(c.certified_form.subs({sp.Symbol("w", positive=True): w, B.M: mv}))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    assert lhs > 0


def test_limits():
    lim = B.limits()
    assert lim["theorem2_bound_R_to_oo"] == 0
    assert lim["theorem1_compound_R_to_oo"] == 0
    assert lim["theorem1_bound_m_to_oo"] == 1
    assert lim["theorem2_round_m_to_oo"] == 1
    assert lim["theorem2_bound_eps_to_0"] == 0


def test_theorem2_series_and_condition_are_derived():
    a = B.theorem2_approximation()
    k = B.N_A * B.M
    # Leading term of the per-round bound is n_A m q eps; next one is -C(K,2) (q eps)^2.
    assert (
        sp.simplify(a.round_series - (k * B.Q * B.EPS - k * (k - 1) / 2 * (B.Q * B.EPS) ** 2)) == 0
    )
    assert sp.simplify(a.first_order_relative_error - B.R * (k - 1) * B.Q * B.EPS / 2) == 0
    assert isinstance(a.condition, sp.Le)


def test_theorem3_identity_symbolic():
    assert B.theorem3_identity()
    for n in (2, 3, 5):
        assert B.theorem3_identity(n)


# ------------------------------------------------------------------------------ numeric twins
def _hp(expr: sp.Expr, values: dict) -> float:
    """Evaluate with 60-digit arithmetic (plain float subs loses 1 - (1 - tiny)^k)."""
    return float(expr.evalf(40, subs={k: sp.Float(v, 60) for k, v in values.items()}))


@SETTINGS
@given(q=qs, p1=ps, p2=ps, m=ms)
def test_numpy_twins_equal_sympy(q, p1, p2, m):
    p1s, p2s = sp.symbols("p_1 p_2", positive=True)
    exact = _hp(B.theorem1_exact([p1s, p2s]), {p1s: p1, p2s: p2, B.Q: q, B.M: m})
    assert float(B.theorem1_exact_np([p1, p2], q, m)) == pytest.approx(exact, rel=1e-9, abs=1e-15)
    low = _hp(B.theorem1_lower(), {B.P: max(p1, p2), B.Q: q, B.M: m})
    assert float(B.theorem1_lower_np(max(p1, p2), q, m)) == pytest.approx(low, rel=1e-9, abs=1e-15)


@SETTINGS
@given(q=qs, eps=ps, m=ms, na=nas, R=Rs)
def test_theorem2_numpy_twin_equals_sympy(q, eps, m, na, R):
    sym = _hp(B.theorem2_bound(), {B.EPS: eps, B.Q: q, B.M: m, B.N_A: na, B.R: R})
    assert float(B.theorem2_bound_np(eps, q, m, na, R)) == pytest.approx(sym, rel=1e-9, abs=1e-30)


@SETTINGS
@given(q=qs, p=st.lists(ps, min_size=1, max_size=12), m=ms)
def test_exact_survival_dominates_theorem1_bound(q, p, m):
    p = np.array(p)
    exact = B.theorem1_exact_np(p, q, m)
    assert exact >= B.theorem1_lower_np(p.max(), q, m) - 1e-12
    # ... and never exceeds Theorem 2's bound with eps = max p (the same instance seen as
    # eps-uninformative): the two theorems bracket the exact survival.
    assert exact <= B.theorem2_round_np(p.max(), q, m, p.size) + 1e-12


# ------------------------------------------------------------------------------ monotonicity
@SETTINGS
@given(q=qs, p=ps, m=ms)
def test_theorem1_bound_monotone_in_m_and_q(q, p, m):
    b = B.theorem1_lower_np(p, q, m)
    assert B.theorem1_lower_np(p, q, m + 1) >= b - 1e-15
    assert B.theorem1_lower_np(p, min(1.0, q * 1.1), m) >= b - 1e-15


@SETTINGS
@given(q=qs, eps=st.floats(min_value=1e-6, max_value=1.0), m=ms, na=nas, R=Rs)
def test_theorem2_bound_monotone_and_geometric(q, eps, m, na, R):
    b = B.theorem2_bound_np(eps, q, m, na, R)
    per = B.theorem2_round_np(eps, q, m, na)
    assert B.theorem2_bound_np(eps, q, m, na, R + 1) <= b + 1e-300
    # Geometric: the ratio of consecutive rounds is the per-round bound.
    if b > 1e-250:
        assert B.theorem2_bound_np(eps, q, m, na, R + 1) / b == pytest.approx(per, rel=1e-9)
    assert B.theorem2_bound_np(eps, q, m + 1, na, R) >= b * (1 - 1e-12)
    assert B.theorem2_bound_np(eps, min(1.0, 1.1 * q), m, na, R) >= b * (1 - 1e-12)


# ------------------------------------------------------------------------------ approximation
def _ratio(eps, q, m, na, R) -> float:
    return float(B.theorem2_bound_np(eps, q, m, na, R) / B.theorem2_approx_np(eps, q, m, na, R))


def _stated(expr: sp.Expr, eps, q, m, na, R) -> float:
    """The code's symbolic statement evaluated at a point (60-digit arithmetic)."""
    return _hp(expr, {B.EPS: eps, B.Q: q, B.M: m, B.N_A: na, B.R: R})


def test_bracket_fails_without_its_condition_worked_by_hand():
    """n_A = m = 2 (K = 4), q = eps = 1, R = 2: the bound is [1 - 0^4]^2 = 1, the approximation
    (4 * 1)^2 = 16, so bound/approx = 1/16; the Bonferroni base 1 - 3/2 = -1/2 squared is 1/4 >
    1/16. The bracket the code states must not claim 1/4 there."""
    eps, q, m, na, R = 1.0, 1.0, 2, 2, 2
    assert _ratio(eps, q, m, na, R) == pytest.approx(1 / 16, rel=1e-12)
    a = B.theorem2_approximation()
    assert _stated(a.ratio_lower, eps, q, m, na, R) <= 1 / 16
    assert _stated(a.ratio_upper, eps, q, m, na, R) >= 1 / 16
    assert _stated(a.ratio_lower_base, eps, q, m, na, R) == pytest.approx(-0.5)
    assert not bool(a.ratio_lower_condition.subs({B.EPS: eps, B.Q: q, B.M: m, B.N_A: na}))
    # The always-positive exponential side: (1 - e^-4) / 4 = 0.2454 per round, squared 0.0602.
    low_exp = _stated(a.ratio_lower_exp, eps, q, m, na, R)
    assert low_exp == pytest.approx(((1 - math.exp(-4)) / 4) ** 2, rel=1e-12)
    assert low_exp <= 1 / 16


def test_bracket_fails_without_its_condition_at_the_defaults():
    """n_A = 9, m = 11, q = 0.4, eps = 0.1, R = 2: (K - 1) q eps = 3.92 > 2, base = -0.96,
    base^2 = 0.9216 while bound/approx = 0.0615."""
    eps, q, m, na, R = 0.1, 0.4, 11, 9, 2
    ratio = _ratio(eps, q, m, na, R)
    assert ratio == pytest.approx(0.0615, abs=5e-5)
    a = B.theorem2_approximation()
    assert (
        _stated(a.ratio_lower, eps, q, m, na, R)
        <= ratio
        <= _stated(a.ratio_upper, eps, q, m, na, R)
    )
    lo, hi = B.theorem2_ratio_bracket_np(eps, q, m, na, R)
    assert lo <= ratio <= hi
    assert hi == pytest.approx(1 / (99 * 0.04) ** 2)  # the bound is a probability: rho <= 1/(Ky)


@SETTINGS
@given(
    q=qs,
    eps=st.floats(min_value=1e-9, max_value=1.0),
    m=ms,
    na=nas,
    R=st.integers(min_value=1, max_value=10),
)
def test_stated_bracket_holds_everywhere(q, eps, m, na, R):
    """The code's symbolic bracket (and its numpy twin) holds at every point, negative base and
    even R included; under the condition its Bonferroni side is (1 - (K-1) q eps / 2)^R."""
    a = B.theorem2_approximation()
    ratio = _ratio(eps, q, m, na, R)
    tol = 1e-9
    assert _stated(a.ratio_lower, eps, q, m, na, R) <= ratio * (1 + tol)
    assert _stated(a.ratio_lower_exp, eps, q, m, na, R) <= ratio * (1 + tol)
    assert ratio <= _stated(a.ratio_upper, eps, q, m, na, R) * (1 + tol)
    lo, hi = B.theorem2_ratio_bracket_np(eps, q, m, na, R)
    assert lo <= ratio * (1 + tol) and ratio <= hi * (1 + tol)
    base = 1 - (na * m - 1) * q * eps / 2
    if base >= 0:
        assert _stated(a.ratio_lower, eps, q, m, na, R) == pytest.approx(base**R, rel=1e-9)
    else:
        assert _stated(a.ratio_lower, eps, q, m, na, R) == 0
        assert ratio < 0.5**R  # without the condition the approximation is off by > 2^R


@SETTINGS
@given(q=qs, m=ms, na=nas, R=Rs, scale=st.floats(min_value=1e-6, max_value=1e-3))
def test_series_agrees_with_numeric_evaluation(q, m, na, R, scale):
    """The sympy series of bound/approx, 1 - R (K-1) y / 2, matches numerics to O(y^2)."""
    k = na * m
    eps = scale / (k * q)  # keeps y = q eps small relative to 1/K
    ratio = B.theorem2_bound_np(eps, q, m, na, R) / B.theorem2_approx_np(eps, q, m, na, R)
    series = B.theorem2_approximation().ratio_series
    first = float(series.subs({B.EPS: eps, B.Q: q, B.M: m, B.N_A: na, B.R: R}))
    y = q * eps
    assert abs(ratio - first) <= (R * k * y) ** 2 + 1e-12


def test_condition_predicts_accuracy_of_the_paper_approximation():
    # With the defaults the first-order error R (n_A m - 1) alpha eps / 2 is 0.098 at eps = 1e-3:
    ex = examples.theorem2_example()
    rel = 1 - ex.bound / ex.approx
    assert rel == pytest.approx(ex.first_order_rel_error, rel=0.1)
    # ... and the approximation is useless (> 1) once n_A m alpha eps > 1.
    eps = 1.5 / (9 * 11 * 0.4)
    assert B.theorem2_approx_np(eps, 0.4, 11, 9, 5) > 1 > B.theorem2_bound_np(eps, 0.4, 11, 9, 5)


# ------------------------------------------------------------------------------ examples
def test_numerical_examples_are_computed_from_stated_parameters():
    e1 = examples.theorem1_example()
    assert e1.bound == pytest.approx(1 - (1 - e1.alpha * e1.p_margin) ** e1.m)
    assert e1.exact == pytest.approx(
        1 - (1 - e1.alpha * e1.p_margin) ** e1.m * (1 - e1.alpha * e1.p_typiclust) ** e1.m
    )
    assert e1.exact >= e1.bound
    e2 = examples.theorem2_example()
    k = e2.n_a * e2.m
    assert e2.per_round == pytest.approx(1 - (1 - e2.alpha * e2.eps) ** k)
    assert e2.bound == pytest.approx(e2.per_round**e2.rounds)
    assert e2.approx == pytest.approx((k * e2.alpha * e2.eps) ** e2.rounds)
    assert e2.bound < 1e-7  # "bounded below" a small number after 5 rounds


def test_round1_inclusion_and_random_floor():
    assert examples.round1_inclusion(50_000) == (0.4, 0.1)
    assert examples.round1_inclusion(4_838)[1] == 1.0
    fl = examples.random_member_floor(50_000, 10)
    assert fl.max_pool_after_round1 == 990
    assert fl.floor_later_rounds == pytest.approx(1 - (1 - 1 / 99) ** 99)
    assert fl.floor_later_rounds > 1 - 1 / math.e - 0.01
