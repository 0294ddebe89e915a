"""Fig. 6: filtering with only {Margin, TypiClust}; Random and UHerding on the filtered pool,
against Margin, TypiClust and Random on the unfiltered pool (R = 5, α = 0.4, m = 11)."""

from __future__ import annotations

from refine.plots import learning_curves_figure
from reproduce.common import ReproduceRun, run_or_load, save_figure, script_main, trials_for

ENSEMBLE = ["margin", "typiclust"]


def trials(run: ReproduceRun) -> list:
    """Margin, TypiClust and Random on U; Random and UHerding on the {Margin, TypiClust} pool."""
    fparams = {**run.preset.refine_params, "strategies": ENSEMBLE}
    strategies = {
        "random": ("random", {}),
        "margin": ("margin", {}),
        "typiclust": ("typiclust", {}),
        "random+filter": ("filtered:random", fparams),
        "uherding+filter": ("filtered:uherding", fparams),
    }
    return trials_for(run, run.preset.fig6, strategies)


def build(run: ReproduceRun) -> list:
    df = run_or_load(run, "fig6", "fig6", trials(run))
    fig = learning_curves_figure(df, False, "Fig. 6: filtering with {Margin, TypiClust} only")
    return save_figure(fig, run.out_dir("fig6") / f"fig6_{run.preset.name}")


if __name__ == "__main__":
    script_main("fig6", build, __doc__)
