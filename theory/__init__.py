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
report      ``python -m theory report --out DIR [--quick]``: numbers (``report.compute``),
            figures (``report.figures``) and markdown (``report.markdown``)
deps        the ``theory`` extra (sympy): ``pip install "refine-al[theory]"``

The names below are imported lazily, so ``import theory`` needs neither sympy nor
``refine.strategies.filtering``; a missing sympy raises :class:`refine.errors.MissingDependencyError`
naming the extra.
"""

from __future__ import annotations

import importlib

# name -> module that defines it (imported on first access)
_LAZY = {
    **dict.fromkeys(
        (
            "monotonicity_certificates",
            "theorem1_exact",
            "theorem1_exact_np",
            "theorem1_lower",
            "theorem1_lower_np",
            "theorem2_approx",
            "theorem2_approx_np",
            "theorem2_approximation",
            "theorem2_bound",
            "theorem2_bound_np",
            "theorem2_ratio_bracket_np",
            "theorem2_round",
            "theorem2_round_np",
            "theorem3_identity",
        ),
        "theory.bounds",
    ),
    **dict.fromkeys(("theorem1_example", "theorem2_example"), "theory.examples"),
    **dict.fromkeys(
        ("estimate_topb_inclusion", "simulate_focal", "simulate_pool_round", "simulate_topb_round"),
        "theory.simulate",
    ),
    **dict.fromkeys(("clopper_pearson", "empirical_bernstein", "kl_interval"), "theory.stats"),
    **dict.fromkeys(
        (
            "construct_counterexample",
            "pool_mean_gap",
            "search_counterexamples",
            "summarize_pool",
        ),
        "theory.theorem3",
    ),
    "run_real_filter": "theory.realfilter",
    "build_report": "theory.report",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    # Lazy: the bounds need sympy (the "theory" extra), the real-filter mode and the report
    # import the library's filter and matplotlib; none of it is paid by ``import theory``.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'theory' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
