"""Fig. 5: (a) AULC gain of Random and five strategies on the filtered vs the unfiltered pool;
(b) learning curves of ALFA-Mix and BAIT, filtered vs unfiltered.

Paper: CIFAR-100 with DINOv2 and DINOv3 ((b): DINOv3); filtering R = 5, α = 0.4, m = 11.
The gains carry 95 % paired bootstrap intervals over seeds (:mod:`refine.stats`), drawn as error
bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refine.metrics import summary_table
from refine.plots import gain_bars_figure, learning_curves_figure
from refine.stats import relative_gain_interval
from reproduce.common import ReproduceRun, df_to_markdown, save_figure, script_main, write_markdown
from reproduce.grids import filtered_grid
from reproduce.presets import FIG5_STRATEGIES


def build(run: ReproduceRun) -> list:
    df = filtered_grid(run, "fig5", ("random", *FIG5_STRATEGIES), run.preset.fig5, grid="fig5")
    out = run.out_dir("fig5")
    s = summary_table(df)
    rng = np.random.default_rng(0)  # the bootstrap's only randomness: intervals reproducible
    rows = []
    for (ds, bb), g in s.groupby(["dataset", "backbone"]):
        a = g.set_index("strategy")["aulc_mean"]
        sub_df = df[(df.dataset == ds) & (df.backbone == bb)]
        for name in ("random", *FIG5_STRATEGIES):
            if f"{name}+filter" in a:
                base = a[name]
                ci, _ = relative_gain_interval(sub_df, f"{name}+filter", name, rng)
                rows.append(
                    {
                        "dataset": ds,
                        "backbone": bb,
                        "strategy": name,
                        "AULC unfiltered": base,
                        "AULC filtered": a[f"{name}+filter"],
                        "gain (%)": (a[f"{name}+filter"] - base) / base * 100,
                        "gain low (%)": ci.low,
                        "gain high (%)": ci.high,
                    }
                )
    table = pd.DataFrame(rows)
    fig = gain_bars_figure(table, "Fig. 5(a): strategy on the filtered vs the unfiltered pool")
    paths = save_figure(fig, out / f"fig5a_{run.preset.name}")
    sub = df[df.strategy.isin(["random", "alfamix", "alfamix+filter", "bait", "bait+filter"])]
    if run.preset.paper_panels:
        sub = sub[sub.backbone == "dinov3"]
    paths += save_figure(
        learning_curves_figure(sub, False, "Fig. 5(b): ALFA-Mix and BAIT"),
        out / f"fig5b_{run.preset.name}",
    )
    md = write_markdown(
        out / f"fig5_{run.preset.name}.md",
        "Fig. 5(a): gains from filtering",
        df_to_markdown(table, "{:.3f}"),
        run.preset,
    )
    return [*paths, md]


if __name__ == "__main__":
    script_main("fig5", build, __doc__)
