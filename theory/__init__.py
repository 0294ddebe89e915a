"""Theorems 1-3 of progressive filtering: symbolic bounds, Monte Carlo checks, a reviewer's report.

Reference: D. Huseljic et al., "Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep
Active Learning", arXiv 2511.22344, Section 4 and Appendix A.

Modules
-------
bounds      the theorems as sympy expressions, their numpy twins, monotonicity certificates,
            limits, the small-eps analysis of Theorem 2 and Theorem 3's identity
simulate    numpy Monte Carlo with synthetic strategies of known selection probability
realfilter  the same checks through the library's real ``refine.strategies.filtering.ProgressiveFilter``
theorem3    Theorem 3: counterexample, corrected condition, E_r versus E[Vbar(P_r)]
examples    the paper's two numerical examples with stated parameters
stats       confidence intervals (Clopper-Pearson, Chernoff-KL, empirical Bernstein)
report      ``python -m theory report --out DIR [--quick]``
"""

from __future__ import annotations

from theory.bounds import (
    monotonicity_certificates,
    theorem1_exact,
    theorem1_exact_np,
    theorem1_lower,
    theorem1_lower_np,
    theorem2_approx,
    theorem2_approx_np,
    theorem2_approximation,
    theorem2_bound,
    theorem2_bound_np,
    theorem2_round,
    theorem2_round_np,
    theorem3_identity,
)
from theory.examples import theorem1_example, theorem2_example
from theory.simulate import (
    estimate_topb_inclusion,
    simulate_focal,
    simulate_pool_round,
    simulate_topb_round,
)
from theory.stats import clopper_pearson, empirical_bernstein, kl_interval
from theory.theorem3 import (
    construct_counterexample,
    pool_mean_gap,
    search_counterexamples,
    summarize_pool,
)

__all__ = [
    "build_report",
    "clopper_pearson",
    "construct_counterexample",
    "empirical_bernstein",
    "estimate_topb_inclusion",
    "kl_interval",
    "monotonicity_certificates",
    "pool_mean_gap",
    "run_real_filter",
    "search_counterexamples",
    "simulate_focal",
    "simulate_pool_round",
    "simulate_topb_round",
    "summarize_pool",
    "theorem1_example",
    "theorem1_exact",
    "theorem1_exact_np",
    "theorem1_lower",
    "theorem1_lower_np",
    "theorem2_approx",
    "theorem2_approx_np",
    "theorem2_approximation",
    "theorem2_bound",
    "theorem2_bound_np",
    "theorem2_example",
    "theorem2_round",
    "theorem2_round_np",
    "theorem3_identity",
]


def __getattr__(name: str):
    # The real-filter mode and the report import refine.strategies.filtering (and matplotlib) only when
    # asked for, so the bounds stay importable on their own.
    if name == "run_real_filter":
        from theory.realfilter import run_real_filter

        return run_real_filter
    if name == "build_report":
        from theory.report import build_report

        return build_report
    raise AttributeError(f"module 'theory' has no attribute {name!r}")
