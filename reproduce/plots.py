"""Figure helpers shared by the reproduction scripts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from refine.metrics import learning_curves, relative_learning_curves, win_rate_matrix  # noqa: E402


def win_rate_figure(df: pd.DataFrame, order: list[str], title: str):
    mat = win_rate_matrix(df, [s for s in order if s in set(df.strategy)]) * 100
    fig, ax = plt.subplots(figsize=(1.2 + 0.62 * len(mat), 0.9 + 0.5 * len(mat)))
    sns.heatmap(
        mat,
        annot=True,
        fmt=".0f",
        cmap="RdBu_r",
        vmin=0,
        vmax=100,
        cbar=False,
        ax=ax,
        annot_kws={"size": 8},
    )
    ax.set_title(title)
    ax.set_xlabel("versus")
    ax.set_ylabel("")
    return fig, mat


def curves_figure(
    df: pd.DataFrame, relative: bool, title: str, strategies: list[str] | None = None
):
    curves = relative_learning_curves(df) if relative else learning_curves(df)
    if strategies:
        curves = curves[curves.strategy.isin(strategies)]
    settings = sorted(curves.groupby(["dataset", "backbone"]).groups)
    ncol = min(3, len(settings))
    nrow = int(np.ceil(len(settings) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow), squeeze=False)
    names = sorted(curves.strategy.unique())
    colours = dict(zip(names, sns.color_palette("tab20", len(names)), strict=True))
    for ax, (ds, bb) in zip(axes.flat, settings, strict=False):
        sub = curves[(curves.dataset == ds) & (curves.backbone == bb)]
        for name, g in sub.groupby("strategy"):
            y = g["relative_pp"] if relative else g["accuracy_mean"]
            kw = (
                {"color": "black", "lw": 2.2}
                if name == "refine"
                else {"color": colours[name], "lw": 1.2}
            )
            ls = "--" if name.endswith("+filter") or name.startswith("filtered:") else "-"
            ax.plot(g["n_labeled"], y, ls=ls, label=name, **kw)
        if relative:
            ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{ds} / {bb}")
        ax.set_xlabel("labeled instances")
        ax.set_ylabel("Δ accuracy vs random (pp)" if relative else "accuracy")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(settings) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(6, len(labels)),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02 - 0.03 * (len(labels) // 6)),
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig
