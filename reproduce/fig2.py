"""Fig. 2: win-rate matrix of Refine and the nine single strategies (all settings × seeds)."""

from __future__ import annotations

from refine.plots import win_rate_figure
from refine.stats import win_rate_intervals
from reproduce.common import ReproduceRun, df_to_markdown, save_figure, script_main, write_markdown
from reproduce.grids import main_grid
from reproduce.paper_values import HEADLINE_WIN_RATES
from reproduce.presets import SINGLE_STRATEGIES

ORDER = ["refine", *SINGLE_STRATEGIES]


def build(run: ReproduceRun) -> list:
    df = main_grid(run, "fig2")
    out = run.out_dir("fig2")
    fig, mat = win_rate_figure(df, ORDER, "Fig. 2: win rate (%) of row over column")
    paths = save_figure(fig, out / f"fig2_{run.preset.name}")
    mat.to_csv(out / f"win_rates_{run.preset.name}.csv")
    # 95 % intervals of every pair (Wilson over the compared trials; refine.stats)
    ci = win_rate_intervals(df[df.strategy.isin(mat.index)], None, list(mat.index), method="wilson")
    ci.to_csv(out / f"win_rate_intervals_{run.preset.name}.csv", index=False)
    ci = ci[ci.strategy == "refine"].set_index("versus")
    rows = [
        {
            "versus": j,
            "refine win rate (%)": mat.loc["refine", j],
            "95 % interval": f"[{100 * ci.loc[j, 'low']:.0f}, {100 * ci.loc[j, 'high']:.0f}]"
            if j in ci.index
            else "",
            "paper claim (%)": 100 * HEADLINE_WIN_RATES.get(("refine", j), float("nan")),
        }
        for j in mat.columns
        if j != "refine"
    ]
    import pandas as pd

    md = write_markdown(
        out / f"fig2_{run.preset.name}.md",
        "Fig. 2: Refine's win rates",
        df_to_markdown(pd.DataFrame(rows), "{:.0f}"),
        run.preset,
    )
    return [*paths, md]


if __name__ == "__main__":
    script_main("fig2", build, __doc__)
