"""Fig. 1: the two stages of Refine, drawn from a real run's pool trace.

Left: pool size after each filtering round (mean over cycles and seeds, log scale) down to the
batch; right: how many instances each strategy contributed per round and how many only it chose.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reproduce.common import Context, df_to_markdown, save_figure, script_main, write_markdown
from reproduce.grids import main_grid


def build(ctx: Context) -> list:
    df = main_grid(ctx, "fig1")
    runs = df[(df.strategy == "refine") & df.trace.astype(bool)]
    traces = [json.loads(t) for t in runs.trace]
    sizes = np.array([t["pool_sizes"] for t in traces], dtype=float)
    strategies = traces[0]["strategies"]
    contrib = np.array([[[r[s] for s in strategies] for r in t["contributions"]] for t in traces])
    excl = np.array([[[r[s] for s in strategies] for r in t["exclusive"]] for t in traces])
    n_unlabeled = int(traces[0]["subsample_sizes"][0])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    rounds = np.arange(1, sizes.shape[1] + 1)
    a1.plot(np.r_[0, rounds], np.r_[n_unlabeled, sizes.mean(0)], marker="o", color="black")
    b = int(df[df.cycle == 0].n_labeled.iloc[0])
    a1.axhline(b, color="grey", ls=":", lw=0.8)
    a1.annotate(f"batch b = {b}", (rounds[-1], b), textcoords="offset points", xytext=(-60, 4))
    a1.set_yscale("log")
    a1.set_xlabel("filtering round (0 = first subsample)")
    a1.set_ylabel("candidate pool size")
    a1.set_title("(1) progressive filtering → (2) coverage selection of b")
    mean_c, mean_e = contrib.mean(0), excl.mean(0)
    bottom = np.zeros(len(rounds))
    for k, s in enumerate(strategies):
        a2.bar(rounds, mean_c[:, k], bottom=bottom, label=s)
        bottom += mean_c[:, k]
    a2.set_xlabel("filtering round")
    a2.set_ylabel("distinct instances selected")
    a2.legend(fontsize=7, ncol=3)
    a2.set_title("contribution of each strategy")
    out = ctx.out_dir("fig1")
    paths = save_figure(fig, out / f"fig1_{ctx.preset.name}")
    table = pd.DataFrame({"round": rounds, "pool size (mean)": sizes.mean(0)})
    for k, s in enumerate(strategies):
        table[f"{s} (excl.)"] = [
            f"{mean_c[r, k]:.1f} ({mean_e[r, k]:.1f})" for r in range(len(rounds))
        ]
    md = write_markdown(
        out / f"fig1_{ctx.preset.name}.md",
        "Fig. 1: pool trace of Refine",
        f"Mean over {len(traces)} Refine queries.\n\n" + df_to_markdown(table, "{:.1f}"),
        ctx.preset,
    )
    return [*paths, md]


if __name__ == "__main__":
    script_main("fig1", build, __doc__)
