"""``refine report DIR --stats``: every estimate with its 95 % interval, paired tests, ranks.

Tables (printed and written as CSV beside the figures):

- ``stats_summary.csv``: per (dataset, backbone, strategy) the mean AULC with its bootstrap
  interval over seeds, the relative gain over the baseline and the paired AULC difference from it
  (pp) with paired intervals, and the Holm-corrected paired Wilcoxon p-value against it;
- ``stats_win_rates.csv``: every ordered pair's win rate with its stratified bootstrap and Wilson
  intervals;
- ``penalty_matrix.csv`` and ``penalty_matrix.png``: BADGE's pairwise penalty matrix;
- ``cd_ranks.csv`` and ``cd_diagram.png``: Friedman + Nemenyi average ranks and the
  critical-difference diagram (blocks: the (setting, seed) trials).

See :mod:`refine.stats` for the methods and their references.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from refine.metrics import SETTING_KEYS, check_metric
from refine.stats import (
    aulc_difference,
    friedman_nemenyi,
    paired_aulc,
    paired_tests,
    penalty_matrix,
    per_trial,
    relative_gain_interval,
    stratified_bootstrap,
    win_rate_intervals,
)
from refine.stats_plots import metric_label, plot_cd_diagram, plot_penalty_matrix


def summary_with_intervals(
    results: pd.DataFrame,
    rng: np.random.Generator,
    baseline: str = "random",
    metric: str = "accuracy",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """Mean AULC, gain and paired difference against ``baseline`` per setting, with intervals."""
    pt = per_trial(results, metric)
    rows = []
    for (ds, bb), g in pt.groupby(SETTING_KEYS, sort=True):
        sub_results = pt[(pt.dataset == ds) & (pt.backbone == bb)]
        has_base = baseline in set(g.strategy)
        tests = (
            paired_tests(sub_results, reference=baseline).set_index("b")
            if has_base and g.strategy.nunique() > 1
            else None
        )
        for name, s in g.groupby("strategy"):
            vals = s["aulc"].to_numpy()
            est, lo, hi = stratified_bootstrap([vals], lambda x: x[0].mean(1), rng, n_boot)
            row = dict(
                dataset=ds,
                backbone=bb,
                strategy=name,
                n_seeds=len(vals),
                aulc=float(est),
                aulc_low=float(lo),
                aulc_high=float(hi),
            )
            if has_base and name != baseline and paired_aulc(sub_results, [name, baseline]):
                gain, _ = relative_gain_interval(sub_results, name, baseline, rng, n_boot=n_boot)
                diff, _ = aulc_difference(sub_results, name, baseline, rng, n_boot=n_boot)
                row.update(
                    gain_pct=gain.estimate,
                    gain_low=gain.low,
                    gain_high=gain.high,
                    diff_pp=diff.estimate,
                    diff_low=diff.low,
                    diff_high=diff.high,
                )
                if tests is not None and name in tests.index:
                    row.update(p_wilcoxon=tests.loc[name, "p"], p_holm=tests.loc[name, "p_holm"])
            rows.append(row)
    return pd.DataFrame(rows)


def _ci(est, lo, hi, scale=1.0, digits=2, signed=False) -> str:
    if est != est:
        return ""
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    return f"{f.format(est * scale)} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def _print_summary(console, g: pd.DataFrame, where: str, label: str, baseline: str) -> None:
    """One setting's AULCs and its comparisons with the baseline, every estimate with its interval.

    Two narrow tables rather than one wide one: they fit an 80-column terminal (or a pipe, where
    rich assumes 80 columns), where one table's cells would be cut off mid-interval.
    """
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    g = g.sort_values("aulc", ascending=False)
    t = Table(title=f"{label} with 95 % intervals · {where}", box=box.SIMPLE_HEAD)
    t.add_column("strategy", overflow="fold")
    t.add_column("seeds", justify="right", no_wrap=True)
    t.add_column(f"{label} [95 % interval]", justify="right", no_wrap=True)
    for r in g.itertuples():
        t.add_row(
            escape(r.strategy), str(r.n_seeds), _ci(r.aulc, r.aulc_low, r.aulc_high, digits=4)
        )
    console.print(t)
    if "gain_pct" not in g.columns or not g.gain_pct.notna().any():
        return
    t = Table(
        title=f"paired comparison with {baseline} (95 % intervals) · {where}", box=box.SIMPLE_HEAD
    )
    t.add_column("strategy", overflow="fold")
    for col in ("gain (%)", "Δ AULC (pp)", "p (Holm)"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in g[g.gain_pct.notna()].itertuples():
        p_holm = getattr(r, "p_holm", np.nan)
        t.add_row(
            escape(r.strategy),
            _ci(r.gain_pct, r.gain_low, r.gain_high, signed=True),
            _ci(r.diff_pp, r.diff_low, r.diff_high, signed=True),
            f"{p_holm:.3g}" if p_holm == p_holm else "",
        )
    console.print(t)


def stats_report(
    results: pd.DataFrame,
    out_dir: str | Path,
    console,
    baseline: str = "random",
    metric: str = "accuracy",
    seed: int = 0,
    n_boot: int = 2000,
) -> list[Path]:
    """Print the interval tables to ``console`` (rich) and write CSVs and the two figures.

    ``seed`` seeds the one ``numpy.random.Generator`` of every bootstrap, so the printed
    intervals are reproducible.
    """
    from rich import box
    from rich.table import Table

    check_metric(results, metric)
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    label = "AULC" if metric == "accuracy" else f"AULC ({metric})"

    summary = summary_with_intervals(results, rng, baseline, metric, n_boot)
    for (ds, bb), g in summary.groupby(SETTING_KEYS):
        _print_summary(console, g, f"{ds} / {bb}", label, baseline)
    p = out / "stats_summary.csv"
    summary.to_csv(p, index=False)
    written.append(p)

    names = sorted(results["strategy"].unique())
    if len(names) < 2:
        console.print(
            "one strategy only: no win rates, penalty matrix or critical-difference diagram"
        )
        return written
    boot = win_rate_intervals(results, rng, metric=metric, n_boot=n_boot)
    wil = win_rate_intervals(results, rng, metric=metric, method="wilson")
    wr = boot.merge(
        wil[["strategy", "versus", "low", "high"]],
        on=["strategy", "versus"],
        suffixes=("", "_wilson"),
    )
    p = out / "stats_win_rates.csv"
    wr.to_csv(p, index=False)
    written.append(p)
    order = summary.groupby("strategy").aulc.mean().sort_values(ascending=False).index.tolist()
    rank = {n: i for i, n in enumerate(order)}
    t = Table(title="win rate (%) with 95 % intervals (bootstrap | Wilson)", box=box.SIMPLE_HEAD)
    for col in ("strategy", "versus", "trials", "win rate", "bootstrap", "Wilson"):
        t.add_column(col, justify="left" if col in ("strategy", "versus") else "right")
    shown = wr[
        [rank.get(a, 0) < rank.get(b, 0) for a, b in zip(wr.strategy, wr.versus, strict=True)]
    ]
    for r in shown.sort_values(["strategy", "versus"], key=lambda c: c.map(rank)).itertuples():
        t.add_row(
            r.strategy,
            r.versus,
            str(r.n),
            f"{100 * r.win_rate:.0f}",
            f"[{100 * r.low:.0f}, {100 * r.high:.0f}]",
            f"[{100 * r.low_wilson:.0f}, {100 * r.high_wilson:.0f}]",
        )
    console.print(t)

    n_settings = results.groupby(SETTING_KEYS).ngroups
    pen = penalty_matrix(results, order, metric=metric)
    p = out / "penalty_matrix.csv"
    pen.to_csv(p)
    written += [p, plot_penalty_matrix(pen, n_settings, out / "penalty_matrix.png", metric)]
    t = Table(
        title=f"penalty matrix of {metric_label(metric)} (row beats column; max {n_settings})",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("strategy", no_wrap=True)
    for i in range(len(order)):
        t.add_column(str(i + 1), justify="right")
    for i, (name, row) in enumerate(pen.iterrows()):
        t.add_row(f"{i + 1} {name}", *(f"{v:.2f}" for v in row.to_numpy()))
    console.print(t)

    if len(names) < 3:
        console.print("critical-difference diagram skipped: Friedman's test needs 3 strategies")
    else:
        try:
            ft = friedman_nemenyi(results, order, metric=metric)
        except ValueError as exc:  # DataError: too few complete blocks
            console.print(f"Friedman test skipped: {exc}")
            return written
        ranks = ft.ranks.rename("average_rank").to_frame()
        ranks["critical_difference"] = ft.critical_difference
        p = out / "cd_ranks.csv"
        ranks.to_csv(p)
        written += [p, plot_cd_diagram(ft, out / "cd_diagram.png", metric=metric)]
        iman = (
            f"Iman–Davenport F = {ft.iman_davenport_f:.2f}, p = {ft.p_f:.3g}"
            if np.isfinite(ft.iman_davenport_f)
            else "Iman–Davenport F unbounded: every block ranks the strategies alike"
        )
        console.print(
            f"Friedman over {ft.n_blocks} (setting, seed) blocks: χ² = {ft.chi2:.2f}, "
            f"p = {ft.p_chi2:.3g} ({iman}); Nemenyi CD = {ft.critical_difference:.2f} at "
            f"α = {ft.alpha:g}; "
            "ranks: " + ", ".join(f"{n} {r:.2f}" for n, r in ft.ranks.sort_values().items())
        )
    return written
