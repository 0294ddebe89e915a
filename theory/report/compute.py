"""The numbers of the reviewer's report on Theorems 1-3, computed into one data structure.

Reference: Huseljic et al., arXiv 2511.22344, Section 4 (Theorems 1-3) and Appendix A.

:func:`compute_report` runs every part of the report -- the symbolic results of
:mod:`theory.bounds`, the numerical examples of :mod:`theory.examples`, the numpy Monte Carlo of
:mod:`theory.simulate`, the real filter of :mod:`theory.realfilter` and Theorem 3
(:mod:`theory.theorem3`) -- and returns a :class:`ReportData`; :func:`report_numbers` turns it
into the JSON written beside the report. Nothing here renders: the markdown is
:mod:`theory.report.markdown`, the figures :mod:`theory.report.figures`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from refine.seeding import child_rng
from theory import bounds, examples, theorem3
from theory.report.checks import DELTA, Check
from theory.simulate import estimate_topb_inclusion, simulate_focal, simulate_topb_round
from theory.stats import clopper_pearson

__all__ = [
    "EPS_GROUPS",
    "GAP_PROBS_TEXT",
    "PUBLISHED_Q1",
    "VALUABLE",
    "ReportConfig",
    "ReportData",
    "compute_report",
    "report_numbers",
]


@dataclass(frozen=True)
class ReportConfig:
    """Sizes of the simulations (``quick`` shrinks them for tests and smoke runs)."""

    focal_trials: int = 200_000
    grid_trials: int = 20_000
    topb_trials: int = 20_000
    topb_draws: int = 100_000
    real_trials: dict = field(
        default_factory=lambda: {"paper": 16, "published": 20, "published-cap": 8}
    )
    search_tries: int = 20_000
    gap_trials: int = 20_000

    @classmethod
    def quick(cls) -> ReportConfig:
        return cls(
            focal_trials=20_000,
            grid_trials=4_000,
            topb_trials=4_000,
            topb_draws=20_000,
            real_trials={"paper": 3, "published": 4, "published-cap": 2},
            search_tries=4_000,
            gap_trials=4_000,
        )


VALUABLE = np.array([0.5] + [0.01] * 8)  # Margin-like strategy values it, eight others barely
EPS_GROUPS = (1e-3, 2e-2)
PUBLISHED_Q1 = 5000 / 50_000  # the published code's round-1 q on a CIFAR-10-sized pool
GAP_PROBS_TEXT = "p = 0.02 + 0.3 v and p = 0.02 + 0.3 v^3"


def _gap_probs(v: np.ndarray) -> np.ndarray:
    """Two strategies similarly ordered with ``v`` (described by :data:`GAP_PROBS_TEXT`)."""
    return np.stack([0.02 + 0.3 * v, 0.02 + 0.3 * v**3])


def _focal_checks(cfg: ReportConfig, seed: int) -> tuple[list[Check], dict]:
    """Numpy focal Monte Carlo under the paper's idealisation (q = alpha) and the published
    code's (q_1 = 0.1 on a CIFAR-10-sized pool, then alpha)."""
    d = examples.DEFAULTS
    m, a, na, R = d["m"], d["alpha"], d["n_A"], d["R"]
    checks: list[Check] = []
    curves: dict = {}
    for setting, q1 in (("paper", a), ("published", PUBLISHED_Q1)):
        q = np.array([q1] + [a] * 9)  # 10 rounds for the figure
        rng = child_rng(seed, "focal", setting)
        res = simulate_focal(VALUABLE, q, m, 10, cfg.focal_trials, rng)
        lo, hi = res.interval(DELTA)
        exact = np.concatenate([[1.0], np.cumprod(bounds.theorem1_exact_np(VALUABLE, q, m))])
        t1 = np.concatenate([[1.0], np.cumprod(bounds.theorem1_lower_np(VALUABLE.max(), q, m))])
        curves[(setting, "valuable")] = (res.survival, lo, hi, exact, t1)
        for r in (1, R):
            checks.append(
                Check(
                    f"{setting}: valuable, R={r}, >= Thm 1",
                    res.survival[r],
                    lo[r],
                    hi[r],
                    t1[r],
                    ">=",
                )
            )
            checks.append(
                Check(
                    f"{setting}: valuable, R={r}, exact",
                    res.survival[r],
                    lo[r],
                    hi[r],
                    exact[r],
                    "==",
                )
            )
        for eps in EPS_GROUPS:
            p = np.full(na, eps)
            res = simulate_focal(
                p, q, m, 10, cfg.focal_trials, child_rng(seed, "focal", setting, str(eps))
            )
            lo, hi = res.interval(DELTA)
            t2 = np.concatenate([[1.0], np.cumprod(bounds.theorem2_round_np(eps, q, m, na))])
            curves[(setting, f"eps={eps:g}")] = (res.survival, lo, hi, t2, t2)
            r = 2 if eps < 1e-2 else R  # eps=1e-3 survives R=5 with ~1e-7: not measurable
            checks.append(
                Check(
                    f"{setting}: eps={eps:g}, R={r}, <= Thm 2",
                    res.survival[r],
                    lo[r],
                    hi[r],
                    t2[r],
                    "<=",
                )
            )
    return checks, curves


def _grid(cfg: ReportConfig, seed: int) -> dict:
    """Survival after R = 5 rounds across m (alpha = 0.4) and alpha (m = 11), with the bounds."""
    d = examples.DEFAULTS
    na, R = d["n_A"], d["R"]
    eps = EPS_GROUPS[1]
    out: dict = {}
    for axis, values in (
        ("m", [1, 2, 3, 5, 8, 11, 15, 20, 30]),
        ("alpha", [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0]),
    ):
        rows = []
        for v in values:
            m = int(v) if axis == "m" else d["m"]
            a = float(v) if axis == "alpha" else d["alpha"]
            rv = simulate_focal(
                VALUABLE, a, m, R, cfg.grid_trials, child_rng(seed, "grid", axis, str(v), "v")
            )
            ru = simulate_focal(
                np.full(na, eps),
                a,
                m,
                R,
                cfg.grid_trials,
                child_rng(seed, "grid", axis, str(v), "u"),
            )
            lv, hv = rv.interval(DELTA)
            lu, hu = ru.interval(DELTA)
            rows.append(
                {
                    "x": v,
                    "valuable": rv.survival[R],
                    "valuable_ci": (lv[R], hv[R]),
                    "t1": float(bounds.theorem1_lower_np(VALUABLE.max(), a, m) ** R),
                    "uninformative": ru.survival[R],
                    "uninformative_ci": (lu[R], hu[R]),
                    "t2": float(bounds.theorem2_bound_np(eps, a, m, na, R)),
                }
            )
        out[axis] = rows
    return out


def _topb_check(cfg: ReportConfig, seed: int) -> dict:
    """Theorem 1's exact formula for noisy top-b strategies whose p_x is estimated separately."""
    n, s, b, m = 300, 120, 5, 11
    x = np.linspace(0.0, 1.0, n)
    scores = np.stack([3 * x, 3 * (1 - x) ** 2])  # an "uncertainty" and a "typicality" score
    noise = 0.5
    counts = simulate_topb_round(
        scores, noise, s, b, m, cfg.topb_trials, child_rng(seed, "topb", "run")
    )
    est = [
        estimate_topb_inclusion(
            scores[a],
            noise,
            s,
            b,
            cfg.topb_draws,
            child_rng(seed, "topb", "est", a),
            DELTA / (2 * n),
        )
        for a in range(2)
    ]
    # pi is non-decreasing in each theta_a = q p_a: the interval for theta maps to one for pi.
    pi_lo = 1 - np.prod([(1 - e.theta_lo) ** m for e in est], axis=0)
    pi_hi = 1 - np.prod([(1 - e.theta_hi) ** m for e in est], axis=0)
    pi_hat = 1 - np.prod([(1 - e.p_hat * e.q) ** m for e in est], axis=0)
    lo, hi = clopper_pearson(counts, cfg.topb_trials, DELTA / n)
    agree = (hi >= pi_lo) & (lo <= pi_hi)
    measured = counts / cfg.topb_trials
    pmax = np.max([e.p_hat for e in est], axis=0)
    t1 = bounds.theorem1_lower_np(pmax, s / n, m)
    return {
        "n": n,
        "s": s,
        "b": b,
        "noise": noise,
        "agree": int(agree.sum()),
        "rmse": float(np.sqrt(np.mean((measured - pi_hat) ** 2))),
        "max_abs": float(np.max(np.abs(measured - pi_hat))),
        "t1_holds": int(np.sum(hi >= t1 - 0.0)),
        "x": x,
        "measured": measured,
        "pi_hat": pi_hat,
        "p_hat": np.stack([e.p_hat for e in est]),
    }


def _real_filter(cfg: ReportConfig, seed: int) -> list:
    """The real filter in each default scenario (paper, published, published with binding cap)."""
    from theory.realfilter import default_scenarios, run_real_filter

    results = []
    for sc in default_scenarios():
        results.append(run_real_filter(sc, cfg.real_trials[sc.name], seed=seed))
    return results


def _real_checks(results) -> list[Check]:
    """Checks on the real filter. Where the published code's cap binds, Theorem 1's bound is
    expected to be *violated* and the check asserts the violation (kind ``"<"``)."""
    checks = []
    for res in results:
        sc = res.scenario
        capped = bool(np.any(res.cap_keep()[:, 0] < 1))
        for g in res.round1:
            lo, hi = res.interval("round1", g, DELTA)
            mean = float(np.mean(res.round1[g]))
            name = f"{sc.name}: {g}, R=1"
            checks.append(
                Check(
                    f"{name}, exact" + (" x cap" if capped else ""),
                    mean,
                    lo,
                    hi,
                    res.predicted_round1(g),
                    "==",
                    not capped,
                )
            )
            if g == "valuable":
                kind = "<" if capped else ">="
                label = "violates Thm 1 (cap)" if capped else ">= Thm 1"
                checks.append(
                    Check(
                        f"{name}, {label}", mean, lo, hi, res.theorem1_round1(g), kind, not capped
                    )
                )
            flo, fhi = res.interval("final", g, DELTA)
            fmean = float(np.mean(res.final[g]))
            name = f"{sc.name}: {g}, R={sc.rounds}"
            if g == "valuable":
                kind = "<" if capped else ">="
                label = "violates Thm 1 (cap)" if capped else ">= Thm 1 (min q_r)"
                checks.append(
                    Check(f"{name}, {label}", fmean, flo, fhi, res.theorem1_final(g), kind, False)
                )
            else:
                checks.append(
                    Check(
                        f"{name}, <= Thm 2 (max q_r)",
                        fmean,
                        flo,
                        fhi,
                        res.theorem2_final(g),
                        "<=",
                        False,
                    )
                )
    return checks


def _theorem3(cfg: ReportConfig, seed: int) -> dict:
    """Theorem 3: the counterexample, the random searches and the E_r versus E[Vbar] gaps."""
    d = examples.DEFAULTS
    ce = theorem3.construct_counterexample(q=d["alpha"], m=d["m"], n_a=2)
    searches = {}
    for na, m in ((1, 1), (1, 2), (1, 11), (2, 1), (2, 11), (9, 11)):
        searches[(na, m)] = theorem3.search_counterexamples(
            child_rng(seed, "t3", na, m), cfg.search_tries, n_a=na, q=d["alpha"], m=m
        )
    gaps = []
    for n in (4, 8, 16, 32, 64):
        v = np.linspace(0.0, 1.0, n)
        probs = _gap_probs(v)
        gaps.append(
            theorem3.pool_mean_gap(
                v, probs, d["alpha"], d["m"], cfg.gap_trials, child_rng(seed, "gap", n), DELTA
            )
        )
    return {"counterexample": ce, "searches": searches, "gaps": gaps}


@dataclass
class ReportData:
    """Everything the report shows, computed once (:func:`compute_report`).

    Attributes
    ----------
    config, seed, quick
        Simulation sizes, root seed and whether the quick sizes were asked for.
    certificates, limits, approximation, identity
        :func:`theory.bounds.monotonicity_certificates`, :func:`theory.bounds.limits`,
        :func:`theory.bounds.theorem2_approximation` and Theorem 3's identity (general ``n`` and
        ``n = 4``).
    example1, example2, bracket
        The numerical examples of Theorems 1 and 2 and the bracket of Theorem 2's approximation
        at :data:`theory.examples.BRACKET_POINTS`.
    focal_checks, curves
        Numpy focal Monte Carlo: the checks and the survival curves of the first figure,
        ``{(setting, group): (survival, lo, hi, exact, bound)}``.
    grid
        Survival after ``R`` rounds across ``m`` and ``alpha`` (second figure).
    topb
        Noisy top-b strategies against Theorem 1's exact formula.
    real, real_checks
        :class:`theory.realfilter.RealFilterResult` per default scenario, and their checks.
    t3
        Theorem 3: ``counterexample``, ``searches`` ``{(n_A, m): CounterexampleSearch}`` and
        ``gaps`` (one :class:`theory.theorem3.PoolGap` per pool size).
    timings
        Seconds per part.
    """

    config: ReportConfig
    seed: int
    quick: bool
    certificates: list
    limits: dict
    approximation: bounds.ApproximationAnalysis
    identity: bool
    example1: examples.Theorem1Example
    example2: examples.Theorem2Example
    bracket: list
    focal_checks: list[Check]
    curves: dict
    grid: dict
    topb: dict
    real: list
    real_checks: list[Check]
    t3: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def checks(self) -> list[Check]:
        return self.focal_checks + self.real_checks

    @property
    def checks_failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]


def compute_report(cfg: ReportConfig, seed: int = 0, quick: bool = False) -> ReportData:
    """Compute every number of the report (simulation sizes ``cfg``, root seed ``seed``)."""
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable, *args):
        t0 = time.perf_counter()
        val = fn(*args)
        timings[name] = time.perf_counter() - t0
        return val

    certs = timed("symbolic", bounds.monotonicity_certificates)
    lims = bounds.limits()
    approx = bounds.theorem2_approximation()
    ident = bounds.theorem3_identity() and bounds.theorem3_identity(4)
    focal_checks, curves = timed("focal Monte Carlo", _focal_checks, cfg, seed)
    grid = timed("m/alpha grid", _grid, cfg, seed)
    topb = timed("noisy top-b", _topb_check, cfg, seed)
    real = timed("real ProgressiveFilter", _real_filter, cfg, seed)
    t3 = timed("Theorem 3", _theorem3, cfg, seed)
    return ReportData(
        config=cfg,
        seed=seed,
        quick=quick,
        certificates=certs,
        limits=lims,
        approximation=approx,
        identity=ident,
        example1=examples.theorem1_example(),
        example2=examples.theorem2_example(),
        bracket=examples.bracket_points(),
        focal_checks=focal_checks,
        curves=curves,
        grid=grid,
        topb=topb,
        real=real,
        real_checks=_real_checks(real),
        t3=t3,
        timings=timings,
    )


def report_numbers(data: ReportData) -> dict:
    """The JSON of every reported number (``numbers.json``), without timings and run metadata."""
    ex1, ex2, certs, real, topb, t3 = (
        data.example1,
        data.example2,
        data.certificates,
        data.real,
        data.topb,
        data.t3,
    )
    ce = t3["counterexample"]
    s211 = t3["searches"][(2, 11)]
    return {
        "theorem1_example": {
            "p_margin": ex1.p_margin,
            "p_typiclust": ex1.p_typiclust,
            "m": ex1.m,
            "alpha": ex1.alpha,
            "bound": ex1.bound,
            "exact": ex1.exact,
            "bound_after_5_rounds": float(ex1.bound_over_rounds[-1]),
        },
        "theorem2_example": {
            "eps": ex2.eps,
            "n_A": ex2.n_a,
            "m": ex2.m,
            "alpha": ex2.alpha,
            "R": ex2.rounds,
            "per_round": ex2.per_round,
            "bound": ex2.bound,
            "approx": ex2.approx,
            "first_order_rel_error": ex2.first_order_rel_error,
        },
        "monotonicity_all_proven": all(c.proven for c in certs),
        "theorem2_bracket": [
            {
                "n_A": b.n_a,
                "m": b.m,
                "q": b.q,
                "eps": b.eps,
                "R": b.rounds,
                "base": b.base,
                "condition_base_nonnegative": b.condition,
                "ratio": b.ratio,
                "base_pow_R": b.unconditional_claim,
                "lower": b.lower,
                "upper": b.upper,
            }
            for b in data.bracket
        ],
        "checks_failed": data.checks_failed,
        "n_checks": len(data.checks),
        "theorem3_counterexample": {
            "v": ce.v.tolist(),
            "p": ce.probs[0].tolist(),
            "pi": ce.pi.tolist(),
            "corr_p_v": ce.corr_p_v.tolist(),
            "E_r": ce.e_r,
            "V_bar": ce.v_bar,
        },
        "theorem3_search_2x11": {
            "eligible": s211.n_eligible,
            "violations": s211.n_violations,
            "similarly_ordered_violations": s211.n_similarly_ordered_violations,
        },
        "theorem3_gap": [
            {
                "n": g.n,
                "E_r": g.e_r,
                "E_Vbar_mc": g.mc_mean,
                "ci": [g.mc_lo, g.mc_hi],
                "E_Vbar_indep": g.indep_mean,
                "V_bar": g.v_bar,
            }
            for g in t3["gaps"]
        ],
        "real_filter": {
            res.scenario.name: {
                "q1": res.scenario.q1(),
                "trials": res.n_trials,
                "seconds": res.seconds,
                "mean_union_sizes": res.union_sizes.mean(0).tolist(),
                "mean_pool_sizes": res.pool_sizes.mean(0).tolist(),
                "groups": {
                    g: {
                        "round1": float(np.mean(res.round1[g])),
                        "round1_ci": list(res.interval("round1", g, DELTA)),
                        "round1_exact_no_cap": res.exact_round1_no_cap(g),
                        "round1_predicted": res.predicted_round1(g),
                        "round1_thm1": res.theorem1_round1(g),
                        "final": float(np.mean(res.final[g])),
                        "final_predicted": res.predicted_final(g),
                        "final_thm1": res.theorem1_final(g),
                        "final_thm2": res.theorem2_final(g),
                    }
                    for g in res.round1
                },
            }
            for res in real
        },
        "topb": {
            k: topb[k] for k in ("n", "s", "b", "noise", "agree", "rmse", "max_abs", "t1_holds")
        },
    }
