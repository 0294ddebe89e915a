"""Tables and figures from a results folder: what ``refine report`` prints and draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from refine.metrics import learning_curves, relative_learning_curves, summary_table, win_rate_matrix


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(
    results: pd.DataFrame, path: str | Path, relative: bool = False, metric: str = "accuracy"
) -> Path:
    """One panel per (dataset, backbone): mean accuracy (or gain over Random, pp) vs labels."""
    import seaborn as sns

    plt = _plt()
    curves = (
        relative_learning_curves(results, metric=metric)
        if relative
        else learning_curves(results, metric)
    )
    settings = list(curves.groupby(["dataset", "backbone"]).groups)
    fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4), squeeze=False)
    palette = dict(
        zip(sorted(curves.strategy.unique()), sns.color_palette("tab10", 20), strict=False)
    )
    for ax, (ds, bb) in zip(axes[0], settings, strict=True):
        sub = curves[(curves.dataset == ds) & (curves.backbone == bb)]
        for strat, g in sub.groupby("strategy"):
            y = g["relative_pp"] if relative else g["accuracy_mean"]
            style = (
                dict(lw=2.2, color="black")
                if strat == "refine"
                else dict(lw=1.3, color=palette[strat])
            )
            ax.plot(g["n_labeled"], y, label=strat, **style)
            if not relative and g["accuracy_std"].notna().any():
                ax.fill_between(
                    g["n_labeled"],
                    y - g["accuracy_std"],
                    y + g["accuracy_std"],
                    alpha=0.12,
                    color=style["color"],
                )
        if relative:
            ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{ds} / {bb}")
        ax.set_xlabel("labeled instances")
        ax.set_ylabel("accuracy − random (pp)" if relative else "test accuracy")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_win_rates(
    results: pd.DataFrame,
    path: str | Path,
    strategies: list[str] | None = None,
    metric: str = "accuracy",
) -> Path:
    """Heatmap of the win-rate matrix (paper Figs. 2 and 4)."""
    import seaborn as sns

    plt = _plt()
    mat = win_rate_matrix(results, strategies, metric=metric) * 100
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(mat), 0.8 + 0.5 * len(mat)))
    sns.heatmap(mat, annot=True, fmt=".0f", cmap="RdBu_r", vmin=0, vmax=100, ax=ax, cbar=False)
    ax.set_title("win rate (%) of row over column")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def pool_traces(results: pd.DataFrame) -> pd.DataFrame:
    """Flatten the filtering traces of the results into one row per (trial, cycle, round)."""
    rows = []
    for rec in results[results["trace"].astype(bool)].itertuples():
        tr = json.loads(rec.trace)
        for r, size in enumerate(tr.get("pool_sizes", []), start=1):
            contrib = tr.get("contributions", [{}] * len(tr["pool_sizes"]))[r - 1]
            rows.append(
                dict(
                    dataset=rec.dataset,
                    backbone=rec.backbone,
                    strategy=rec.strategy,
                    seed=rec.seed,
                    cycle=rec.cycle,
                    round=r,
                    pool_size=size,
                    **{f"from_{k}": v for k, v in contrib.items()},
                )
            )
    return pd.DataFrame(rows)


def plot_pool_trace(results: pd.DataFrame, path: str | Path) -> Path | None:
    """Pool size per filtering round (mean over cycles and seeds) and per-strategy contributions."""
    traces = pool_traces(results)
    if traces.empty:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for (strat, ds), g in traces.groupby(["strategy", "dataset"]):
        m = g.groupby("round")["pool_size"].mean()
        a1.plot(m.index, m.values, marker="o", label=f"{strat} / {ds}")
    a1.set_yscale("log")
    a1.set_xlabel("filtering round")
    a1.set_ylabel("pool size after round")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    contrib_cols = [c for c in traces.columns if c.startswith("from_")]
    if contrib_cols:
        m = traces.groupby("round")[contrib_cols].mean()
        bottom = np.zeros(len(m))
        for c in contrib_cols:
            a2.bar(m.index, m[c].to_numpy(), bottom=bottom, label=c[5:])
            bottom += m[c].to_numpy()
        a2.set_xlabel("filtering round")
        a2.set_ylabel("instances selected (mean; overlaps counted per strategy)")
        a2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def summarize(
    results: pd.DataFrame, baseline: str = "random", metric: str = "accuracy"
) -> dict[str, pd.DataFrame]:
    """The report's tables: AULC summary (with gain over the baseline) and win rates."""
    return {
        "summary": summary_table(results, baseline, metric),
        "win_rates": win_rate_matrix(results, metric=metric),
    }
