"""refine.stats: hand-worked cases, agreement with scipy, coverage by simulation, Demšar's example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from refine.errors import ConfigError, DataError
from refine.metrics import summary_table, win_rate_matrix
from refine.stats import (
    aulc_difference,
    curve_difference,
    friedman_nemenyi,
    friedman_nemenyi_matrix,
    holm,
    nemenyi_q,
    paired_tests,
    penalty_matrix,
    relative_gain_interval,
    seeds_needed,
    stratified_bootstrap,
    win_rate_intervals,
)


def tidy(curves: dict) -> pd.DataFrame:
    """{(dataset, strategy, seed): [acc_0, acc_1, ...]} → tidy results (backbone "raw")."""
    rows = []
    for (ds, st, seed), accs in curves.items():
        for c, a in enumerate(accs):
            rows.append(
                dict(
                    dataset=ds,
                    backbone="raw",
                    strategy=st,
                    seed=seed,
                    cycle=c,
                    n_labeled=10 * (c + 1),
                    accuracy=a,
                )
            )
    return pd.DataFrame(rows)


def rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- estimates
def test_aulc_difference_by_hand():
    # setting d1: paired AULC differences a−b of 0.02 and 0.04 → 3 pp; d2: 0.10 and 0.10 → 10 pp
    df = tidy(
        {
            ("d1", "a", 1): [0.60, 0.64],  # AULC 0.62
            ("d1", "b", 1): [0.60, 0.60],  # 0.60
            ("d1", "a", 2): [0.70, 0.74],  # 0.72
            ("d1", "b", 2): [0.70, 0.66],  # 0.68
            ("d2", "a", 1): [0.80, 0.80],
            ("d2", "b", 1): [0.70, 0.70],
            ("d2", "a", 2): [0.50, 0.50],
            ("d2", "b", 2): [0.40, 0.40],
        }
    )
    overall, per = aulc_difference(df, "a", "b", rng(), n_boot=500)
    assert overall.estimate == pytest.approx((3 + 10) / 2)
    per = per.set_index("dataset")
    assert per.loc["d1", "estimate"] == pytest.approx(3.0)
    # d2's differences are all 10 pp: every resample gives 10, the interval is the point
    assert (per.loc["d2", "low"], per.loc["d2", "high"]) == pytest.approx((10.0, 10.0))
    # d1's resamples can only be 2, 3 or 4 pp
    assert 2.0 - 1e-9 <= per.loc["d1", "low"] <= 3.0 <= per.loc["d1", "high"] <= 4.0 + 1e-9
    assert per.loc["d1", "n_seeds"] == 2


def test_relative_gain_estimate_equals_summary_table():
    g = np.random.default_rng(3)
    curves = {}
    for ds in ("d1", "d2"):
        for seed in range(1, 6):
            curves[(ds, "random", seed)] = list(0.6 + 0.05 * g.random(3))
            curves[(ds, "x", seed)] = list(0.63 + 0.05 * g.random(3))
    df = tidy(curves)
    overall, per = relative_gain_interval(df, "x", "random", rng(), n_boot=300)
    s = summary_table(df)
    gains = s[s.strategy == "x"].set_index("dataset")["gain_pct"]
    assert per.set_index("dataset")["estimate"].to_dict() == pytest.approx(gains.to_dict())
    assert overall.estimate == pytest.approx(gains.mean())
    assert overall.low <= overall.estimate <= overall.high


def test_curve_difference_per_cycle_by_hand():
    df = tidy(
        {
            ("d", "a", 1): [0.5, 0.70, 0.80],
            ("d", "b", 1): [0.5, 0.60, 0.80],
            ("d", "a", 2): [0.4, 0.60, 0.90],
            ("d", "b", 2): [0.4, 0.50, 0.70],
        }
    )
    cd = curve_difference(df, "a", "b", rng(), n_boot=200).set_index("cycle")
    assert cd.loc[0, "estimate"] == pytest.approx(0.0)
    assert cd.loc[1, "estimate"] == pytest.approx(10.0)  # both seeds +10 pp
    assert (cd.loc[1, "low"], cd.loc[1, "high"]) == pytest.approx((10.0, 10.0))
    assert cd.loc[2, "estimate"] == pytest.approx(10.0)  # 0 and +20 pp
    assert cd.loc[2, "low"] == pytest.approx(0.0) and cd.loc[2, "high"] == pytest.approx(20.0)


def test_bootstrap_is_seeded_by_the_generator_passed_in():
    data = [np.random.default_rng(1).normal(size=10)]

    def mean(s):
        return s[0].mean(axis=1)

    a = stratified_bootstrap(data, mean, rng(7), n_boot=200)
    b = stratified_bootstrap(data, mean, rng(7), n_boot=200)
    c = stratified_bootstrap(data, mean, rng(8), n_boot=200)
    assert a[1] == b[1] and a[2] == b[2]
    assert (a[1], a[2]) != (c[1], c[2])


def test_bootstrap_rejects_bad_options():
    with pytest.raises(ConfigError, match="method"):
        stratified_bootstrap([np.ones(3)], lambda s: s[0].mean(1), rng(), method="bca")
    with pytest.raises(ConfigError, match="level"):
        stratified_bootstrap([np.ones(3)], lambda s: s[0].mean(1), rng(), level=95)


def _coverage(method, n_strata, n_seeds, reps, g):
    """Share of ``reps`` simulated experiments whose interval covers the true difference."""
    true = np.array([1.5, -0.5, 2.0, 0.7][:n_strata])  # per-setting true mean differences (pp)
    sd = np.array([1.0, 2.0, 0.5, 1.5][:n_strata])
    target = true.mean()
    hits = 0
    for _ in range(reps):
        # paired differences with heavier tails than normal (t with 5 df), a known mean
        strata = [t + s * g.standard_t(5, size=n_seeds) for t, s in zip(true, sd, strict=True)]
        _, lo, hi = stratified_bootstrap(
            strata,
            lambda x: np.stack([a.mean(axis=1) for a in x], 1).mean(1),
            g,
            n_boot=1000,
            method=method,
        )
        hits += bool(lo <= target <= hi)
    return hits / reps


@pytest.mark.parametrize("n_strata", [1, 3])
def test_expanded_bootstrap_coverage_is_nominal(n_strata):
    # 2000 simulated experiments: the binomial s.e. of a 95 % coverage is 0.49 pp, so the
    # 93–97 % acceptance band is ±4 s.e.; 10 seeds per setting as in the paper's protocol.
    cov = _coverage("expanded", n_strata, 10, 2000, np.random.default_rng(2024 + n_strata))
    assert 0.93 <= cov <= 0.97, cov


def test_plain_percentile_bootstrap_undercovers_with_ten_seeds():
    # Why "expanded" is the default: with 10 seeds the percentile interval is too narrow
    # (about 91 % coverage; s.e. 0.6 pp at 2000 experiments).
    cov = _coverage("percentile", 1, 10, 2000, np.random.default_rng(11))
    assert cov < 0.935, cov


# --------------------------------------------------------------------------- win rates
def _win_data():
    g = np.random.default_rng(5)
    curves = {}
    for ds in ("d1", "d2"):
        for seed in range(1, 11):
            base = 0.6 + 0.05 * g.random()
            curves[(ds, "a", seed)] = [base + 0.02 * g.random()]
            curves[(ds, "b", seed)] = [base + 0.01 * g.random()]
            curves[(ds, "c", seed)] = [base - 0.01]
    return tidy(curves)


def test_win_rate_intervals_estimate_equals_the_matrix():
    df = _win_data()
    wr = win_rate_intervals(df, rng(), n_boot=300).set_index(["strategy", "versus"])
    mat = win_rate_matrix(df)
    for (i, j), row in wr.iterrows():
        assert row.win_rate == pytest.approx(mat.loc[i, j])
        assert row.low <= row.win_rate <= row.high
    # a beats c on every seed (c = base − 0.01 < base ≤ a): 20/20, the bootstrap interval is 1
    assert wr.loc[("a", "c"), "win_rate"] == 1.0
    assert wr.loc[("a", "c"), "low"] == 1.0


def test_wilson_interval_by_hand():
    # 8 wins of 10: Wilson's interval at 95 % is (0.490, 0.943)
    df = tidy(
        {("d", "a", s): [0.9 if s <= 8 else 0.1] for s in range(1, 11)}
        | {("d", "b", s): [0.5] for s in range(1, 11)}
    )
    wr = win_rate_intervals(df, rng(), method="wilson").set_index(["strategy", "versus"])
    row = wr.loc[("a", "b")]
    assert (row.wins, row.n) == (8, 10)
    assert row.low == pytest.approx(0.4902, abs=1e-4)
    assert row.high == pytest.approx(0.9433, abs=1e-4)
    z = sps.norm.ppf(0.975)
    centre = (0.8 + z**2 / 20) / (1 + z**2 / 10)
    half = z / (1 + z**2 / 10) * math.sqrt(0.8 * 0.2 / 10 + z**2 / 400)
    assert (row.low, row.high) == pytest.approx((centre - half, centre + half))


# --------------------------------------------------------------------------- tests
def test_holm_by_hand():
    # sorted 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = holm([0.2, np.nan, 0.9])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.4) and out[2] == pytest.approx(0.9)


@pytest.mark.parametrize("test", ["wilcoxon", "t"])
def test_paired_tests_agree_with_scipy(test):
    df = _win_data()
    out = paired_tests(df, test=test).set_index(["a", "b"])
    from refine.metrics import aulc_table

    wide = aulc_table(df).pivot_table(
        index=["dataset", "backbone", "seed"], columns="strategy", values="aulc"
    )
    fn = sps.wilcoxon if test == "wilcoxon" else sps.ttest_rel
    ps = []
    for x, y in [("a", "b"), ("a", "c"), ("b", "c")]:
        r = fn(wide[x], wide[y])
        assert out.loc[(x, y), "p"] == pytest.approx(r.pvalue)
        assert out.loc[(x, y), "statistic"] == pytest.approx(r.statistic)
        assert out.loc[(x, y), "n"] == 20
        ps.append(r.pvalue)
    np.testing.assert_allclose(out["p_holm"], holm(ps))
    ref = paired_tests(df, reference="c", test=test)
    assert list(zip(ref.a, ref.b, strict=True)) == [("c", "a"), ("c", "b")]


# --------------------------------------------------------------------------- Friedman–Nemenyi
# Demšar (2006), "Statistical comparisons of classifiers over multiple data sets", JMLR 7,
# Table 6: AUC of C4.5 with and without curtailing (m) and confidence (cf) tuning on 14 data sets.
DEMSAR_T6 = [
    [0.763, 0.768, 0.771, 0.798],  # adult (sample)
    [0.599, 0.591, 0.590, 0.569],  # breast cancer
    [0.954, 0.971, 0.968, 0.967],  # breast cancer wisconsin
    [0.628, 0.661, 0.654, 0.657],  # cmc
    [0.882, 0.888, 0.886, 0.898],  # ionosphere
    [0.936, 0.931, 0.916, 0.931],  # iris
    [0.661, 0.668, 0.609, 0.685],  # liver disorders
    [0.583, 0.583, 0.563, 0.625],  # lung cancer
    [0.775, 0.838, 0.866, 0.875],  # lymphography
    [1.000, 1.000, 1.000, 1.000],  # mushroom
    [0.940, 0.962, 0.965, 0.962],  # primary tumor
    [0.619, 0.666, 0.614, 0.669],  # rheum
    [0.972, 0.981, 0.975, 0.975],  # voting
    [0.957, 0.978, 0.946, 0.970],  # wine
]
DEMSAR_NAMES = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]


def demsar_table(untie_voting: bool) -> pd.DataFrame:
    t = pd.DataFrame(DEMSAR_T6, columns=DEMSAR_NAMES)
    if untie_voting:
        # The printed table rounds C4.5+cf and C4.5+m+cf on "voting" to 0.975 each; Demšar's
        # ranks (2 and 3 there) come from the unrounded AUCs, C4.5+cf being the larger.
        t.loc[12, "C4.5+cf"] = 0.9751
    return t


def test_nemenyi_critical_values_of_demsar_table_5a():
    # Demšar prints three decimals (k = 3: 2.3437 appears as 2.343)
    for k, q in zip((2, 3, 4, 5, 10), (1.960, 2.343, 2.569, 2.728, 3.164), strict=True):
        assert nemenyi_q(k) == pytest.approx(q, abs=1e-3)
    assert nemenyi_q(4, 0.10) == pytest.approx(2.291, abs=1e-3)


def test_friedman_nemenyi_reproduces_demsar_worked_example():
    r = friedman_nemenyi_matrix(demsar_table(untie_voting=True))
    # Sec. 3.2.2: average ranks 3.143, 2.000, 2.893, 1.964; χ²_F = 9.28; F_F = 3.69
    assert r.ranks.round(3).tolist() == [3.143, 2.000, 2.893, 1.964]
    assert r.chi2 == pytest.approx(9.28, abs=0.005)
    assert r.iman_davenport_f == pytest.approx(3.69, abs=0.005)
    assert r.p_f < 0.05  # "the null-hypothesis is rejected" (F(3, 39) critical value 2.85)
    assert sps.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=0.005)
    # CD = 2.569 · sqrt(4·5 / (6·14)) = 1.25: no pair differs at α = 0.05
    assert r.critical_difference == pytest.approx(1.25, abs=0.005)
    assert r.ranks.max() - r.ranks.min() < r.critical_difference
    # at α = 0.10, CD = 1.12: C4.5 is worse than C4.5+m and C4.5+m+cf, nothing else differs
    r10 = friedman_nemenyi_matrix(demsar_table(untie_voting=True), alpha=0.10)
    assert r10.critical_difference == pytest.approx(1.12, abs=0.005)
    diff = r10.ranks.to_numpy()[:, None] - r10.ranks.to_numpy()[None, :]
    sig = {
        (DEMSAR_NAMES[i], DEMSAR_NAMES[j])
        for i in range(4)
        for j in range(4)
        if diff[i, j] > r10.critical_difference
    }
    assert sig == {("C4.5", "C4.5+m"), ("C4.5", "C4.5+m+cf")}


def test_friedman_on_the_printed_table_by_hand():
    # with the printed (tied) voting row: C4.5+cf ranks 41/14, C4.5+m+cf 27/14
    r = friedman_nemenyi_matrix(demsar_table(untie_voting=False))
    np.testing.assert_allclose(r.ranks.to_numpy(), np.array([44, 28, 41, 27]) / 14)
    assert r.nemenyi_p.loc["C4.5", "C4.5+m+cf"] == pytest.approx(
        r.nemenyi_p.loc["C4.5+m+cf", "C4.5"]
    )


def test_friedman_chi2_equals_scipy_without_ties():
    g = np.random.default_rng(9)
    scores = pd.DataFrame(g.normal(size=(12, 5)) + np.arange(5) * 0.3, columns=list("abcde"))
    r = friedman_nemenyi_matrix(scores)
    ref = sps.friedmanchisquare(*scores.to_numpy().T)
    assert r.chi2 == pytest.approx(ref.statistic)
    assert r.p_chi2 == pytest.approx(ref.pvalue)


def test_friedman_nemenyi_on_results_blocks():
    df = _win_data()
    by_trial = friedman_nemenyi(df)
    assert by_trial.n_blocks == 20
    by_setting = friedman_nemenyi(df, block="setting")
    assert by_setting.n_blocks == 2
    with pytest.raises(DataError, match="at least 3 methods"):
        friedman_nemenyi(df[df.strategy != "c"])


# --------------------------------------------------------------------------- penalty matrix
def test_penalty_matrix_by_hand():
    # three seeds, cycles 1 and 2 (cycle 0 ignored). Cycle 1: a − b = +10, +11, +12 pp
    # (t = 19.05 > t_{0.975, 2} = 4.30); cycle 2: −5, +5, +1 pp (not significant).
    df = tidy(
        {
            ("d", "a", 1): [0.5, 0.60, 0.55],
            ("d", "b", 1): [0.5, 0.50, 0.60],
            ("d", "a", 2): [0.5, 0.61, 0.65],
            ("d", "b", 2): [0.5, 0.50, 0.60],
            ("d", "a", 3): [0.5, 0.62, 0.61],
            ("d", "b", 3): [0.5, 0.50, 0.60],
        }
    )
    p = penalty_matrix(df)
    assert p.loc["a", "b"] == pytest.approx(0.5)  # one of the two steps, weight 1/2
    assert p.loc["b", "a"] == 0.0
    # two settings: the maximum of a cell is the number of settings
    df2 = pd.concat([df, df.assign(dataset="e")])
    assert penalty_matrix(df2).loc["a", "b"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- power
def test_seeds_needed_matches_cohen_and_the_noncentral_t():
    # Cohen (1988): a paired t test for d = 0.5 at α = 0.05 and 80 % power needs 34 pairs
    assert seeds_needed(0.5, 1.0) == 34
    for d in (0.3, 0.8, 1.5):
        n = int(seeds_needed(d, 1.0))

        def power(m, d=d):
            crit = sps.t.ppf(0.975, m - 1)
            nc = d * math.sqrt(m)
            return sps.nct.sf(crit, m - 1, nc) + sps.nct.cdf(-crit, m - 1, nc)

        assert power(n) >= 0.8 > power(n - 1)
    assert seeds_needed(0.0, 1.0) == math.inf
    assert seeds_needed(5.0, 1.0) == 3  # huge effects: where statsmodels' solver gives up
    assert seeds_needed(1e-6, 1.0) == math.inf  # beyond 10⁷ seeds
    from statsmodels.stats.power import TTestPower

    assert seeds_needed(0.4, 1.0) == math.ceil(TTestPower().solve_power(0.4, None, 0.05, 0.8))
    assert seeds_needed(-0.5, 1.0) == 34
    with pytest.raises(ConfigError):
        seeds_needed(0.5, 1.0, power=1.5)


def test_page_trend_by_hand_and_direction():
    from refine.stats import page_trend

    # Page (1963): L = Σ_j j · R_j; three blocks each ranking the three treatments 1, 2, 3
    # in the hypothesised order give L = 1·3 + 2·6 + 3·9 = 42 (the maximum) and a small p
    inc = pd.DataFrame([[0.1, 0.2, 0.3], [0.0, 0.5, 0.9], [1.0, 2.0, 3.0]])
    L, p = page_trend(inc)
    assert L == 42 and p < 0.01
    L_rev, p_rev = page_trend(inc.iloc[:, ::-1])
    assert L_rev == 1 * 9 + 2 * 6 + 3 * 3 and p_rev > 0.9
