"""Fig. 1: the two stages of Refine, drawn from a real run's pool trace.

Left: pool size after each filtering round (mean over cycles and seeds, log scale) down to the
batch; right: how many instances each strategy contributed per round and how many only it chose.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from refine.plots import pool_trace_figure
from reproduce.common import ReproduceRun, df_to_markdown, save_figure, script_main, write_markdown
from reproduce.grids import main_grid


def build(run: ReproduceRun) -> list:
    df = main_grid(run, "fig1")
    runs = df[(df.strategy == "refine") & df.trace.astype(bool)]
    traces = [json.loads(t) for t in runs.trace]
    sizes = np.array([t["pool_sizes"] for t in traces], dtype=float)
    strategies = traces[0]["strategies"]
    contrib = np.array([[[r[s] for s in strategies] for r in t["contributions"]] for t in traces])
    excl = np.array([[[r[s] for s in strategies] for r in t["exclusive"]] for t in traces])
    rounds = np.arange(1, sizes.shape[1] + 1)
    mean_c, mean_e = contrib.mean(0), excl.mean(0)
    fig = pool_trace_figure(
        df[df.strategy == "refine"],
        title="Fig. 1: (1) progressive filtering → (2) coverage selection of the batch",
    )
    out = run.out_dir("fig1")
    paths = save_figure(fig, out / f"fig1_{run.preset.name}")
    table = pd.DataFrame({"round": rounds, "pool size (mean)": sizes.mean(0)})
    for k, s in enumerate(strategies):
        table[f"{s} (excl.)"] = [
            f"{mean_c[r, k]:.1f} ({mean_e[r, k]:.1f})" for r in range(len(rounds))
        ]
    md = write_markdown(
        out / f"fig1_{run.preset.name}.md",
        "Fig. 1: pool trace of Refine",
        f"Mean over {len(traces)} Refine queries.\n\n" + df_to_markdown(table, "{:.1f}"),
        run.preset,
    )
    return [*paths, md]


if __name__ == "__main__":
    script_main("fig1", build, __doc__)
