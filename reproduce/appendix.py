"""Figs. 9–13 (appendix): every absolute and relative learning curve.

Fig. 9: strategies on the filtered vs unfiltered pool (the Fig. 5 grid); Figs. 10/11: Refine and
the single strategies, absolute/relative; Figs. 12/13: Refine and the ensembles, absolute/relative.
"""

from __future__ import annotations

from refine.plots import learning_curves_figure
from reproduce.common import ReproduceRun, save_figure, script_main
from reproduce.grids import ensemble_grid, filtered_grid, main_grid
from reproduce.presets import FIG5_STRATEGIES


def build(run: ReproduceRun) -> list:
    out = run.out_dir("appendix")
    paths = []
    f5 = filtered_grid(
        run,
        "appendix",
        ("random", *FIG5_STRATEGIES),
        run.preset.fig5,
        grid="fig5",
        raw_name="results_fig9",
    )
    paths += save_figure(
        learning_curves_figure(f5, False, "Fig. 9: filtered (dashed) vs unfiltered"),
        out / f"fig9_{run.preset.name}",
    )
    main = main_grid(run, "appendix", raw_name="results_fig10_11")
    paths += save_figure(
        learning_curves_figure(main, False, "Fig. 10: learning curves"),
        out / f"fig10_{run.preset.name}",
    )
    paths += save_figure(
        learning_curves_figure(main, True, "Fig. 11: relative learning curves"),
        out / f"fig11_{run.preset.name}",
    )
    ens = ensemble_grid(run, "appendix", raw_name="results_fig12_13")
    paths += save_figure(
        learning_curves_figure(ens, False, "Fig. 12: ensembles, learning curves"),
        out / f"fig12_{run.preset.name}",
    )
    paths += save_figure(
        learning_curves_figure(ens, True, "Fig. 13: ensembles, relative curves"),
        out / f"fig13_{run.preset.name}",
    )
    return paths


if __name__ == "__main__":
    script_main("appendix", build, __doc__)
