"""Theorems 1-3 of progressive filtering as sympy expressions, with numeric twins.

Reference: D. Huseljic et al., "Cleaning the Pool: Progressive Filtering of Unlabeled Pools in
Deep Active Learning", arXiv 2511.22344, Section 4 (Theorems 1-3, Definition 1) and Appendix A
(proofs), Algorithm 1. The notation below is reconstructed from the theorems' prose and the
proofs of Appendix A:

* ``q``      probability that a fixed instance of ``P_{r-1}`` is in one uniform subsample
             (``q_r = s_r / |P_{r-1}|``; the paper's idealisation is ``q = alpha``),
* ``p_a``    probability that strategy ``a`` puts the instance in its batch, given it is in the
             subsample,
* ``m``      draws (batches) per strategy and round, ``n_A`` strategies, ``R`` rounds,
* ``eps``    the epsilon of Definition 1 (``p_a <= eps`` for all strategies and rounds).

The module offers

* the expressions (:func:`theorem1_exact`, :func:`theorem1_lower`, :func:`theorem2_round`,
  :func:`theorem2_bound`, :func:`theorem2_approx`),
* the small-epsilon analysis of Theorem 2 with the condition under which ``(n_A m alpha eps)^R``
  is accurate *derived*, and the bracket of ``bound / approx`` with the condition
  ``(n_A m - 1) q eps <= 2`` under which its Bonferroni side holds
  (:func:`theorem2_approximation`, :func:`theorem2_ratio_bracket_np`),
* sign certificates for the monotonicity claims in ``m``, ``alpha`` (= ``q``) and ``R``
  (:func:`monotonicity_certificates`) and the ``R -> oo`` limits (:func:`limits`),
* Theorem 3's identity ``E_r - Vbar = Cov_emp(pi, v) / mean(pi)`` proven symbolically
  (:func:`theorem3_identity`),
* fast numpy versions of the same expressions (suffix ``_np``) used by the simulations; the tests
  check them against the sympy expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from theory.deps import require_sympy

sp = require_sympy()

__all__ = [
    "ALPHA",
    "EPS",
    "M",
    "N_A",
    "P",
    "Q",
    "R",
    "ApproximationAnalysis",
    "MonotonicityCertificate",
    "limits",
    "monotonicity_certificates",
    "theorem1_exact",
    "theorem1_exact_np",
    "theorem1_lower",
    "theorem1_lower_np",
    "theorem1_rounds_np",
    "theorem2_approx",
    "theorem2_approx_np",
    "theorem2_approximation",
    "theorem2_bound",
    "theorem2_bound_np",
    "theorem2_ratio_bracket_np",
    "theorem2_round",
    "theorem2_round_np",
    "theorem2_rounds_np",
    "theorem3_identity",
]

# --------------------------------------------------------------------------------------------
# Symbols. All are declared positive so that sympy can reason about signs; integrality of m, n_A
# and R is not needed by any derivation below (the discrete differences are stated separately).
# --------------------------------------------------------------------------------------------
Q = sp.Symbol("q", positive=True)
ALPHA = sp.Symbol("alpha", positive=True)
P = sp.Symbol("p", positive=True)
EPS = sp.Symbol("epsilon", positive=True)
M = sp.Symbol("m", positive=True)
N_A = sp.Symbol("n_A", positive=True)
R = sp.Symbol("R", positive=True)

# Auxiliary positive symbols used to re-parametrise bounded quantities: a number in (0, 1) is
# written 1/(1+w) with w > 0, which turns "u in (0,1)" into an assumption sympy understands.
_U = sp.Symbol("u", positive=True)  # u = 1 - q p  or  1 - q eps, in (0, 1)
_C = sp.Symbol("c", positive=True)  # c = 1 - u^(n_A m), in (0, 1)
_W = sp.Symbol("w", positive=True)
_K = sp.Symbol("k", positive=True)


# --------------------------------------------------------------------------------------------
# Theorem 1 (value preservation)
# --------------------------------------------------------------------------------------------
def theorem1_exact(ps: Sequence[sp.Expr] | None = None, q: sp.Expr = Q, m: sp.Expr = M) -> sp.Expr:
    """Exact one-round survival ``1 - prod_a (1 - q p_a)^m`` (Theorem 1, Appendix A, step 5).

    Exact when the ``n_A m`` draws of a round are independent given ``P_{r-1}`` (Algorithm 1
    draws a fresh subsample for every batch) and no pool cap is applied.

    Parameters
    ----------
    ps
        One selection probability per strategy; default two symbols ``p_1, p_2``.
    q, m
        Subsample inclusion probability and draws per strategy.
    """
    if ps is None:
        ps = sp.symbols("p_1 p_2", positive=True)
    return 1 - sp.Mul(*[(1 - q * pa) ** m for pa in ps])


def theorem1_lower(p_star: sp.Expr = P, q: sp.Expr = Q, m: sp.Expr = M) -> sp.Expr:
    """Theorem 1's lower bound ``1 - (1 - q p*)^m`` with ``p* = max_a p_a``."""
    return 1 - (1 - q * p_star) ** m


# --------------------------------------------------------------------------------------------
# Theorem 2 (exponential removal of eps-uninformative instances)
# --------------------------------------------------------------------------------------------
def theorem2_round(
    eps: sp.Expr = EPS, q: sp.Expr = Q, m: sp.Expr = M, n_a: sp.Expr = N_A
) -> sp.Expr:
    """Per-round upper bound ``1 - (1 - q eps)^(n_A m)`` (Theorem 2, Appendix A, step 5)."""
    return 1 - (1 - q * eps) ** (n_a * m)


def theorem2_bound(
    eps: sp.Expr = EPS, q: sp.Expr = Q, m: sp.Expr = M, n_a: sp.Expr = N_A, rounds: sp.Expr = R
) -> sp.Expr:
    """R-round upper bound ``[1 - (1 - q eps)^(n_A m)]^R`` (Theorem 2, first part)."""
    return theorem2_round(eps, q, m, n_a) ** rounds


def theorem2_approx(
    eps: sp.Expr = EPS, q: sp.Expr = Q, m: sp.Expr = M, n_a: sp.Expr = N_A, rounds: sp.Expr = R
) -> sp.Expr:
    """The paper's small-eps form ``(n_A m q eps)^R`` (Theorem 2, second part)."""
    return (n_a * m * q * eps) ** rounds


@dataclass(frozen=True)
class ApproximationAnalysis:
    """When is ``(n_A m q eps)^R`` a good stand-in for Theorem 2's bound?

    Write ``y = q eps`` and ``K = n_A m``, and ``rho = bound / approx``.

    Attributes
    ----------
    round_series
        Series of the per-round bound in ``eps`` up to ``O(eps^3)``.
    ratio_series
        Series of ``rho`` in ``eps`` up to ``O(eps^2)``; its linear coefficient is the first-order
        relative error.
    first_order_relative_error
        ``R (n_A m - 1) q eps / 2``.
    ratio_lower_base
        The Bonferroni base ``1 - (K - 1) y / 2``.
    ratio_lower_condition
        ``ratio_lower_base >= 0``, i.e. ``(n_A m - 1) q eps <= 2``: the condition under which
        ``ratio_lower_base^R <= rho <= 1`` holds. Without it the bracket is false for even ``R``
        (a negative base raised to an even power can exceed ``rho``; e.g. ``K = 4, y = 1, R = 2``:
        ``(-1/2)^2 = 1/4 > rho = 1/16``).
    ratio_lower
        ``max(0, ratio_lower_base)^R``: the Bonferroni lower side valid for every
        ``q eps in [0, 1]`` and integer ``K >= 1`` (``ratio_lower_base^R`` under the condition,
        the trivial ``0`` otherwise).
    ratio_lower_exp
        ``((1 - exp(-K y)) / (K y))^R``: a lower side valid everywhere and positive, the useful
        one when the condition fails (``(1 - y)^K <= exp(-K y)``).
    ratio_upper
        ``min(1, (K y)^(-R))``: Bernoulli's ``rho <= 1``, and ``rho <= 1 / (K y)^R`` because the
        bound is a probability; when the condition fails ``K y > 2`` and ``rho < 2^(-R)``.
    condition
        Sufficient condition for relative error ``<= delta``: ``R (n_A m - 1) q eps / 2 <= delta``.
    """

    round_series: sp.Expr
    ratio_series: sp.Expr
    first_order_relative_error: sp.Expr
    ratio_lower_base: sp.Expr
    ratio_lower_condition: sp.Expr
    ratio_lower: sp.Expr
    ratio_lower_exp: sp.Expr
    ratio_upper: sp.Expr
    condition: sp.Expr
    delta: sp.Symbol = field(default=sp.Symbol("delta", positive=True))


def theorem2_approximation() -> ApproximationAnalysis:
    """Derive the regime in which ``(n_A m alpha eps)^R`` approximates Theorem 2's bound.

    Write ``y = q eps``, ``K = n_A m`` and ``rho = (1 - (1-y)^K) / (K y)``, so that
    ``bound / approx = rho^R``. For integer ``K >= 1`` and ``y in (0, 1]``

    * Bernoulli: ``(1 - y)^K >= 1 - K y``, hence ``rho <= 1``: the approximation is never smaller
      than the bound, so using it keeps a *valid* (looser) upper bound; and ``rho <= 1 / (K y)``
      since the bound is a probability;
    * second Bonferroni: ``(1 - y)^K <= 1 - K y + K(K-1) y^2 / 2``, hence
      ``rho >= beta := 1 - (K-1) y / 2``;
    * ``1 - y <= exp(-y)``: ``rho >= (1 - exp(-K y)) / (K y) > 0``.

    Raising ``beta <= rho`` to the power ``R`` needs ``beta >= 0`` (then ``0 <= beta <= rho`` and
    ``x -> x^R`` is increasing on ``[0, oo)``). So ``beta^R <= bound / approx <= 1`` holds *when
    ``(n_A m - 1) q eps <= 2``*; for ``beta < 0`` and even ``R`` it is false (``beta^R > 0`` can
    exceed ``rho^R``), for odd ``R`` trivially true. In every case
    ``max(0, beta)^R <= bound/approx``, ``((1 - exp(-K y)) / (K y))^R <= bound/approx`` and
    ``bound/approx <= min(1, (K y)^(-R))``; when ``beta < 0`` we have ``K y > 2``, so the
    approximation overstates the bound by more than ``2^R``.

    With ``beta >= 0``, ``(1 - x)^R >= 1 - R x`` gives ``1 - R (K-1) y / 2 <= bound / approx``
    (trivially true when ``beta < 0``: the left side is then below ``1 - R``), and sympy's series
    confirms that the first-order relative error is exactly ``R (K-1) y / 2``. The approximation
    is therefore accurate when ``R (n_A m - 1) q eps << 2``: the condition carries a factor ``R``
    that the paper's ``n_A m alpha eps << 1`` omits, and the approximation is vacuous (> 1) once
    ``n_A m q eps >= 1``.
    """
    k = N_A * M
    bound_round = theorem2_round()
    round_series = sp.series(bound_round, EPS, 0, 3).removeO()
    ratio = (bound_round / (k * Q * EPS)) ** R
    ratio_series = sp.expand(sp.simplify(sp.series(ratio, EPS, 0, 2).removeO()))
    first = sp.simplify(1 - ratio_series)
    delta = sp.Symbol("delta", positive=True)
    y = Q * EPS
    base = 1 - (k - 1) * y / 2
    return ApproximationAnalysis(
        round_series=round_series,
        ratio_series=ratio_series,
        first_order_relative_error=first,
        ratio_lower_base=base,
        ratio_lower_condition=sp.Ge(base, 0),
        ratio_lower=sp.Max(0, base) ** R,
        ratio_lower_exp=((1 - sp.exp(-k * y)) / (k * y)) ** R,
        ratio_upper=sp.Min(1, (k * y) ** (-R)),
        condition=sp.Le(R * (k - 1) * y / 2, delta),
        delta=delta,
    )


# --------------------------------------------------------------------------------------------
# Monotonicity and limits
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonotonicityCertificate:
    """A derivative (or discrete difference) whose sign sympy has decided.

    The derivative is first rewritten in the bounded atoms ``u = 1 - q p`` (or ``1 - q eps``)
    and ``c = 1 - u^(n_A m)``, both in ``(0, 1)`` for ``0 < q p < 1``; each atom is then written as
    ``1/(1+w)`` with ``w > 0`` so that sympy's assumption system can decide the sign.

    Attributes
    ----------
    claim
        Human-readable claim, e.g. "Theorem 1 bound is non-decreasing in m".
    expression, variable
        The bound and the variable.
    derivative
        ``d expression / d variable`` (or the discrete difference) in the original symbols.
    certified_form
        The derivative after the re-parametrisation, whose sign sympy decided.
    sign
        ``+1`` (non-negative) or ``-1`` (non-positive).
    proven
        Whether sympy's assumption system confirmed the sign (``True`` for every certificate
        this module returns; the tests assert it).
    """

    claim: str
    expression: sp.Expr
    variable: sp.Symbol | str
    derivative: sp.Expr
    certified_form: sp.Expr
    sign: int
    proven: bool


def _atoms(expr: sp.Expr, inner: sp.Expr, outer: sp.Expr | None) -> sp.Expr:
    """Rewrite ``expr`` with ``outer -> c`` first (it contains ``inner``), then ``inner -> u``."""
    if outer is not None:
        expr = expr.subs(outer, _C)
    expr = expr.subs(inner, _U)
    return sp.simplify(expr.subs({_U: 1 / (1 + _W), _C: 1 / (1 + _K)}))


def _certify(
    claim: str,
    expression: sp.Expr,
    variable: sp.Symbol | str,
    derivative: sp.Expr,
    sign: int,
    inner: sp.Expr,
    outer: sp.Expr | None = None,
) -> MonotonicityCertificate:
    form = _atoms(derivative, inner, outer)
    free = form.free_symbols - {M, N_A, R, Q, P, EPS, _W, _K}
    ok = not free and (form.is_nonnegative if sign > 0 else form.is_nonpositive)
    return MonotonicityCertificate(claim, expression, variable, derivative, form, sign, bool(ok))


def _atom_lemmas() -> dict[str, bool]:
    """Domain lemmas that justify the re-parametrisation (each decided by sympy).

    * ``u = 1/(1+w) in (0,1)`` for ``w > 0``: ``log u = -log(1+w) < 0``;
    * ``c = 1 - u^K in (0,1)``: ``u^K > 0`` and ``log(u^K) = -K log(1+w) < 0`` so ``u^K < 1``.
    """
    u = 1 / (1 + _W)
    return {
        "log u < 0": bool(sp.expand_log(sp.log(u), force=True).is_negative),
        "u^K > 0": bool((u ** (N_A * M)).is_positive),
        "log(u^K) < 0": bool(sp.expand_log(sp.log(u ** (N_A * M)), force=True).is_negative),
    }


def monotonicity_certificates() -> list[MonotonicityCertificate]:
    """Sign certificates for the monotonicity claims of Theorems 1 and 2.

    Returns certificates (all with ``proven=True``) for

    * Theorem 1's bound ``1 - (1 - q p)^m``: non-decreasing in ``m`` (derivative and discrete
      step ``m -> m+1``), in ``q`` (= ``alpha``) and in ``p``;
    * Theorem 1's exact survival: non-decreasing in each ``p_a`` (two strategies shown; the
      derivative has the same product structure for any ``n_A``);
    * Theorem 2's R-round bound: non-increasing in ``R`` (derivative; the discrete ratio
      ``B(R+1)/B(R)`` is the per-round bound, in ``(0,1)``, i.e. geometric decay), non-decreasing
      in ``m``, ``q`` (= ``alpha``), ``eps`` and ``n_A``.
    """
    if not all(_atom_lemmas().values()):  # pragma: no cover - guards a sympy regression
        raise RuntimeError("sympy could not decide the domain lemmas of the re-parametrisation")
    out: list[MonotonicityCertificate] = []
    t1 = theorem1_lower()
    u1 = 1 - Q * P
    for var in (M, Q, P):
        label = "q (= alpha)" if var is Q else str(var)
        out.append(
            _certify(
                f"Theorem 1 bound is non-decreasing in {label}", t1, var, sp.diff(t1, var), +1, u1
            )
        )
    step = sp.simplify(t1.subs(M, M + 1) - t1)
    out.append(_certify("Theorem 1 bound: step m -> m+1 is >= 0", t1, "m (discrete)", step, +1, u1))

    p1, p2 = sp.symbols("p_1 p_2", positive=True)
    ex = theorem1_exact([p1, p2])
    d = sp.diff(ex, p1)
    # Two bounded atoms (1 - q p_1) and (1 - q p_2), each written as 1/(1+w) with w > 0.
    form = sp.simplify(d.subs(1 - Q * p1, 1 / (1 + _W)).subs(1 - Q * p2, 1 / (1 + _K)))
    out.append(
        MonotonicityCertificate(
            "Theorem 1 exact survival is non-decreasing in each p_a",
            ex,
            p1,
            d,
            form,
            +1,
            bool(form.is_nonnegative),
        )
    )

    t2 = theorem2_bound()
    u2 = 1 - Q * EPS
    c2 = 1 - u2 ** (N_A * M)
    out.append(
        _certify("Theorem 2 bound is non-increasing in R", t2, R, sp.diff(t2, R), -1, u2, outer=c2)
    )
    ratio = sp.simplify(t2.subs(R, R + 1) / t2)
    out.append(
        _certify(
            "Theorem 2 bound: ratio B(R+1)/B(R) is the per-round bound (geometric decay), > 0",
            t2,
            "R (discrete ratio)",
            ratio,
            +1,
            u2,
            outer=c2,
        )
    )
    out.append(
        _certify(
            "Theorem 2 bound: 1 - B(R+1)/B(R) >= 0 (ratio <= 1)",
            t2,
            "R (discrete ratio)",
            1 - ratio,
            +1,
            u2,
            outer=c2,
        )
    )
    for var in (M, Q, EPS, N_A):
        label = "q (= alpha)" if var is Q else str(var)
        out.append(
            _certify(
                f"Theorem 2 bound is non-decreasing in {label}",
                t2,
                var,
                sp.diff(t2, var),
                +1,
                u2,
                outer=c2,
            )
        )
    return out


def limits() -> dict[str, sp.Expr]:
    """Limits of the bounds, derived by sympy.

    * ``R -> oo`` of Theorem 2's bound: 0 whenever ``0 < q eps < 1`` (the per-round bound is then
      ``c = 1/(1+k)`` with ``k > 0``);
    * ``R -> oo`` of Theorem 1's bound compounded over rounds, ``[1 - (1 - q p*)^m]^R``: also 0
      unless ``q p* = 1``. A reviewer's point: per-round preservation does not prevent the
      geometric loss of valuable instances over many rounds; what filtering buys is the ratio
      of the two per-round rates;
    * ``m -> oo`` of Theorem 1's bound: 1 for ``q p* > 0``, and of Theorem 2's per-round bound:
      also 1 -- more draws help valuable and uninformative instances alike;
    * ``eps -> 0`` of Theorem 2's bound: 0.
    """
    # Both per-round factors lie in (0, 1) when 0 < q p* < 1 and 0 < q eps < 1 (the domain
    # lemmas of _atom_lemmas), so each is written 1/(1+k) with k > 0 before taking R -> oo.
    in_unit = 1 / (1 + _K)
    t1_round = sp.simplify(theorem1_lower().subs(1 - Q * P, 1 / (1 + _W)))
    t2_round = sp.simplify(theorem2_round().subs(1 - Q * EPS, 1 / (1 + _W)))
    return {
        "theorem2_bound_R_to_oo": sp.limit(in_unit**R, R, sp.oo),
        "theorem1_compound_R_to_oo": sp.limit(in_unit**R, R, sp.oo),
        "theorem1_bound_m_to_oo": sp.limit(t1_round, M, sp.oo),
        "theorem2_round_m_to_oo": sp.limit(t2_round, M, sp.oo),
        "theorem2_bound_eps_to_0": sp.limit(theorem2_bound().subs(R, 1), EPS, 0),
    }


# --------------------------------------------------------------------------------------------
# Theorem 3 (concentration of value): the identity behind it
# --------------------------------------------------------------------------------------------
def theorem3_identity(n: int | None = None) -> bool:
    """Prove ``E_r - Vbar = Cov_emp(pi, v) / mean(pi)`` symbolically.

    ``E_r = sum(pi v) / sum(pi)`` (the paper's survival-weighted average, Appendix A, proof of
    Theorem 3, step 3), ``Vbar = mean(v)``, ``Cov_emp(pi, v) = mean(pi v) - mean(pi) mean(v)``.

    Parameters
    ----------
    n
        ``None`` proves it for a general pool size by writing the three sums as symbols
        (``S_pv``, ``S_p``, ``S_v``) and ``n`` as a positive symbol; an integer expands the sums
        over ``n`` explicit symbols ``pi_i, v_i``.

    Returns
    -------
    bool
        ``True`` when the difference of the two sides simplifies to zero.
    """
    if n is None:
        s_pv, s_p, s_v, nn = sp.symbols("S_pv S_p S_v n", positive=True)
        lhs = s_pv / s_p - s_v / nn
        rhs = (s_pv / nn - (s_p / nn) * (s_v / nn)) / (s_p / nn)
    else:
        pis = sp.symbols(f"pi_0:{n}", positive=True)
        vs = sp.symbols(f"v_0:{n}", real=True)
        mean = lambda xs: sp.Add(*xs) / n  # noqa: E731 - local shorthand
        e_r = sp.Add(*[a * b for a, b in zip(pis, vs, strict=True)]) / sp.Add(*pis)
        lhs = e_r - mean(vs)
        cov = mean([a * b for a, b in zip(pis, vs, strict=True)]) - mean(pis) * mean(vs)
        rhs = cov / mean(pis)
    return sp.simplify(lhs - rhs) == 0


# --------------------------------------------------------------------------------------------
# Numeric twins (numpy, vectorised, numerically stable via log1p/expm1)
# --------------------------------------------------------------------------------------------
def _one_minus_pow(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``1 - (1 - y)^k`` computed as ``-expm1(k log1p(-y))`` (accurate for tiny ``y``)."""
    with np.errstate(divide="ignore"):
        return -np.expm1(np.asarray(k, dtype=float) * np.log1p(-np.asarray(y, dtype=float)))


def theorem1_exact_np(p: np.ndarray, q: float | np.ndarray, m: int | np.ndarray) -> np.ndarray:
    """``1 - prod_a (1 - q p_a)^m`` over the last axis of ``p`` (numpy twin of
    :func:`theorem1_exact`)."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        log_miss = np.sum(np.log1p(-np.asarray(q, dtype=float)[..., None] * p), axis=-1)
    return -np.expm1(np.asarray(m, dtype=float) * log_miss)


def theorem1_lower_np(p_star, q, m) -> np.ndarray:
    """``1 - (1 - q p*)^m`` (numpy twin of :func:`theorem1_lower`)."""
    return _one_minus_pow(np.asarray(q) * np.asarray(p_star), m)


def theorem1_rounds_np(p_star, q_rounds, m) -> np.ndarray:
    """Theorem 1 compounded over rounds: ``prod_r [1 - (1 - q_r p*)^m]``.

    Survival through ``R`` rounds is the product of the per-round conditional survivals, each of
    which Theorem 1 bounds from below (with the round's ``q_r`` and ``p*_r``).
    """
    return np.prod(theorem1_lower_np(p_star, np.asarray(q_rounds, dtype=float), m), axis=-1)


def theorem2_round_np(eps, q, m, n_a) -> np.ndarray:
    """``1 - (1 - q eps)^(n_A m)`` (numpy twin of :func:`theorem2_round`)."""
    return _one_minus_pow(np.asarray(q) * np.asarray(eps), np.asarray(n_a) * np.asarray(m))


def theorem2_bound_np(eps, q, m, n_a, rounds) -> np.ndarray:
    """``[1 - (1 - q eps)^(n_A m)]^R`` (numpy twin of :func:`theorem2_bound`)."""
    return theorem2_round_np(eps, q, m, n_a) ** np.asarray(rounds)


def theorem2_rounds_np(eps, q_rounds, m, n_a) -> np.ndarray:
    """Theorem 2 with a per-round ``q_r`` (last axis): ``prod_r [1 - (1 - q_r eps)^(n_A m)]``.

    Needed for the published code, whose round-1 inclusion probability is ``5000/|U|``.
    """
    return np.prod(theorem2_round_np(eps, np.asarray(q_rounds, dtype=float), m, n_a), axis=-1)


def theorem2_approx_np(eps, q, m, n_a, rounds) -> np.ndarray:
    """``(n_A m q eps)^R`` (numpy twin of :func:`theorem2_approx`)."""
    return (np.asarray(n_a) * np.asarray(m) * np.asarray(q) * np.asarray(eps)) ** np.asarray(rounds)


def theorem2_ratio_bracket_np(eps, q, m, n_a, rounds) -> tuple[np.ndarray, np.ndarray]:
    """Bracket ``lower <= bound / approx <= upper`` of Theorem 2's approximation, valid everywhere.

    ``lower = max(max(0, 1 - (K-1) y / 2), (1 - exp(-K y)) / (K y))^R`` and
    ``upper = min(1, (K y)^(-R))`` with ``y = q eps``, ``K = n_A m`` (derivation:
    :func:`theorem2_approximation`). The Bonferroni part equals the familiar
    ``(1 - (K-1) y / 2)^R`` only when that base is ``>= 0``.
    """
    y = np.asarray(q, dtype=float) * np.asarray(eps, dtype=float)
    k = np.asarray(n_a, dtype=float) * np.asarray(m, dtype=float)
    r = np.asarray(rounds, dtype=float)
    x = k * y
    bonferroni = np.maximum(0.0, 1 - (k - 1) * y / 2)
    expo = -np.expm1(-x) / x
    return np.maximum(bonferroni, expo) ** r, np.minimum(1.0, x ** (-r))
