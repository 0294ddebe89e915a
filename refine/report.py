"""What ``refine report`` computes and writes for one configuration of a results folder.

The tables come from :mod:`refine.metrics`, the figures from :mod:`refine.plots`; the split of a
folder into configurations from :mod:`refine.results`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from refine.metrics import check_metric, summary_table, win_rate_matrix
from refine.plots import (
    learning_curves_figure,
    pool_trace_figure,
    pool_traces,
    save_figure,
    win_rate_figure,
)

__all__ = ["pool_traces", "summarize", "write_figures"]


def summarize(
    results: pd.DataFrame, baseline: str = "random", metric: str = "accuracy"
) -> dict[str, pd.DataFrame]:
    """The report's tables: AULC summary (with gain over the baseline) and win rates."""
    return {
        "summary": summary_table(results, baseline, metric),
        "win_rates": win_rate_matrix(results, metric=metric),
    }


def write_figures(
    results: pd.DataFrame,
    fig_dir: str | Path,
    baseline: str = "random",
    title: str = "",
    metric: str = "accuracy",
) -> list[Path]:
    """Learning curves, relative curves, win rates and pool trace of ``results`` as PNG files.

    ``title`` (the configuration's label, if the folder holds several) is added to each
    figure's heading; so is ``metric`` when it is not accuracy (the figures then draw it in
    place of accuracy). Returns the paths written.
    """
    fig_dir = Path(fig_dir)
    parts = [title] if title else []
    if metric != "accuracy":
        check_metric(results, metric)
        results = results.assign(accuracy=results[metric])
        parts.append(metric.replace("_", " "))
    suffix = "".join(f" · {p}" for p in parts)
    title = " · ".join(parts)
    paths = save_figure(
        learning_curves_figure(results, title="learning curves" + suffix),
        fig_dir / "learning_curves",
        formats=("png",),
    )
    if baseline in set(results.strategy):
        paths += save_figure(
            learning_curves_figure(
                results, relative=True, baseline=baseline, title="relative learning curves" + suffix
            ),
            fig_dir / "relative_learning_curves",
            formats=("png",),
        )
    if results.strategy.nunique() > 1:
        fig, _ = win_rate_figure(results, title="win rate (%) of row over column" + suffix)
        paths += save_figure(fig, fig_dir / "win_rates", formats=("png",))
    trace = pool_trace_figure(results, title=("filtering trace" + suffix) if title else None)
    if trace is not None:
        paths += save_figure(trace, fig_dir / "pool_trace", formats=("png",))
    return paths
