"""The claims ledger: one row per empirical claim of the paper, with our number, its 95 %
interval and a verdict decided by a rule fixed before the numbers (see :data:`VERDICT_RULE`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from refine.loop import result_relpath
from refine.results import load_results
from refine.stats import (
    page_trend,
    paired_aulc,
    relative_gain_interval,
    seeds_needed,
    stratified_bootstrap,
    win_rate_intervals,
)
from refine.strategies.refine import Filtered, Refine
from refine.strategies.registry import make_strategy
from reproduce import fig6, table2
from reproduce.common import (
    ReproduceRun,
    run_all,
    run_or_load,
    script_main,
    trials_for,
    write_markdown,
)
from reproduce.grids import ensemble_trials, filtered_trials, main_trials
from reproduce.paper_values import (
    AUTOAL_WIN_RATE,
    FIG5_GAIN_RANGE,
    FIG8_MAX_GAIN,
    HEADLINE_WIN_RATES,
    TABLE2,
)
from reproduce.presets import FIG5_STRATEGIES, SINGLE_STRATEGIES

#: Columns kept in the ledger's raw tables (the per-cycle numbers the claims use).
RAW_COLUMNS = ["dataset", "backbone", "strategy", "seed", "cycle", "n_labeled", "accuracy"]


def autoal_registered() -> bool:
    """Whether a strategy named ``autoal`` is in the registry (Fig. 4's fourth baseline)."""
    from refine.strategies.registry import available_strategies

    return "autoal" in available_strategies()


def _slim(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in [*RAW_COLUMNS, "balanced_accuracy"] if c in df.columns]
    return df[keep]


def grid_specs(run: ReproduceRun) -> dict[str, tuple[str, list] | None]:
    """Every grid the claims use: name → (run folder, trials), in planning order.

    The trials are those of the artefact scripts (same run folders under
    ``results/reproduce/<preset>/``), so a grid already run by ``make reproduce-all`` is loaded,
    not recomputed. ``autoal`` is ``None`` until a strategy of that name is registered. A trial
    planned by two grids belongs to the first (:func:`load_grids`); the order in which trials
    run is :func:`reproduce.common.trial_cost`'s, costliest first, all grids in one pool.
    """
    return {
        "main": ("main", main_trials(run)),
        "ensembles": ("main", ensemble_trials(run)),
        "autoal": (
            ("main", trials_for(run, run.preset.main, {"autoal": ("autoal", {})}))
            if autoal_registered()
            else None
        ),
        "fig6": ("fig6", fig6.trials(run)),
        "fig8": ("fig8", filtered_trials(run, ("coreset",), run.preset.fig8)),
        "table2": ("table2", table2.trials(run)),
        "fig5": ("fig5", filtered_trials(run, ("random", *FIG5_STRATEGIES), run.preset.fig5)),
    }


def _finished(run: ReproduceRun, grid: str, trials: list) -> pd.DataFrame:
    """The finished trials of ``trials`` in the run folder ``grid`` (nothing is run)."""
    run_dir = run.runs / run.preset.name / grid
    if not run_dir.exists():
        return pd.DataFrame(columns=RAW_COLUMNS)
    df = load_results(run_dir, complete_only=True)
    if df.empty:
        return df
    wanted = {(t.spec.dataset, t.spec.backbone, t.spec.name, t.spec.seed) for t in trials}
    keep = [k in wanted for k in zip(df.dataset, df.backbone, df.strategy, df.seed, strict=True)]
    df = df[keep]
    return df[
        df.cycle.groupby([df.dataset, df.strategy, df.seed]).transform("max")
        == (run.preset.n_cycles)
    ].reset_index(drop=True)


def _trial_key(trial) -> str:
    """What makes two grid trials the same computation: the spec's identity and the data.

    A filtered strategy is identified by what it computes (:meth:`Refine.computation`), not by
    its name: Fig. 5's ``uherding+filter`` (``filtered:uherding``) is the main grid's Refine.
    """
    identity = trial.spec.identity()
    strategy = make_strategy(trial.spec.strategy, **trial.spec.strategy_params)
    if isinstance(strategy, (Refine, Filtered)):
        for name in ("strategy", "strategy_params", "label"):
            identity.pop(name, None)
        identity["computation"] = strategy.computation()
    return json.dumps([identity, trial.dataset_params], sort_keys=True, default=str)


def _borrow(run: ReproduceRun, folder: str, pairs: list) -> pd.DataFrame:
    """The finished rows of the lender trials in ``pairs``, named as their borrowers."""
    df = _finished(run, folder, [lender for lender, _ in pairs])
    if df.empty:
        return df
    parts = []
    for lender, t in pairs:
        s = lender.spec
        rows = df[
            (df.dataset == s.dataset)
            & (df.backbone == s.backbone)
            & (df.strategy == s.name)
            & (df.seed == s.seed)
        ]
        parts.append(rows.assign(strategy=t.spec.name))
    return pd.concat(parts, ignore_index=True)


def _path_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order :func:`refine.results.load_results` gives them from one folder.

    That is result-file order (:func:`refine.loop.result_relpath`, paths compared as paths),
    each file's cycles in order. A grid whose trials come from several run folders then has
    exactly the rows, in the same order, as when they all ran in its own folder (the ledger's
    float sums depend on the order in their last bits).
    """
    if df.empty:
        return df
    paths = [
        result_relpath(d, b, s, n)
        for d, b, s, n in zip(df.dataset, df.backbone, df.strategy, df.seed, strict=True)
    ]
    cycles = df.cycle.to_numpy()
    order = sorted(range(len(df)), key=lambda i: (paths[i], int(cycles[i])))
    return df.iloc[order].reset_index(drop=True)


def load_grids(run: ReproduceRun, partial: bool = False) -> dict[str, pd.DataFrame | None]:
    """Run (or reuse) every grid of :func:`grid_specs` and return its per-cycle results.

    ``partial=True`` runs nothing and returns the trials finished so far (a claim then uses the
    seeds it has, which its row reports; the ledger is written as ``claims_<preset>_partial``). With ``--from-results`` the slim copies
    ``paper_figures/claims/raw_<grid>_<preset>.parquet`` are read; a missing copy, or one
    written with other seeds or cycles, is ``None`` and its claims say "not run".
    """
    out: dict[str, pd.DataFrame | None] = {}
    # a trial already planned by an earlier grid (the single strategies of Figs. 5, 6 and 8 and
    # Table 2's Random, and Fig. 5's filtered UHerding = Refine, are the main grid's) is taken
    # from that grid's run folder under its own name there, not rerun
    first: dict[str, tuple[str, object]] = {}  # key → (grid, trial) that planned it first
    plan = []
    for name, spec in grid_specs(run).items():
        if spec is None:
            plan.append((name, None, [], {}, []))
            continue
        grid, trials = spec
        keys = [_trial_key(t) for t in trials]
        for t, key in zip(trials, keys, strict=True):
            first.setdefault(key, (grid, t))
        borrowed: dict[str, list] = {}  # lender's grid → [(its trial, this grid's trial)]
        own = []
        for t, key in zip(trials, keys, strict=True):
            lender_grid, lender = first[key]
            if lender_grid == grid:
                own.append(t)
            else:
                borrowed.setdefault(lender_grid, []).append((lender, t))
        plan.append((name, grid, trials, borrowed, own))
    if not partial:
        # every grid's own trials in one pool, the costliest first (the raw tables below then
        # find them finished)
        run_all(run, [(grid, own) for _, grid, _, _, own in plan if own])
    for name, grid, trials, borrowed, own in plan:
        if grid is None:
            out[name] = None
            continue
        path = run.out_dir("claims") / f"raw_{name}_{run.preset.name}.parquet"
        if run.from_results:
            if not path.exists():
                run.log(f"claims: no saved {path.name}; its claims are 'not run'")
                out[name] = None
                continue
            df = pd.read_parquet(path)
            if not _matches_preset(df, run):
                run.log(f"claims: {path.name} was written with other seeds or cycles; ignored")
                out[name] = None
                continue
            out[name] = df
            continue
        others = [_borrow(run, folder, pairs) for folder, pairs in borrowed.items()]
        if partial:
            df = _slim(_path_order(pd.concat([_finished(run, grid, own), *others])))
            run.log(
                f"claims: {name}: {df.groupby(['dataset', 'strategy', 'seed']).ngroups} "
                f"of {len(trials)} trials finished"
            )
            out[name] = df if len(df) else None
            continue
        if borrowed:
            run.log(
                f"claims: {name}: {len(trials) - len(own)} of {len(trials)} trials are those of "
                f"{', '.join(sorted(borrowed))} (taken from there)"
            )
        mine = run_or_load(run, "claims", grid, own, f"raw_{name}") if own else None
        df = _slim(_path_order(pd.concat([d for d in (mine, *others) if d is not None])))
        missing = len(trials) - df.groupby(["dataset", "backbone", "strategy", "seed"]).ngroups
        if missing:
            raise SystemExit(f"claims: {name}: {missing} borrowed trial(s) are not finished")
        df.to_parquet(path, index=False)
        out[name] = df
    return out


def _matches_preset(df: pd.DataFrame, run: ReproduceRun) -> bool:
    seeds = set(int(s) for s in df["seed"].unique())
    return seeds == set(run.preset.seeds) and int(df["cycle"].max()) == run.preset.n_cycles


# --------------------------------------------------------------------------- the rule
VERDICT_RULE = """\
**Verdict rule (fixed before any number was computed; the same for every preset).**
Each claim is reduced to one statistic T whose sign states the claim (T > θ, or T < θ where the
row says so), estimated with a 95 % interval [lo, hi]: a stratified paired bootstrap over seeds
(seeds resampled within each dataset, 4000 resamples, Hesterberg's expanded percentile
interval) or, for win rates, Wilson's interval over the compared (dataset, seed) trials.

- **supported**: the whole interval lies on the claimed side of θ (lo > θ);
- **contradicted**: the whole interval lies on the other side (hi < θ);
- **inconclusive at this power**: the interval contains θ. The row then gives the number of
  seeds a paired t test (α = 0.05, two-sided) would need to resolve the observed effect at 80 %
  power.

A claim about several strategies at once ("every strategy") uses simultaneous (Bonferroni)
intervals and is supported only if every part is, contradicted if any part is. θ is 0 for
differences and trends and 50 % for win rates (the claim that one method wins more often than
not); whether the paper's own number lies inside our interval is reported beside the verdict
but does not decide it, because the cpu preset runs other data than the paper (digits and a
synthetic pool instead of CIFAR, Snacks, ESC-50 features).
"""

N_BOOT = 4000
LEVEL = 0.95


def verdict(low: float, high: float, threshold: float = 0.0, sign: int = 1) -> str:
    """The rule of :data:`VERDICT_RULE` for one interval (``sign=-1``: the claim is T < θ)."""
    if low != low or high != high:
        return "not run"
    if sign > 0:
        return (
            "supported"
            if low > threshold
            else "contradicted"
            if high < threshold
            else ("inconclusive")
        )
    return (
        "supported" if high < threshold else "contradicted" if low > threshold else ("inconclusive")
    )


def _combine(verdicts: list[str]) -> str:
    if not verdicts or "not run" in verdicts:
        return "not run"
    if "contradicted" in verdicts:
        return "contradicted"
    return "supported" if all(v == "supported" for v in verdicts) else "inconclusive"


def _setting_text(df: pd.DataFrame | None) -> str:
    if df is None or df.empty:
        return ""
    names = ", ".join(sorted(df.dataset.unique()))
    return f"{names}; {int(df.cycle.max())} cycles"


def _row(claim_id, claim, setting, paper, stat_name, est, lo, hi, v, n=None, need=None, **kw):
    return dict(
        id=claim_id,
        claim=claim,
        setting=setting,
        paper=paper,
        statistic=stat_name,
        ours=est,
        low=lo,
        high=hi,
        verdict=v,
        n_seeds=n,
        seeds_needed=need,
        **kw,
    )


def _not_run(claim_id, claim, paper, stat_name, why):
    return _row(claim_id, claim, why, paper, stat_name, np.nan, np.nan, np.nan, "not run")


def _need(units: np.ndarray, v: str) -> float | None:
    """Seeds to resolve the mean of ``units`` (per-seed values) when the row is inconclusive."""
    units = np.asarray(units, dtype=float)
    units = units[~np.isnan(units)]
    if v != "inconclusive" or len(units) < 2:
        return None
    return seeds_needed(float(units.mean()), float(units.std(ddof=1)))


def _seeds_text(need: float) -> str:
    return "∞" if need == float("inf") else f"≈ {need:.0f}"


def mean_of_units(paired: dict, unit, rng, level=LEVEL):
    """Mean over settings of the seed-mean of ``unit(array (..., n, k)) -> (..., n)``."""
    arrays = [w.to_numpy() for w in paired.values()]

    def stat(samples):
        return np.stack([unit(s).mean(axis=-1) for s in samples], axis=1).mean(axis=1)

    est, lo, hi = stratified_bootstrap(arrays, stat, rng, N_BOOT, level)
    units = np.concatenate([unit(a[None])[0] for a in arrays])
    return float(est), float(lo), float(hi), units


# --------------------------------------------------------------------------- Table 2
def _table2_gains(df: pd.DataFrame, sub: str, preset) -> tuple[dict, list]:
    """Per setting, seeds × levels of relative gains (%) of filtered:random over Random."""
    return table2.seed_gains(df, sub, preset), list(table2.levels(preset)[sub])


def _slope(levels):
    x = np.arange(len(levels), dtype=float)
    x = (x - x.mean()) / ((x - x.mean()) ** 2).sum()

    def unit(a):  # (..., n, k) → (..., n): OLS slope of the gain on the level's rank
        return (a * x).sum(axis=-1)

    return unit


def _concavity(levels):
    v = np.asarray(levels, dtype=float)
    mid = len(v) // 2

    def unit(a):  # increment per unit of the parameter: first half minus second half
        first = (a[..., mid] - a[..., 0]) / (v[mid] - v[0])
        second = (a[..., -1] - a[..., mid]) / (v[-1] - v[mid])
        return first - second

    return unit


def table2_claims(df: pd.DataFrame | None, run: ReproduceRun, rng) -> list[dict]:
    rows = []
    p = TABLE2
    specs = [
        ("T2a-1", "a", "deeper filtering is better (gain rises with R)", "slope"),
        ("T2a-2", "a", "… with saturation (the gain per extra round shrinks)", "concavity"),
        ("T2b-1", "b", "almost any α works (every α ≥ 0.2 beats Random from U)", "min"),
        ("T2b-2", "b", "… unless α is too small (α = 0.1 gains less than α ≥ 0.2)", "small"),
        ("T2c-1", "c", "more draws help (gain rises with m)", "slope"),
        ("T2c-2", "c", "… with diminishing returns (gain per extra draw shrinks)", "concavity"),
    ]
    for cid, sub, claim, kind in specs:
        vals = p[sub]["values"]
        paper = (
            f"{p[sub]['param']} = {vals[0]:g} → {vals[-1]:g}: CIFAR-10 "
            + " ".join(f"{x:.2f}" for x in p[sub]["cifar10"])
            + "; Snacks "
            + " ".join(f"{x:.2f}" for x in p[sub]["snacks"])
        )
        stat_name = {
            "slope": "slope of the gain (%) per level step",
            "concavity": "Δgain per unit, first half − second half (%)",
            "min": "smallest mean gain (%) over α ≥ 0.2",
            "small": "mean gain at α ≥ 0.2 − gain at the smallest α (%)",
        }[kind]
        if df is None:
            rows.append(_not_run(cid, claim, paper, stat_name, "Table 2 grid not run"))
            continue
        gains, levels = _table2_gains(df, sub, run.preset)
        if not gains:
            rows.append(_not_run(cid, claim, paper, stat_name, "no complete seeds"))
            continue
        setting = _setting_text(df)
        page = []
        for g in gains.values():
            page.append(page_trend(g)[1] if len(g) >= 2 else np.nan)
        extra = {"test": "Page trend p = " + ", ".join(f"{x:.3g}" for x in page)}
        if kind in ("slope", "concavity"):
            unit = _slope(levels) if kind == "slope" else _concavity(levels)
            est, lo, hi, units = mean_of_units(gains, unit, rng)
        elif kind == "small":
            big = [i for i, v in enumerate(levels) if v >= 0.2]

            def unit(a, big=big):
                return a[..., big].mean(axis=-1) - a[..., 0]

            est, lo, hi, units = mean_of_units(gains, unit, rng)
        else:
            big = [i for i, v in enumerate(levels) if v >= 0.2]
            arrays = [g.to_numpy()[:, big] for g in gains.values()]

            def stat(samples):
                per = np.stack([s.mean(axis=1) for s in samples], axis=1)  # (B, S, levels)
                return per.mean(axis=1).min(axis=-1)

            e, lo, hi = stratified_bootstrap(arrays, stat, rng, N_BOOT, LEVEL)
            est, lo, hi = float(e), float(lo), float(hi)
            means = np.concatenate(arrays).mean(axis=0)
            units = np.concatenate(arrays)[:, int(np.argmin(means))]
        v = verdict(lo, hi)
        n = min(len(g) for g in gains.values())
        rows.append(
            _row(cid, claim, setting, paper, stat_name, est, lo, hi, v, n, _need(units, v), **extra)
        )
    return rows


# --------------------------------------------------------------------------- win rates
def _win_rate_row(df, cid, claim, opponent, paper_value, rng):
    paper = f"{100 * paper_value:.0f} %"
    stat_name = "win rate of Refine (%)"
    if df is None or opponent not in set(df.strategy) or "refine" not in set(df.strategy):
        return _not_run(cid, claim, paper, stat_name, f"{opponent} not run")
    wr = win_rate_intervals(df, rng, ["refine", opponent], method="wilson")
    r = wr[(wr.strategy == "refine") & (wr.versus == opponent)].iloc[0]
    v = verdict(r.low, r.high, 0.5)
    paired = paired_aulc(df, ["refine", opponent])
    units = np.concatenate(
        [w["refine"].to_numpy() - w[opponent].to_numpy() for w in paired.values()]
    )
    return _row(
        cid,
        claim,
        _setting_text(df[df.strategy.isin(["refine", opponent])]),
        paper,
        stat_name,
        100 * r.win_rate,
        100 * r.low,
        100 * r.high,
        v,
        int(r.n),
        _need(units, v),
        paper_in_interval=bool(r.low <= paper_value <= r.high),
        test=f"{int(r.wins)}/{int(r.n)} trials won",
    )


def fig2_claims(df: pd.DataFrame | None, rng) -> list[dict]:
    rows = []
    claim = "Refine has the highest win rate of all ten strategies"
    stat_name = "Refine's mean win rate − best other's (pp)"
    if df is None:
        rows.append(_not_run("F2-1", claim, "highest", stat_name, "main grid not run"))
    else:
        names = ["refine", *[s for s in SINGLE_STRATEGIES if s in set(df.strategy)]]
        paired = paired_aulc(df, names)
        arrays = [w.to_numpy() for w in paired.values()]
        k = len(names)
        off = ~np.eye(k, dtype=bool)

        def stat(samples):
            mats = []
            for s in samples:  # (B, n, k)
                wins = (s[..., :, None] > s[..., None, :]).mean(axis=1)  # (B, k, k)
                mats.append(wins)
            w = np.mean(mats, axis=0)
            row_mean = (w * off).sum(axis=-1) / (k - 1)
            return 100 * (row_mean[:, 0] - row_mean[:, 1:].max(axis=-1))

        e, lo, hi = stratified_bootstrap(arrays, stat, rng, N_BOOT, LEVEL)
        v = verdict(float(lo), float(hi))
        # power: the paired AULC differences of Refine and the runner-up by mean win rate
        w = np.mean([(a[:, :, None] > a[:, None, :]).mean(axis=0) for a in arrays], axis=0)
        runner = 1 + int(np.argmax((w * off).sum(axis=1)[1:]))
        units = np.concatenate([a[:, 0] - a[:, runner] for a in arrays])
        rows.append(
            _row(
                "F2-1",
                claim,
                _setting_text(df),
                "highest (Fig. 2)",
                stat_name,
                float(e),
                float(lo),
                float(hi),
                v,
                min(len(a) for a in arrays),
                _need(units, v),
                test=f"runner-up: {names[runner]}",
            )
        )
    rows.append(
        _win_rate_row(
            df,
            "F2-2",
            "Refine beats BAIT in 85 % of trials",
            "bait",
            HEADLINE_WIN_RATES[("refine", "bait")],
            rng,
        )
    )
    rows.append(
        _win_rate_row(
            df,
            "F2-3",
            "Refine beats UHerding in 80 % of trials",
            "uherding",
            HEADLINE_WIN_RATES[("refine", "uherding")],
            rng,
        )
    )
    return rows


def fig4_claims(df: pd.DataFrame | None, autoal: pd.DataFrame | None, rng) -> list[dict]:
    rows = []
    for cid, name, label in (
        ("F4-1", "selectal", "SelectAL"),
        ("F4-2", "tcm", "TCM"),
        ("F4-3", "tailor", "TAILOR"),
    ):
        value = HEADLINE_WIN_RATES[("refine", name)]
        rows.append(
            _win_rate_row(
                df, cid, f"Refine beats {label} in {100 * value:.0f} % of trials", name, value, rng
            )
        )
    claim = "Refine beats AutoAL in 97 % of trials (CVPR version)"
    if autoal is None or df is None:
        why = (
            "not run: no strategy named 'autoal' is registered"
            if not autoal_registered()
            else ("not run: AutoAL trials missing")
        )
        rows.append(
            _not_run("F4-4", claim, f"{100 * AUTOAL_WIN_RATE:.0f} %", "win rate of Refine (%)", why)
        )
    else:
        both = pd.concat([df[df.strategy == "refine"], autoal])
        rows.append(_win_rate_row(both, "F4-4", claim, "autoal", AUTOAL_WIN_RATE, rng))
    return rows


# --------------------------------------------------------------------------- Fig. 5, 6, 8
def _diff_row(df, cid, claim, a, b, paper, rng, cycles=None, stat_name=None):
    stat_name = stat_name or f"AULC {a} − {b} (pp)"
    if df is None or a not in set(df.strategy) or b not in set(df.strategy):
        return _not_run(cid, claim, paper, stat_name, "grid not run")
    sub = df if cycles is None else df[df.cycle.isin(list(cycles))]
    paired = paired_aulc(sub, [a, b])
    if not paired:
        return _not_run(cid, claim, paper, stat_name, "no common seeds")
    est, lo, hi, units = mean_of_units(paired, lambda x: 100 * (x[..., 0] - x[..., 1]), rng)
    v = verdict(lo, hi)
    return _row(
        cid,
        claim,
        _setting_text(sub[sub.strategy.isin([a, b])]),
        paper,
        stat_name,
        est,
        lo,
        hi,
        v,
        min(len(w) for w in paired.values()),
        _need(units, v),
    )


def fig5_claims(df: pd.DataFrame | None, rng) -> list[dict]:
    rows = []
    names = ["random", *FIG5_STRATEGIES]
    lo_p, hi_p = FIG5_GAIN_RANGE
    claim = "filtering improves every strategy"
    stat_name = "smallest gain filtered vs unfiltered (%), Bonferroni intervals"
    if df is None:
        rows.append(
            _not_run("F5-1", claim, f"+{lo_p} to +{hi_p} %", stat_name, "Fig. 5 grid not run")
        )
        rows.append(
            _not_run("F5-2", "weaker strategies gain most", "text", "Spearman ρ", "not run")
        )
    else:
        level = 1 - (1 - LEVEL) / len(names)
        parts, gains = [], {}
        for n in names:
            g, _ = relative_gain_interval(df, f"{n}+filter", n, rng, n_boot=N_BOOT, level=level)
            gains[n] = g
            parts.append(verdict(g.low, g.high))
        worst = min(gains, key=lambda n: gains[n].estimate)
        w = gains[worst]
        v = _combine(parts)
        detail = ", ".join(
            f"{n} {g.estimate:+.2f} [{g.low:.2f}, {g.high:.2f}]" for n, g in gains.items()
        )
        need = None
        if v == "inconclusive":
            # every part must be resolved: the seeds of the hardest unresolved part, each at
            # the Bonferroni level of the row (∞ where filtering changes nothing at all)
            needs, identical = {}, set()
            for n, p in zip(names, parts, strict=True):
                if p == "supported":
                    continue
                pair = paired_aulc(df, [f"{n}+filter", n])
                d = np.concatenate(
                    [
                        100 * (x[f"{n}+filter"] - x[n]).to_numpy() / x[n].mean()
                        for x in pair.values()
                    ]
                )
                sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
                needs[n] = seeds_needed(float(d.mean()), sd, alpha=(1 - LEVEL) / len(names))
                if not d.any():
                    identical.add(n)
            need = max(needs.values())
            detail += "; seeds to resolve each unresolved part: " + ", ".join(
                f"{n} " + ("∞ (identical runs)" if n in identical else _seeds_text(x))
                for n, x in needs.items()
            )
        rows.append(
            _row(
                "F5-1",
                claim,
                _setting_text(df),
                f"+{lo_p} to +{hi_p} %",
                stat_name,
                w.estimate,
                w.low,
                w.high,
                v,
                int(df.seed.nunique()),
                need,
                test=detail,
                paper_in_interval=None,
            )
        )
        # weaker strategies gain most: Spearman ρ(unfiltered AULC, gain) < 0 across strategies
        cols = [*names, *[f"{n}+filter" for n in names]]
        paired = paired_aulc(df, cols)
        arrays = [x.to_numpy() for x in paired.values()]
        k = len(names)

        def stat(samples):
            m = np.mean([s.mean(axis=1) for s in samples], axis=0)  # (B, 2k)
            base, filt = m[:, :k], m[:, k:]
            gain = (filt - base) / base
            rb = np.argsort(np.argsort(base, axis=1), axis=1).astype(float)
            rg = np.argsort(np.argsort(gain, axis=1), axis=1).astype(float)
            rb -= rb.mean(1, keepdims=True)
            rg -= rg.mean(1, keepdims=True)
            return (rb * rg).sum(1) / np.sqrt((rb**2).sum(1) * (rg**2).sum(1))

        e, lo, hi = stratified_bootstrap(arrays, stat, rng, N_BOOT, LEVEL, method="percentile")
        rows.append(
            _row(
                "F5-2",
                "weaker strategies gain most (UHerding gains little)",
                _setting_text(df),
                "text (Fig. 5a)",
                "Spearman ρ(unfiltered AULC, gain) over strategies (claimed < 0)",
                float(e),
                float(lo),
                float(hi),
                verdict(float(lo), float(hi), 0.0, -1),
                int(df.seed.nunique()),
            )
        )
    rows.append(
        _diff_row(
            df,
            "F5-3",
            "BAIT is below Random without filtering",
            "random",
            "bait",
            "below (Fig. 5b)",
            rng,
        )
    )
    rows.append(
        _diff_row(
            df,
            "F5-4",
            "BAIT is above Random with filtering",
            "bait+filter",
            "random",
            "above (Fig. 5b)",
            rng,
        )
    )
    return rows


def fig6_claims(df: pd.DataFrame | None, run: ReproduceRun, rng) -> list[dict]:
    n = run.preset.n_cycles
    third = max(1, n // 3)
    early = range(1, third + 1)
    late = range(n - third + 1, n + 1)
    return [
        _diff_row(
            df,
            "F6-1",
            "the {Margin, TypiClust} pool helps early (TypiClust's regime)",
            "random+filter",
            "random",
            "above Random early (Fig. 6)",
            rng,
            early,
            f"accuracy random+filter − random, cycles {early.start}–{early.stop - 1} (pp)",
        ),
        _diff_row(
            df,
            "F6-2",
            "… and late (Margin's regime): it captures both notions",
            "random+filter",
            "random",
            "above Random late (Fig. 6)",
            rng,
            late,
            f"accuracy random+filter − random, cycles {late.start}–{late.stop - 1} (pp)",
        ),
        _diff_row(
            df,
            "F6-3",
            "UHerding on that pool improves further",
            "uherding+filter",
            "random+filter",
            "above (Fig. 6)",
            rng,
        ),
    ]


def fig8_claims(df: pd.DataFrame | None, rng) -> list[dict]:
    return [
        _diff_row(
            df, "F8-1", "Coreset alone is below Random", "random", "coreset", "below (Fig. 8)", rng
        ),
        _diff_row(
            df,
            "F8-2",
            "filtering rescues Coreset (Coreset+filter > Coreset)",
            "coreset+filter",
            "coreset",
            f"up to +{FIG8_MAX_GAIN:g} % accuracy",
            rng,
        ),
        _diff_row(
            df,
            "F8-3",
            "… and lifts it above Random",
            "coreset+filter",
            "random",
            "above (Fig. 8)",
            rng,
        ),
    ]


# --------------------------------------------------------------------------- the ledger
def theory_row(run: ReproduceRun) -> dict:
    report = run.figures / "theory" / "report.md"
    return _row(
        "TH",
        "Theorems 1–3 (preservation bounds, Sec. 4 and appendix A)",
        "theory report",
        "proofs",
        "numerical checks of the bounds",
        np.nan,
        np.nan,
        np.nan,
        "not empirical: see the theory report",
        test=f"[{report.relative_to(run.figures)}](../theory/report.md) (`make reproduce-theory`)",
    )


def ledger(run: ReproduceRun, grids: dict, seed: int = 0) -> pd.DataFrame:
    """Every claim's row, in the order of the paper."""
    rng = np.random.default_rng(seed)
    rows = []
    rows += table2_claims(grids.get("table2"), run, rng)
    rows += fig2_claims(grids.get("main"), rng)
    rows += fig4_claims(grids.get("ensembles"), grids.get("autoal"), rng)
    rows += fig5_claims(grids.get("fig5"), rng)
    rows += fig6_claims(grids.get("fig6"), run, rng)
    rows += fig8_claims(grids.get("fig8"), rng)
    rows.append(theory_row(run))
    return pd.DataFrame(rows)


def _fmt(r) -> str:
    if r.ours != r.ours:
        return "—"
    if "win rate of" in r.statistic:
        return f"{r.ours:.0f} [{r.low:.0f}, {r.high:.0f}]"
    return f"{r.ours:+.2f} [{r.low:+.2f}, {r.high:+.2f}]"


def _markdown(table: pd.DataFrame, run: ReproduceRun, partial: bool) -> str:
    lines = [VERDICT_RULE, ""]
    if partial:
        lines += [
            "_Partial ledger: built from the trials finished so far (`--partial`); each row "
            "says how many seeds it used._",
            "",
        ]
    lines += [
        "| id | claim | setting | paper | statistic | ours [95 % interval] | verdict | "
        "seeds | seeds for 80 % power | detail |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        need = (
            ""
            if r.seeds_needed is None or r.seeds_needed != r.seeds_needed
            else ("∞" if r.seeds_needed == float("inf") else f"{r.seeds_needed:.0f}")
        )
        seeds = "" if r.n_seeds is None or r.n_seeds != r.n_seeds else f"{r.n_seeds:.0f}"
        detail = r.test if isinstance(r.test, str) else ""
        if isinstance(r.paper_in_interval, bool):
            detail += f"; paper's value {'inside' if r.paper_in_interval else 'outside'} ours"
        lines.append(
            f"| {r.id} | {r.claim} | {r.setting} | {r.paper} | {r.statistic} | {_fmt(r)} | "
            f"**{r.verdict}** | {seeds} | {need} | {detail} |"
        )
    counts = table.verdict.value_counts()
    inconclusive = table[table.verdict == "inconclusive"]
    lines += ["", "## Closing note", ""]
    lines.append(
        "Verdicts: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + ". Verdict column: "
        + "; ".join(f"{r.id} {r.verdict}" for r in table.itertuples())
        + "."
    )
    if len(inconclusive):
        parts = []
        for r in inconclusive.itertuples():
            need = r.seeds_needed
            txt = (
                "—"
                if need is None or need != need
                else ("no effect to resolve" if need == float("inf") else f"≈ {need:.0f} seeds")
            )
            parts.append(f"{r.id} ({txt})")
        lines.append("Inconclusive at this power: " + ", ".join(parts) + ".")
    return "\n".join(lines)


def build(run: ReproduceRun) -> list:
    partial = bool(getattr(run, "partial", False))
    grids = load_grids(run, partial=partial)
    table = ledger(run, grids)
    out = run.out_dir("claims")
    stem = f"claims_{run.preset.name}" + ("_partial" if partial else "")
    csv = out / f"{stem}.csv"
    table.to_csv(csv, index=False)
    md = write_markdown(
        out / f"{stem}.md",
        "Checking the paper's claims",
        _markdown(table, run, partial),
        run.preset,
    )
    for r in table.itertuples():
        run.log(f"  {r.id:6s} {r.verdict:13s} {_fmt(r):28s} {r.claim}")
    return [md, csv]


if __name__ == "__main__":
    script_main("claims", build, __doc__)
