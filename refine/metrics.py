"""Evaluation metrics of the paper (docs/protocol.md §4).

- AULC: the mean of a trial's test accuracies over all cycles, cycle 0 included (21 points).
- Relative gain over random: ``(AULC − AULC_random) / AULC_random · 100`` (%), from mean AULCs
  over seeds of one (dataset, backbone).
- Relative learning curves: mean accuracy minus Random's mean accuracy per cycle, in percentage
  points.
- Win rate of i over j: for each (backbone, dataset) the fraction of seeds with
  ``AULC_i > AULC_j`` (strictly; a tie is not a win), averaged over the (backbone, dataset) pairs
  where both were run.

All functions take the tidy results table of :mod:`refine.loop` (or the per-trial AULC table
derived from it) and return pandas objects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refine.errors import ConfigError

TRIAL_KEYS = ["dataset", "backbone", "strategy", "seed"]
SETTING_KEYS = ["dataset", "backbone"]


def aulc(accuracies) -> float:
    """Area under the learning curve: the mean accuracy over cycles (cycle 0 included)."""
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ConfigError("aulc needs at least one accuracy")
    return float(acc.mean())


def aulc_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: dataset, backbone, strategy, seed, aulc, n_cycles."""
    _require(results, TRIAL_KEYS + ["cycle", "accuracy"])
    g = results.groupby(TRIAL_KEYS, sort=True)
    out = g["accuracy"].mean().rename("aulc").to_frame()
    out["n_cycles"] = g["cycle"].count()
    return out.reset_index()


def summary_table(results: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Mean and std of AULC per (dataset, backbone, strategy), with the relative gain (%).

    The gain column is NaN for settings without the baseline strategy.
    """
    per_trial = aulc_table(results)
    s = (
        per_trial.groupby(SETTING_KEYS + ["strategy"])["aulc"]
        .agg(aulc_mean="mean", aulc_std="std", n_seeds="count")
        .reset_index()
    )
    base = s[s.strategy == baseline].set_index(SETTING_KEYS)["aulc_mean"]
    keys = pd.MultiIndex.from_frame(s[SETTING_KEYS])
    b = base.reindex(keys).to_numpy()
    s["gain_pct"] = relative_gain(s["aulc_mean"].to_numpy(), b)
    return s


def relative_gain(aulc_value, aulc_random):
    """``(AULC − AULC_random)/AULC_random · 100`` (elementwise for arrays)."""
    a = np.asarray(aulc_value, dtype=float)
    r = np.asarray(aulc_random, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - r) / r * 100.0
    return float(out) if out.ndim == 0 else out


def learning_curves(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std accuracy per (dataset, backbone, strategy, cycle), with mean n_labeled."""
    _require(results, TRIAL_KEYS + ["cycle", "accuracy", "n_labeled"])
    return (
        results.groupby(SETTING_KEYS + ["strategy", "cycle"])
        .agg(
            accuracy_mean=("accuracy", "mean"),
            accuracy_std=("accuracy", "std"),
            n_labeled=("n_labeled", "mean"),
            n_seeds=("accuracy", "count"),
        )
        .reset_index()
    )


def relative_learning_curves(results: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Mean accuracy minus the baseline's mean accuracy per cycle, in percentage points."""
    curves = learning_curves(results)
    base = curves[curves.strategy == baseline].set_index(SETTING_KEYS + ["cycle"])["accuracy_mean"]
    if base.empty:
        raise ConfigError(f"relative curves need the baseline strategy {baseline!r} in the results")
    keys = pd.MultiIndex.from_frame(curves[SETTING_KEYS + ["cycle"]])
    curves["relative_pp"] = (
        curves["accuracy_mean"].to_numpy() - base.reindex(keys).to_numpy()
    ) * 100
    return curves.dropna(subset=["relative_pp"])


def win_rate_matrix(
    results_or_aulc: pd.DataFrame, strategies: list[str] | None = None
) -> pd.DataFrame:
    """Win rates ``W[i, j]`` = mean over settings of the fraction of seeds with AULC_i > AULC_j.

    Parameters
    ----------
    results_or_aulc : DataFrame
        The tidy results table or the output of :func:`aulc_table`.
    strategies : list of str, optional
        Row/column order (default: sorted names).

    Returns
    -------
    DataFrame
        Square matrix indexed by strategy (rows: i, columns: j), diagonal NaN. A pair never run in
        a common setting with common seeds is NaN.
    """
    per_trial = results_or_aulc if "aulc" in results_or_aulc else aulc_table(results_or_aulc)
    names = strategies or sorted(per_trial["strategy"].unique())
    n = len(names)
    sums = np.zeros((n, n))
    counts = np.zeros((n, n))
    for _, setting in per_trial.groupby(SETTING_KEYS):
        wide = setting.pivot_table(index="seed", columns="strategy", values="aulc")
        for a, i_name in enumerate(names):
            if i_name not in wide:
                continue
            for c, j_name in enumerate(names):
                if a == c or j_name not in wide:
                    continue
                pair = wide[[i_name, j_name]].dropna()
                if pair.empty:
                    continue
                sums[a, c] += float(np.mean(pair[i_name].to_numpy() > pair[j_name].to_numpy()))
                counts[a, c] += 1
    with np.errstate(invalid="ignore"):
        mat = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(mat, np.nan)
    return pd.DataFrame(
        mat, index=pd.Index(names, name="strategy"), columns=pd.Index(names, name="versus")
    )


def _require(df: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(f"results table lacks columns {missing}")
