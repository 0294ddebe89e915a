"""Figures of :mod:`refine.stats`: the critical-difference diagram and the penalty matrix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from refine.metrics import check_metric
from refine.stats import RankTest


def metric_label(metric: str) -> str:
    """How a figure names the per-cycle score (``"balanced_accuracy"`` → ``"balanced accuracy"``)."""
    return check_metric(None, metric).replace("_", " ")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_cd_diagram(
    test: RankTest, path: str | Path, title: str | None = None, metric: str = "accuracy"
) -> Path:
    """Demšar's critical-difference diagram (scikit-posthocs' ``critical_difference_diagram``).

    Methods joined by a bar do not differ by Nemenyi's test at ``test.alpha`` (its p-values in
    ``test.nemenyi_p``); the title gives the critical difference. ``metric`` (``"accuracy"`` or
    ``"balanced_accuracy"``) is the per-cycle score whose AULC ``test`` ranked
    (:func:`refine.stats.friedman_nemenyi` with the same ``metric``); the title names it.
    """
    import scikit_posthocs as sp

    what = metric_label(metric)
    plt = _plt()
    k = len(test.ranks)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.28 * k))
    sp.critical_difference_diagram(
        test.ranks, test.nemenyi_p, alpha=test.alpha, ax=ax, label_fmt_left="{label} ({rank:.2f})"
    )
    ax.set_title(
        title
        or (
            f"average rank by AULC of {what} (1 = best), {test.n_blocks} blocks; Nemenyi CD = "
            f"{test.critical_difference:.2f} at α = {test.alpha:g}; Friedman p = {test.p_chi2:.2g}"
        ),
        fontsize=9,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=140, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_penalty_matrix(
    penalty: pd.DataFrame, n_settings: int, path: str | Path, metric: str = "accuracy"
) -> Path:
    """Heatmap of BADGE's penalty matrix with its column means ("how often it loses").

    ``metric`` is the per-cycle score the paired tests compared
    (:func:`refine.stats.penalty_matrix` with the same ``metric``); the title names it.
    """
    import seaborn as sns

    what = metric_label(metric)
    plt = _plt()
    k = len(penalty)
    fig, ax = plt.subplots(figsize=(1.6 + 0.62 * k, 1.4 + 0.5 * k))
    shown = penalty.copy()
    shown.loc["column mean"] = penalty.mean(axis=0)
    sns.heatmap(
        shown,
        annot=True,
        fmt=".2f",
        cmap="Reds",
        vmin=0,
        vmax=max(n_settings, 1),
        cbar=False,
        ax=ax,
        annot_kws={"size": 8},
    )
    ax.set_title(
        f"penalty matrix, {what}: row significantly beats column (paired t per step, "
        f"max {n_settings})",
        fontsize=9,
    )
    ax.set_xlabel("versus")
    ax.set_ylabel("")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=140)
    plt.close(fig)
    return path
