"""Evaluation metrics of the paper (docs/protocol.md §4).

- AULC: the mean of a trial's test accuracies over all cycles, cycle 0 included (21 points).
- Relative gain over random: ``(AULC − AULC_random) / AULC_random · 100`` (%), from mean AULCs
  over seeds of one (dataset, backbone).
- Relative learning curves: mean accuracy minus Random's mean accuracy per cycle, in percentage
  points.
- Win rate of i over j: for each (backbone, dataset) the fraction of seeds with
  ``AULC_i > AULC_j`` (strictly; a tie is not a win), averaged over the (backbone, dataset) pairs
  where both were run (``variant="paper"``, the paper's definition and its release notebook's).
  ``variant="evaluate_2"`` is the authors' later notebook (the comparison with AutoAL): per
  (backbone, dataset) the count of (cycle ≥ 1, seed) pairs with strictly higher accuracy divided
  by (#accuracy points · #seeds), 21 · seeds in the paper, so it never reaches 1; then averaged.
  :func:`share_beaten` is that notebook's bar-chart "win rate": the share of opponents beaten in
  more than half of the pairs.
- Balanced accuracy (Brodersen et al., ICPR 2010): the mean per-class recall,
  :func:`balanced_accuracy`. Every function below takes ``metric="accuracy"`` (default) or
  ``metric="balanced_accuracy"``, the results column its AULC and curves are computed from.

All functions take the tidy results table of :mod:`refine.loop` (or the per-trial AULC table
derived from it) and return pandas objects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refine.errors import ConfigError, DataError, check_positive_int, unknown_choice

TRIAL_KEYS = ["dataset", "backbone", "strategy", "seed"]
SETTING_KEYS = ["dataset", "backbone"]
METRICS = ("accuracy", "balanced_accuracy")
WIN_RATE_VARIANTS = ("paper", "evaluate_2")


def check_metric(results: pd.DataFrame | None, metric: str) -> str:
    """Validate ``metric`` and that ``results`` (when given) has its column.

    Raises
    ------
    ConfigError
        ``metric`` is not one of :data:`METRICS`.
    DataError
        The results table has no such column (results written before balanced accuracy was
        recorded: rerun those trials to use it).
    """
    if metric not in METRICS:
        raise unknown_choice("metric", metric, METRICS)
    if results is not None and metric not in results.columns:
        raise DataError(
            f"metric={metric!r}: the results table has no {metric!r} column (it was written "
            f"before {metric} was recorded); rerun the trials or use metric='accuracy'"
        )
    return metric


def balanced_accuracy(y_true, y_pred, n_classes: int) -> float:
    """Balanced accuracy: the mean recall over the classes present in ``y_true``.

    ``recall_k = #{y_true = k, y_pred = k} / #{y_true = k}``, averaged over the classes ``k`` with
    at least one true instance (Brodersen et al., "The balanced accuracy and its posterior
    distribution", ICPR 2010). A class absent from ``y_true`` has no recall and is left out of the
    mean, as scikit-learn's ``balanced_accuracy_score`` documents and does (it warns when such a
    class is predicted; this function does not warn); predictions of that class still count as
    errors in the recall of the true class. It equals the accuracy when every present class has
    the same number of true instances (a balanced test set).

    Parameters
    ----------
    y_true, y_pred : array-like of int
        Labels in ``0 .. n_classes − 1``, same length (≥ 1).
    n_classes : int
        Number of classes K.
    """
    k = check_positive_int("n_classes", n_classes)
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape or t.size == 0:
        raise DataError(
            f"balanced_accuracy needs y_true and y_pred of one non-zero length, got {t.size} "
            f"and {p.size}"
        )
    for name, a in (("y_true", t), ("y_pred", p)):
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= k:
            raise DataError(f"{name} must hold integer labels in 0..{k - 1} (n_classes={k})")
    support = np.bincount(t, minlength=k)
    hits = np.bincount(t[t == p], minlength=k)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


def aulc(accuracies) -> float:
    """Area under the learning curve: the mean accuracy over cycles (cycle 0 included)."""
    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ConfigError("aulc needs at least one accuracy")
    return float(acc.mean())


def aulc_table(results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One row per trial: dataset, backbone, strategy, seed, aulc, n_cycles.

    ``aulc`` is the mean of the ``metric`` column over the trial's cycles.
    """
    check_metric(results, metric)
    _require(results, TRIAL_KEYS + ["cycle", metric])
    g = results.groupby(TRIAL_KEYS, sort=True)
    out = g[metric].mean().rename("aulc").to_frame()
    out["n_cycles"] = g["cycle"].count()
    return out.reset_index()


def summary_table(
    results: pd.DataFrame, baseline: str = "random", metric: str = "accuracy"
) -> pd.DataFrame:
    """Mean and std of AULC per (dataset, backbone, strategy), with the relative gain (%).

    The gain column is NaN for settings without the baseline strategy.
    """
    per_trial = aulc_table(results, metric)
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


def learning_curves(results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean and std accuracy per (dataset, backbone, strategy, cycle), with mean n_labeled.

    With ``metric="balanced_accuracy"`` the ``accuracy_mean``/``accuracy_std`` columns hold the
    balanced accuracy (the column names stay, so every plot takes either metric).
    """
    check_metric(results, metric)
    _require(results, TRIAL_KEYS + ["cycle", metric, "n_labeled"])
    return (
        results.groupby(SETTING_KEYS + ["strategy", "cycle"])
        .agg(
            accuracy_mean=(metric, "mean"),
            accuracy_std=(metric, "std"),
            n_labeled=("n_labeled", "mean"),
            n_seeds=(metric, "count"),
        )
        .reset_index()
    )


def relative_learning_curves(
    results: pd.DataFrame, baseline: str = "random", metric: str = "accuracy"
) -> pd.DataFrame:
    """Mean accuracy minus the baseline's mean accuracy per cycle, in percentage points."""
    curves = learning_curves(results, metric)
    base = curves[curves.strategy == baseline].set_index(SETTING_KEYS + ["cycle"])["accuracy_mean"]
    if base.empty:
        raise ConfigError(f"relative curves need the baseline strategy {baseline!r} in the results")
    keys = pd.MultiIndex.from_frame(curves[SETTING_KEYS + ["cycle"]])
    curves["relative_pp"] = (
        curves["accuracy_mean"].to_numpy() - base.reindex(keys).to_numpy()
    ) * 100
    return curves.dropna(subset=["relative_pp"])


def win_rate_matrix(
    results_or_aulc: pd.DataFrame,
    strategies: list[str] | None = None,
    variant: str = "paper",
    metric: str = "accuracy",
) -> pd.DataFrame:
    """Win rates ``W[i, j]``, averaged over the (backbone, dataset) settings.

    Parameters
    ----------
    results_or_aulc : DataFrame
        The tidy results table, or (``variant="paper"`` only) the output of :func:`aulc_table`.
    strategies : list of str, optional
        Row/column order (default: sorted names).
    variant : {"paper", "evaluate_2"}
        ``"paper"``: per setting the fraction of common seeds with ``AULC_i > AULC_j``.
        ``"evaluate_2"``: per setting the number of (cycle ≥ 1, seed) pairs with strictly higher
        accuracy divided by (#accuracy points per trial · #common seeds), as in the authors'
        ``evaluate_2`` notebook (21 · seeds with 20 cycles; never 1).
    metric : {"accuracy", "balanced_accuracy"}
        The results column compared.

    Returns
    -------
    DataFrame
        Square matrix indexed by strategy (rows: i, columns: j), diagonal NaN. A pair never run in
        a common setting with common seeds is NaN.
    """
    if variant not in WIN_RATE_VARIANTS:
        raise unknown_choice("variant", variant, WIN_RATE_VARIANTS)
    if variant == "paper":
        per_trial = (
            results_or_aulc if "aulc" in results_or_aulc else aulc_table(results_or_aulc, metric)
        )
        frames = [
            (setting.pivot_table(index="seed", columns="strategy", values="aulc"), None)
            for _, setting in per_trial.groupby(SETTING_KEYS)
        ]
        names = strategies or sorted(per_trial["strategy"].unique())
    else:
        if "cycle" not in results_or_aulc:
            raise ConfigError("win_rate_matrix(variant='evaluate_2') needs the per-cycle results")
        check_metric(results_or_aulc, metric)
        frames = []
        for _, setting in results_or_aulc.groupby(SETTING_KEYS):
            wide = setting.pivot_table(index=["seed", "cycle"], columns="strategy", values=metric)
            frames.append((wide, int(setting["cycle"].nunique())))
        names = strategies or sorted(results_or_aulc["strategy"].unique())
    n = len(names)
    sums = np.zeros((n, n))
    counts = np.zeros((n, n))
    for wide, n_points in frames:
        for a, i_name in enumerate(names):
            if i_name not in wide:
                continue
            for c, j_name in enumerate(names):
                if a == c or j_name not in wide:
                    continue
                pair = wide[[i_name, j_name]].dropna()
                if n_points is not None:
                    # evaluate_2: only seeds with every cycle of both, cycle 0 never counts
                    full = pair.groupby(level="seed").size() == n_points
                    pair = pair[full.reindex(pair.index.get_level_values("seed")).to_numpy()]
                    n_seeds = pair.index.get_level_values("seed").nunique()
                    pair = pair[pair.index.get_level_values("cycle") >= 1]
                if pair.empty:
                    continue
                wins = pair[i_name].to_numpy() > pair[j_name].to_numpy()
                if n_points is None:
                    sums[a, c] += float(np.mean(wins))
                else:
                    sums[a, c] += float(np.sum(wins)) / (n_points * n_seeds)
                counts[a, c] += 1
    with np.errstate(invalid="ignore"):
        mat = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(mat, np.nan)
    return pd.DataFrame(
        mat, index=pd.Index(names, name="strategy"), columns=pd.Index(names, name="versus")
    )


def share_beaten(win_rates: pd.DataFrame) -> pd.Series:
    """Share of opponents each strategy beats in more than half of the pairs (``W[i, j] > 0.5``).

    The bar chart of the authors' ``evaluate_2`` notebook; opponents with a NaN entry are left
    out of the denominator.
    """
    w = win_rates.to_numpy(dtype=float)
    valid = ~np.isnan(w)
    beaten = np.where(valid, w > 0.5, False).sum(axis=1)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        share = np.where(n > 0, beaten / np.maximum(n, 1), np.nan)
    return pd.Series(share, index=win_rates.index, name="share_beaten")


def _require(df: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(f"results table lacks columns {missing}")
