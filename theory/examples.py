"""The paper's two numerical examples (Appendix A), recomputed with stated parameters.

Reference: Huseljic et al., arXiv 2511.22344, Appendix A, "Numerical Example" after the proofs of
Theorems 1 and 2. The extracted text lost every number; the prose fixes the structure:

* Theorem 1: "an instance that receives a high score from Margin but a low score from TypiClust",
  "an ensemble of two strategies", the bound uses the maximum score;
* Theorem 2: four parameters (the defaults ``n_A = 9``, ``m = 11``, ``alpha = 0.4`` and an
  ``epsilon``), a single-round survival, and a bound "after 5 rounds".

The probabilities below are therefore *our* choices, stated wherever they are reported; the
hyperparameters are the published defaults. :data:`THEOREM1_PARAMS` and :data:`THEOREM2_PARAMS`
hold them; every number the report prints is computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.bounds import (
    theorem1_exact_np,
    theorem1_lower_np,
    theorem2_approx_np,
    theorem2_bound_np,
    theorem2_ratio_bracket_np,
    theorem2_round_np,
)

__all__ = [
    "BRACKET_POINTS",
    "DEFAULTS",
    "PAPER_DATASETS",
    "THEOREM1_PARAMS",
    "THEOREM2_PARAMS",
    "BracketPoint",
    "RandomMemberFloor",
    "Theorem1Example",
    "Theorem2Example",
    "bracket_points",
    "random_member_floor",
    "round1_inclusion",
    "theorem1_example",
    "theorem2_example",
]

#: Published defaults (paper Section 5 and the authors' code): rounds, draws per strategy, sample
#: ratio, ensemble size.
DEFAULTS = {"R": 5, "m": 11, "alpha": 0.4, "n_A": 9}

#: Training-pool sizes and batch sizes of the paper's datasets (paper Section 5 and Table 1).
#: Inputs to :func:`round1_inclusion`, which computes each dataset's round-1 ``q_1``.
PAPER_DATASETS = {
    "CIFAR-10": (50_000, 10),
    "Dopanim": (10_484, 50),
    "Snacks": (4_838, 20),
    "CIFAR-100": (50_000, 100),
    "Food101": (75_750, 100),
    "Tiny ImageNet": (100_000, 200),
    "ESC-50": (1_600, 20),
}

#: Theorem 1 example: Margin values the instance highly, TypiClust little (our probabilities).
THEOREM1_PARAMS = {"p_margin": 0.5, "p_typiclust": 0.05, "m": 11, "alpha": 0.4}

#: Theorem 2 example: an eps-uninformative instance under the defaults (our epsilon).
THEOREM2_PARAMS = {"eps": 1e-3, "n_A": 9, "m": 11, "alpha": 0.4, "R": 5}

#: Points ``(n_A, m, q, eps, R)`` where the condition ``(n_A m - 1) q eps <= 2`` of Theorem 2's
#: bracket fails (and one where it holds), for the report's table: the hand-worked case
#: ``K = 4, q eps = 1``, the defaults at ``eps = 0.1`` and ``eps = 0.06``, each at an even and an
#: odd ``R``.
BRACKET_POINTS = (
    (2, 2, 1.0, 1.0, 2),
    (2, 2, 1.0, 1.0, 3),
    (9, 11, 0.4, 0.1, 2),
    (9, 11, 0.4, 0.1, 3),
    (9, 11, 0.4, 0.06, 2),
    (9, 11, 0.4, 0.02, 2),
)


@dataclass(frozen=True)
class Theorem1Example:
    """Theorem 1's example: lower bound from the best strategy, and the exact survival."""

    p_margin: float
    p_typiclust: float
    m: int
    alpha: float
    bound: float
    exact: float
    bound_over_rounds: np.ndarray  # R = 1..5, Theorem 1 compounded: bound^R

    def table(self) -> list[tuple[float, float, float]]:
        """(p_margin, bound, exact) for a few Margin probabilities (same TypiClust p)."""
        rows = []
        for pm in (0.1, 0.25, 0.5, 0.75, 1.0):
            rows.append(
                (
                    pm,
                    float(theorem1_lower_np(pm, self.alpha, self.m)),
                    float(theorem1_exact_np([pm, self.p_typiclust], self.alpha, self.m)),
                )
            )
        return rows


def theorem1_example(**overrides: float) -> Theorem1Example:
    """Compute Theorem 1's numerical example (parameters: :data:`THEOREM1_PARAMS`)."""
    prm = {**THEOREM1_PARAMS, **overrides}
    pm, pt, m, a = prm["p_margin"], prm["p_typiclust"], int(prm["m"]), prm["alpha"]
    bound = float(theorem1_lower_np(max(pm, pt), a, m))
    exact = float(theorem1_exact_np([pm, pt], a, m))
    return Theorem1Example(pm, pt, m, a, bound, exact, bound ** np.arange(1, 6))


_THEOREM2_TABLE_EPS = (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2)


@dataclass(frozen=True)
class Theorem2Example:
    """Theorem 2's example: one-round and R-round bounds and the small-eps approximation."""

    eps: float
    n_a: int
    m: int
    alpha: float
    rounds: int
    per_round: float
    bound: float
    approx: float
    first_order_rel_error: float  # R (n_A m - 1) alpha eps / 2

    def table(self) -> list[tuple[float, float, float, float]]:
        """(eps, per-round bound, R-round bound, approximation) for a few eps."""
        rows = []
        for e in _THEOREM2_TABLE_EPS:
            rows.append(
                (
                    e,
                    float(theorem2_round_np(e, self.alpha, self.m, self.n_a)),
                    float(theorem2_bound_np(e, self.alpha, self.m, self.n_a, self.rounds)),
                    float(theorem2_approx_np(e, self.alpha, self.m, self.n_a, self.rounds)),
                )
            )
        return rows

    def bracket_table(self) -> list[BracketPoint]:
        """Theorem 2's bracket of ``bound / approx`` at the eps of :meth:`table`."""
        return bracket_points(
            [(self.n_a, self.m, self.alpha, e, self.rounds) for e in _THEOREM2_TABLE_EPS]
        )


def theorem2_example(**overrides: float) -> Theorem2Example:
    """Compute Theorem 2's numerical example (parameters: :data:`THEOREM2_PARAMS`)."""
    prm = {**THEOREM2_PARAMS, **overrides}
    e, na, m, a, r = prm["eps"], int(prm["n_A"]), int(prm["m"]), prm["alpha"], int(prm["R"])
    return Theorem2Example(
        eps=e,
        n_a=na,
        m=m,
        alpha=a,
        rounds=r,
        per_round=float(theorem2_round_np(e, a, m, na)),
        bound=float(theorem2_bound_np(e, a, m, na, r)),
        approx=float(theorem2_approx_np(e, a, m, na, r)),
        first_order_rel_error=r * (na * m - 1) * a * e / 2,
    )


@dataclass(frozen=True)
class RandomMemberFloor:
    """How small can epsilon be when random sampling is a member of the ensemble?

    Random sampling includes every subsample member with probability ``b / s_r``, so no instance
    is eps-uninformative with ``eps < b / s_r``; with ``q_r = s_r / |P_{r-1}|`` Theorem 2's
    per-round bound is then at least ``1 - (1 - b / |P_{r-1}|)^(n_A m)`` -- independent of the
    sample ratio. With exact-size batches the pool after round 1 has at most ``n_A m b``
    instances, so from round 2 on this floor is at least ``1 - (1 - 1/(n_A m))^(n_A m)``
    (about ``1 - 1/e``): Theorem 2 guarantees strong removal in round 1 only.
    """

    n_pool: int
    b: int
    n_a: int
    m: int
    eps_min_round1_paper: float  # b / floor(alpha |U|)
    eps_min_round1_published: float  # b / min(5000, |U|)
    floor_round1: float  # 1 - (1 - b/|U|)^(n_A m)
    max_pool_after_round1: int  # min(n_A m b, |U|)
    floor_later_rounds: float  # 1 - (1 - b / max_pool)^(n_A m)


def random_member_floor(
    n_pool: int,
    b: int,
    n_a: int = 9,
    m: int = 11,
    alpha: float = 0.4,
    first_subsample: int = 5000,
    cap: int | None = 10000,
) -> RandomMemberFloor:
    """Evaluate :class:`RandomMemberFloor` for a dataset size and batch size (``cap``: the
    published code's pool cap, ``None`` for the paper's variant)."""
    k = n_a * m
    max_pool = min(k * b, n_pool, cap if cap is not None else n_pool)
    return RandomMemberFloor(
        n_pool=n_pool,
        b=b,
        n_a=n_a,
        m=m,
        eps_min_round1_paper=b / max(b, int(np.floor(alpha * n_pool))),
        eps_min_round1_published=b / min(max(b, first_subsample), n_pool),
        floor_round1=float(theorem2_round_np(b / n_pool, 1.0, m, n_a)),
        max_pool_after_round1=int(max_pool),
        floor_later_rounds=float(theorem2_round_np(b / max_pool, 1.0, m, n_a)),
    )


def round1_inclusion(
    n_pool: int, alpha: float = 0.4, first_subsample: int = 5000
) -> tuple[float, float]:
    """Round-1 inclusion probability ``q_1``: (paper's ``floor(alpha |U|)/|U|``, published code's
    ``min(5000, |U|)/|U|``).

    On pools smaller than 5000 the published code's first subsample is the whole pool
    (``q_1 = 1``): a deterministic strategy then returns the same batch in all its ``m`` draws,
    so ``m`` has no effect in round 1.
    """
    paper = np.floor(alpha * n_pool) / n_pool
    published = min(first_subsample, n_pool) / n_pool
    return float(paper), float(published)


@dataclass(frozen=True)
class BracketPoint:
    """Theorem 2's ``bound / approx`` at one point, with the bracket and its condition.

    ``base = 1 - (n_A m - 1) q eps / 2``; the classic bracket ``base^R <= ratio <= 1`` needs
    ``base >= 0`` (:func:`theory.bounds.theorem2_approximation`); ``lower``/``upper`` is the
    bracket valid everywhere (:func:`theory.bounds.theorem2_ratio_bracket_np`).
    """

    n_a: int
    m: int
    q: float
    eps: float
    rounds: int
    base: float
    ratio: float
    lower: float
    upper: float

    @property
    def condition(self) -> bool:
        """``(n_A m - 1) q eps <= 2``, i.e. ``base >= 0``."""
        return self.base >= 0

    @property
    def unconditional_claim(self) -> float:
        """``base^R``, what the bracket without its condition claims as a lower bound."""
        return self.base**self.rounds

    @property
    def unconditional_holds(self) -> bool:
        return self.unconditional_claim <= self.ratio


def bracket_points(points=BRACKET_POINTS) -> list[BracketPoint]:
    """Evaluate :class:`BracketPoint` at ``points`` (default :data:`BRACKET_POINTS`)."""
    out = []
    for na, m, q, eps, r in points:
        ratio = float(theorem2_bound_np(eps, q, m, na, r) / theorem2_approx_np(eps, q, m, na, r))
        lo, hi = theorem2_ratio_bracket_np(eps, q, m, na, r)
        base = 1 - (na * m - 1) * q * eps / 2
        out.append(BracketPoint(na, m, q, eps, r, base, ratio, float(lo), float(hi)))
    return out
