"""Statistics on the tidy results: paired intervals, paired tests, ranks and power.

Every comparison is *paired by seed*: trials of two strategies with the same (dataset, backbone,
seed) share the initial labeled pool and the head initialisation, so their difference removes the
seed-to-seed noise that the pool draw causes. Aggregates over several (dataset, backbone)
settings are *stratified*: seeds are resampled within each setting, never across (rliable,
Agarwal et al., NeurIPS 2021).

What is here
------------
- :func:`stratified_bootstrap`: a seeded, vectorised stratified bootstrap with the percentile
  interval or Hesterberg's expanded percentile interval (default; Hesterberg, "What teachers
  should know about the bootstrap", The American Statistician 69(4), 2015), which corrects the
  percentile interval's narrowness for the 10 seeds of the paper's protocol.
- :func:`aulc_difference`, :func:`relative_gain_interval`, :func:`curve_difference`:
  intervals for AULC differences, relative gains over a baseline and learning-curve differences.
- :func:`win_rate_intervals`: win rates (the paper's definition) with bootstrap or Wilson
  intervals.
- :func:`paired_tests`: paired Wilcoxon signed-rank and t tests (scipy.stats) with Holm's
  step-down correction (statsmodels).
- :func:`friedman_nemenyi`: Friedman's test, the Iman–Davenport F, average ranks, Nemenyi's
  critical difference and p-values (scipy.stats, scikit-posthocs) as in Demšar, "Statistical
  comparisons of classifiers over multiple data sets", JMLR 7, 2006.
- :func:`penalty_matrix`: BADGE's pairwise penalty matrix (Ash et al., ICLR 2020, Sec. 5; also
  Lüth et al., NeurIPS 2023): a paired t test per setting and budget step, each significant win
  weighted 1/#steps.
- :func:`seeds_needed`: the number of seeds a paired t test needs to resolve an observed mean
  difference at a given power (the noncentral t, as statsmodels' ``TTestPower``).

All randomness comes from a ``numpy.random.Generator`` passed in (no global RNG).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from refine.errors import ConfigError, DataError, check_positive_int, unknown_choice
from refine.metrics import SETTING_KEYS, aulc_table, check_metric

INTERVAL_METHODS = ("expanded", "percentile")
TESTS = ("wilcoxon", "t")


# --------------------------------------------------------------------------- bootstrap core
@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval at ``level``."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    def excludes(self, value: float) -> bool:
        return bool(self.low > value or self.high < value)

    def fmt(self, scale: float = 1.0, digits: int = 2) -> str:
        f = f"{{:.{digits}f}}"
        return (
            f"{f.format(self.estimate * scale)} "
            f"[{f.format(self.low * scale)}, {f.format(self.high * scale)}]"
        )


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ConfigError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


def stratified_bootstrap(
    strata: Sequence[np.ndarray],
    statistic: Callable[[list[np.ndarray]], np.ndarray],
    rng: np.random.Generator,
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "expanded",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified bootstrap interval of a (vector) statistic.

    Parameters
    ----------
    strata : sequence of arrays
        One array per stratum (setting); axis 0 indexes the paired units (seeds), which are
        resampled with replacement within the stratum. Further axes (strategies, cycles) travel
        with their unit, which keeps the pairing.
    statistic : callable
        ``statistic(samples) -> array of shape (B, ...)`` where ``samples[s]`` has shape
        ``(B, n_s, ...)``: vectorised over ``B`` resamples. It is called once with ``B = 1`` on
        the data themselves for the estimate.
    rng : numpy.random.Generator
        The only source of randomness.
    n_boot : int
        Number of bootstrap resamples.
    level : float
        Two-sided level of the interval.
    method : {"expanded", "percentile"}
        ``"percentile"``: quantiles ``(1 ± level)/2`` of the bootstrap distribution.
        ``"expanded"`` (Hesterberg 2015): the percentile interval at the widened level whose
        normal quantile is ``sqrt(n/(n−1)) · t_{(1+level)/2, df}``, with ``n`` the smallest
        stratum and ``df = Σ (n_s − 1)``; it undoes the bootstrap's ``(n−1)/n`` variance and the
        normal-vs-t gap that make percentile intervals too narrow for 10 seeds.

    Returns
    -------
    estimate, low, high : ndarray
        Arrays of the statistic's shape.
    """
    n_boot = check_positive_int("n_boot", n_boot)
    level = _check_level(level)
    if method not in INTERVAL_METHODS:
        raise unknown_choice("method", method, INTERVAL_METHODS)
    arrays = [np.asarray(a, dtype=float) for a in strata]
    if not arrays or any(len(a) == 0 for a in arrays):
        raise DataError("stratified_bootstrap needs at least one unit in every stratum")
    estimate = np.asarray(statistic([a[None] for a in arrays]))[0]
    samples = [a[rng.integers(0, len(a), size=(n_boot, len(a)))] for a in arrays]
    boot = np.asarray(statistic(samples))
    alpha = 1 - level
    if method == "expanded":
        n_min = min(len(a) for a in arrays)
        df = sum(len(a) - 1 for a in arrays)
        if n_min >= 2 and df >= 1:
            z = math.sqrt(n_min / (n_min - 1)) * sps.t.ppf(1 - alpha / 2, df)
            alpha = float(2 * sps.norm.sf(z))
    with np.errstate(invalid="ignore"):
        low = np.nanquantile(boot, alpha / 2, axis=0)
        high = np.nanquantile(boot, 1 - alpha / 2, axis=0)
    return estimate, low, high


# --------------------------------------------------------------------------- paired tables
def per_trial(results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Per-trial AULC of ``metric`` (:func:`refine.metrics.aulc_table`); AULC tables pass."""
    if "aulc" in results.columns:
        return results
    return aulc_table(results, metric)


def paired_aulc(
    results: pd.DataFrame, strategies: Sequence[str], metric: str = "accuracy"
) -> dict[tuple[str, str], pd.DataFrame]:
    """Per setting, the seeds × strategies AULC table of the seeds every strategy has.

    Settings lacking one of ``strategies`` (or without a common seed) are left out.
    """
    pt = per_trial(results, metric)
    out = {}
    for key, g in pt.groupby(SETTING_KEYS, sort=True):
        wide = g.pivot_table(index="seed", columns="strategy", values="aulc")
        if not set(strategies) <= set(wide.columns):
            continue
        wide = wide[list(strategies)].dropna()
        if len(wide):
            out[key] = wide
    return out


def _need(paired: dict, what: str) -> None:
    if not paired:
        raise DataError(f"{what}: no (dataset, backbone) setting has every strategy on a seed")


def _setting_rows(paired: dict, est, low, high, extra: dict | None = None) -> list[dict]:
    rows = []
    for i, (ds, bb) in enumerate(paired):
        rows.append(
            dict(
                dataset=ds,
                backbone=bb,
                n_seeds=len(paired[(ds, bb)]),
                estimate=float(est[i]),
                low=float(low[i]),
                high=float(high[i]),
                **(extra or {}),
            )
        )
    return rows


def aulc_difference(
    results: pd.DataFrame,
    a: str,
    b: str,
    rng: np.random.Generator,
    metric: str = "accuracy",
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "expanded",
) -> tuple[Interval, pd.DataFrame]:
    """Paired AULC difference ``a − b`` (percentage points): overall and per setting.

    The overall estimate is the mean over settings of the per-setting mean paired difference;
    its interval comes from the stratified bootstrap over seeds.

    Returns
    -------
    Interval
        Overall difference in pp.
    DataFrame
        One row per setting: dataset, backbone, n_seeds, estimate, low, high (pp).
    """
    paired = paired_aulc(results, [a, b], metric)
    _need(paired, f"aulc_difference({a!r}, {b!r})")
    diffs = [100 * (w[a].to_numpy() - w[b].to_numpy()) for w in paired.values()]

    def stat(samples):
        per = np.stack([s.mean(axis=1) for s in samples], axis=1)  # (B, settings)
        return np.concatenate([per.mean(axis=1, keepdims=True), per], axis=1)

    est, lo, hi = stratified_bootstrap(diffs, stat, rng, n_boot, level, method)
    overall = Interval(float(est[0]), float(lo[0]), float(hi[0]), level)
    return overall, pd.DataFrame(_setting_rows(paired, est[1:], lo[1:], hi[1:]))


def relative_gain_interval(
    results: pd.DataFrame,
    strategy: str,
    baseline: str,
    rng: np.random.Generator,
    metric: str = "accuracy",
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "expanded",
) -> tuple[Interval, pd.DataFrame]:
    """Relative AULC gain ``(mean_s − mean_base)/mean_base · 100`` (%) with paired intervals.

    Per setting the gain of the seed means (docs/protocol.md §4); the overall gain is their mean over
    settings. Resampling draws seeds, so a resample keeps each seed's pair together.
    """
    paired = paired_aulc(results, [strategy, baseline], metric)
    _need(paired, f"relative_gain_interval({strategy!r}, {baseline!r})")
    arrays = [w[[strategy, baseline]].to_numpy() for w in paired.values()]

    def stat(samples):
        per = np.stack(
            [(s[..., 0].mean(1) - s[..., 1].mean(1)) / s[..., 1].mean(1) * 100 for s in samples],
            axis=1,
        )
        return np.concatenate([per.mean(axis=1, keepdims=True), per], axis=1)

    est, lo, hi = stratified_bootstrap(arrays, stat, rng, n_boot, level, method)
    overall = Interval(float(est[0]), float(lo[0]), float(hi[0]), level)
    return overall, pd.DataFrame(_setting_rows(paired, est[1:], lo[1:], hi[1:]))


def curve_difference(
    results: pd.DataFrame,
    a: str,
    b: str,
    rng: np.random.Generator,
    metric: str = "accuracy",
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "expanded",
) -> pd.DataFrame:
    """Per setting and cycle, the paired difference of ``metric`` ``a − b`` in pp with interval.

    Returns
    -------
    DataFrame
        dataset, backbone, cycle, n_labeled, n_seeds, estimate, low, high.
    """
    check_metric(results, metric)
    rows = []
    for (ds, bb), g in results.groupby(SETTING_KEYS, sort=True):
        wide = g[g.strategy.isin([a, b])].pivot_table(
            index="seed", columns=["strategy", "cycle"], values=metric
        )
        if a not in wide.columns.get_level_values(0) or b not in wide.columns.get_level_values(0):
            continue
        diff = (wide[a] - wide[b]).dropna(axis=0, how="any").dropna(axis=1, how="all")
        if diff.empty:
            continue
        est, lo, hi = stratified_bootstrap(
            [100 * diff.to_numpy()], lambda s: s[0].mean(axis=1), rng, n_boot, level, method
        )
        n_lab = g[g.strategy == a].groupby("cycle")["n_labeled"].mean()
        for k, cycle in enumerate(diff.columns):
            rows.append(
                dict(
                    dataset=ds,
                    backbone=bb,
                    cycle=int(cycle),
                    n_labeled=float(n_lab.get(cycle, np.nan)),
                    n_seeds=len(diff),
                    estimate=float(est[k]),
                    low=float(lo[k]),
                    high=float(hi[k]),
                )
            )
    if not rows:
        raise DataError(f"curve_difference({a!r}, {b!r}): no setting has both on a common seed")
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- win rates
def win_rate_intervals(
    results: pd.DataFrame,
    rng: np.random.Generator | None,
    strategies: Sequence[str] | None = None,
    metric: str = "accuracy",
    method: str = "bootstrap",
    n_boot: int = 2000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Win rates (the paper's definition) with intervals, one row per ordered pair.

    Parameters
    ----------
    rng : numpy.random.Generator or None
        The bootstrap's randomness (unused, may be None, with ``method="wilson"``).
    method : {"bootstrap", "wilson"}
        ``"bootstrap"``: seeds resampled within each setting, pairs kept (the percentile
        interval; it collapses to a point when every resample wins, e.g. 10/10).
        ``"wilson"``: Wilson's score interval for the pooled wins ``k`` out of the ``n``
        (setting, seed) comparisons (seeds are independent trials; scipy's ``binomtest``),
        which stays informative at 0 % and 100 %.

    Returns
    -------
    DataFrame
        strategy, versus, win_rate, low, high, n (compared trials), wins.
    """
    if method not in ("bootstrap", "wilson"):
        raise unknown_choice("method", method, ("bootstrap", "wilson"))
    if method == "bootstrap" and rng is None:
        raise ConfigError("win_rate_intervals(method='bootstrap') needs a numpy Generator rng")
    pt = per_trial(results, metric)
    names = list(strategies or sorted(pt["strategy"].unique()))
    tables = []
    for _, g in pt.groupby(SETTING_KEYS, sort=True):
        wide = g.pivot_table(index="seed", columns="strategy", values="aulc")
        tables.append(wide.reindex(columns=names))
    rows = []
    for i in names:
        for j in names:
            if i == j:
                continue
            strata = []
            for w in tables:
                pair = w[[i, j]].dropna()
                if len(pair):
                    strata.append(pair.to_numpy())
            if not strata:
                continue
            wins = sum(int((s[:, 0] > s[:, 1]).sum()) for s in strata)
            n = sum(len(s) for s in strata)

            def stat(samples):
                return np.stack([(s[..., 0] > s[..., 1]).mean(axis=1) for s in samples], 1).mean(1)

            est = float(stat([s[None] for s in strata])[0])
            if method == "bootstrap":
                _, lo, hi = stratified_bootstrap(
                    strata, stat, rng, n_boot, level, method="percentile"
                )
                lo, hi = float(lo), float(hi)
            else:
                ci = sps.binomtest(wins, n).proportion_ci(confidence_level=level, method="wilson")
                lo, hi = float(ci.low), float(ci.high)
            rows.append(dict(strategy=i, versus=j, win_rate=est, low=lo, high=hi, n=n, wins=wins))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- paired tests
def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (statsmodels' ``multipletests``); NaNs stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def paired_tests(
    results: pd.DataFrame,
    strategies: Sequence[str] | None = None,
    reference: str | None = None,
    test: str = "wilcoxon",
    metric: str = "accuracy",
) -> pd.DataFrame:
    """Paired two-sided tests of AULC between strategies, Holm-corrected over the family.

    The pairs are the (setting, seed) trials both strategies ran; the tests are scipy's
    ``wilcoxon`` (signed-rank, zero differences dropped as in Wilcoxon's original) and
    ``ttest_rel``.

    Parameters
    ----------
    reference : str, optional
        Compare every strategy with this one (``k − 1`` tests); default: all ``k(k−1)/2`` pairs.
    test : {"wilcoxon", "t"}

    Returns
    -------
    DataFrame
        a, b, n, mean_diff_pp (a − b), statistic, p, p_holm.
    """
    if test not in TESTS:
        raise unknown_choice("test", test, TESTS)
    pt = per_trial(results, metric)
    names = list(strategies or sorted(pt["strategy"].unique()))
    if reference is not None and reference not in names:
        raise ConfigError(f"reference {reference!r} is not among the strategies {names}")
    pairs = (
        [(reference, n) for n in names if n != reference]
        if reference
        else [(x, y) for k, x in enumerate(names) for y in names[k + 1 :]]
    )
    wide = pt.pivot_table(index=[*SETTING_KEYS, "seed"], columns="strategy", values="aulc")
    rows = []
    for x, y in pairs:
        if x not in wide or y not in wide:
            continue
        pair = wide[[x, y]].dropna()
        d = pair[x].to_numpy() - pair[y].to_numpy()
        stat, p = np.nan, np.nan
        if len(d) >= 2 and np.any(d != 0):
            if test == "wilcoxon":
                r = sps.wilcoxon(pair[x].to_numpy(), pair[y].to_numpy(), zero_method="wilcox")
            else:
                r = sps.ttest_rel(pair[x].to_numpy(), pair[y].to_numpy())
            stat, p = float(r.statistic), float(r.pvalue)
        elif len(d) >= 2:
            p = 1.0  # identical AULCs: no evidence of a difference
        rows.append(
            dict(a=x, b=y, n=len(d), mean_diff_pp=100 * float(np.mean(d)), statistic=stat, p=p)
        )
    out = pd.DataFrame(rows, columns=["a", "b", "n", "mean_diff_pp", "statistic", "p"])
    out["p_holm"] = holm(out["p"].to_numpy()) if len(out) else []
    return out


# --------------------------------------------------------------------------- Friedman–Nemenyi
@dataclass(frozen=True)
class RankTest:
    """Friedman's test with Nemenyi's post-hoc comparison (Demšar 2006, Sec. 3.2.2)."""

    ranks: pd.Series  # average rank per method (1 = best)
    n_blocks: int
    chi2: float
    p_chi2: float
    iman_davenport_f: float
    p_f: float
    q_alpha: float
    critical_difference: float
    alpha: float
    nemenyi_p: pd.DataFrame


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value ``q_α`` of the Nemenyi test: the studentized range quantile / √2.

    Demšar (2006), Table 5(a): 1.960, 2.343, 2.569, ... for k = 2, 3, 4 at α = 0.05.
    """
    k = check_positive_int("k", k, minimum=2)
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(sps.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def friedman_nemenyi_matrix(
    scores: pd.DataFrame, alpha: float = 0.05, higher_is_better: bool = True
) -> RankTest:
    """Friedman + Nemenyi on a blocks × methods table of scores (rows with NaN are dropped).

    Ranks within each block (ties share the mean rank), Friedman's χ² (without tie correction,
    as in Demšar's worked example) and the Iman–Davenport
    ``F = (N−1)χ²/(N(k−1) − χ²)`` with (k−1, (k−1)(N−1)) degrees of freedom, Nemenyi's
    ``CD = q_α · sqrt(k(k+1)/(6N))`` and its pairwise p-values (scikit-posthocs).
    """
    import scikit_posthocs as sp

    data = scores.dropna(axis=0, how="any")
    n, k = data.shape
    if k < 3:
        raise DataError(f"Friedman's test needs at least 3 methods, got {k}")
    if n < 2:
        raise DataError(f"Friedman's test needs at least 2 complete blocks, got {n}")
    vals = data.to_numpy(dtype=float)
    ranks = sps.rankdata(-vals if higher_is_better else vals, axis=1)
    avg = pd.Series(ranks.mean(axis=0), index=data.columns, name="rank")
    # Demšar's eq. (Sec. 3.2.2) from the average ranks; equal to scipy's friedmanchisquare
    # without ties (scipy also corrects for ties, Demšar's worked example does not).
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(avg.to_numpy() ** 2)) - k * (k + 1) ** 2 / 4)
    p = float(sps.chi2.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denom if denom > 0 else np.inf
    p_f = float(sps.f.sf(f, k - 1, (k - 1) * (n - 1))) if np.isfinite(f) else 0.0
    q = nemenyi_q(k, alpha)
    cd = q * math.sqrt(k * (k + 1) / (6 * n))
    nem = sp.posthoc_nemenyi_friedman(-vals if higher_is_better else vals)
    nem.index = nem.columns = data.columns
    return RankTest(avg, n, float(chi2), float(p), float(f), p_f, q, cd, alpha, nem)


def friedman_nemenyi(
    results: pd.DataFrame,
    strategies: Sequence[str] | None = None,
    block: str = "trial",
    alpha: float = 0.05,
    metric: str = "accuracy",
) -> RankTest:
    """Friedman + Nemenyi over strategies on AULC.

    Parameters
    ----------
    block : {"trial", "setting"}
        ``"trial"``: every (setting, seed) is a block (the AL benchmarks' use with few data
        sets); ``"setting"``: the seed-mean AULC per (dataset, backbone), Demšar's data sets.
    """
    if block not in ("trial", "setting"):
        raise unknown_choice("block", block, ("trial", "setting"))
    pt = per_trial(results, metric)
    names = list(strategies or sorted(pt["strategy"].unique()))
    keys = [*SETTING_KEYS, "seed"] if block == "trial" else SETTING_KEYS
    table = pt[pt.strategy.isin(names)].pivot_table(index=keys, columns="strategy", values="aulc")
    return friedman_nemenyi_matrix(table.reindex(columns=names), alpha=alpha)


# --------------------------------------------------------------------------- penalty matrix
def penalty_matrix(
    results: pd.DataFrame,
    strategies: Sequence[str] | None = None,
    alpha: float = 0.05,
    metric: str = "accuracy",
    min_cycle: int = 1,
) -> pd.DataFrame:
    """BADGE's pairwise penalty matrix (Ash et al., ICLR 2020, Sec. 5).

    For every setting and every budget step (cycle ≥ ``min_cycle``; cycle 0 is the shared random
    initial pool) a two-sided paired t test over seeds compares the accuracies of i and j; when
    ``t > t_{1−α/2, n−1}`` (i significantly better), ``P[i, j]`` grows by ``1/L`` with ``L`` the
    setting's number of steps. So ``P[i, j]`` counts, in settings, how often i beat j; its
    maximum is the number of settings, and the column mean is how often a strategy loses.
    """
    check_metric(results, metric)
    names = list(strategies or sorted(results["strategy"].unique()))
    k = len(names)
    pen = np.zeros((k, k))
    for _, g in results[results.strategy.isin(names)].groupby(SETTING_KEYS, sort=True):
        g = g[g.cycle >= min_cycle]
        wide = g.pivot_table(index="seed", columns=["strategy", "cycle"], values=metric)
        cycles = sorted(g["cycle"].unique())
        if not cycles:
            continue
        weight = 1.0 / len(cycles)
        for c in cycles:
            for a, i in enumerate(names):
                for b, j in enumerate(names):
                    if a == b or (i, c) not in wide or (j, c) not in wide:
                        continue
                    d = (wide[(i, c)] - wide[(j, c)]).dropna().to_numpy()
                    if len(d) < 2:
                        continue
                    sd = d.std(ddof=1)
                    if sd == 0:
                        if d.mean() > 0:  # i better on every seed by the same margin
                            pen[a, b] += weight
                        continue
                    t = d.mean() / (sd / math.sqrt(len(d)))
                    if t > sps.t.ppf(1 - alpha / 2, len(d) - 1):
                        pen[a, b] += weight
    return pd.DataFrame(
        pen, index=pd.Index(names, name="strategy"), columns=pd.Index(names, name="versus")
    )


# --------------------------------------------------------------------------- trend
def page_trend(scores: pd.DataFrame) -> tuple[float, float]:
    """Page's L test for an increasing trend across ordered treatments (scipy's
    ``page_trend_test``; Page, JASA 58, 1963).

    ``scores`` is blocks × treatments with the columns in the hypothesised increasing order
    (Table 2: seeds × the values of R, α or m); rows with NaN are dropped. Returns (L, p), the
    one-sided p-value of "no trend" against "increasing".
    """
    data = scores.dropna(axis=0, how="any")
    if data.shape[1] < 3 or data.shape[0] < 2:
        raise DataError("Page's trend test needs at least 3 ordered treatments and 2 blocks")
    r = sps.page_trend_test(data.to_numpy(dtype=float))
    return float(r.statistic), float(r.pvalue)


# --------------------------------------------------------------------------- power
def paired_t_power(effect_size: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample (paired) t test with ``n`` pairs at effect size d.

    ``P(|T| > t_{1−α/2, n−1})`` for ``T`` noncentral t with ``n − 1`` degrees of freedom and
    noncentrality ``d·sqrt(n)`` (Cohen, "Statistical power analysis", 1988, ch. 2).
    """
    crit = sps.t.ppf(1 - alpha / 2, n - 1)
    nc = effect_size * math.sqrt(n)
    return float(sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc))


def seeds_needed(
    mean_diff: float, sd_diff: float, power: float = 0.8, alpha: float = 0.05
) -> float:
    """Seeds a two-sided paired t test needs to detect ``mean_diff`` at ``power``.

    The smallest ``n ≥ 2`` with :func:`paired_t_power` ``≥ power`` at effect size
    ``|mean_diff|/sd_diff`` (the same noncentral-t power as statsmodels' ``TTestPower``; solved by
    doubling and bisection, which never fails to converge); ``inf`` when the difference is zero
    or more than 10⁷ seeds would be needed, 2 when every difference is equal (sd 0).
    """
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ConfigError(f"power and alpha must lie in (0, 1), got {power!r}, {alpha!r}")
    if not np.isfinite(mean_diff) or not np.isfinite(sd_diff) or sd_diff < 0:
        raise ConfigError("seeds_needed needs finite mean_diff and sd_diff >= 0")
    if mean_diff == 0:
        return math.inf
    if sd_diff == 0:
        return 2.0
    d = abs(mean_diff) / sd_diff
    lo, hi = 1, 2  # power(lo) < target (or lo = 1, no test), power(hi) >= target
    while paired_t_power(d, hi, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > 10**7:
            return math.inf
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if paired_t_power(d, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return float(hi)
