"""The experiment grids behind the figures (shared where the paper shares them)."""

from __future__ import annotations

import pandas as pd

from reproduce.common import ReproduceRun, run_or_load, trials_for
from reproduce.presets import ENSEMBLES, SINGLE_STRATEGIES


def main_trials(run: ReproduceRun) -> list:
    """Refine and the nine single strategies on every main setting (run folder ``main``)."""
    strategies = {s: (s, {}) for s in SINGLE_STRATEGIES}
    strategies["refine"] = ("refine", dict(run.preset.refine_params))
    return trials_for(run, run.preset.main, strategies)


def ensemble_trials(run: ReproduceRun) -> list:
    """Random, Refine, SelectAL, TCM and TAILOR on every main setting (run folder ``main``)."""
    strategies = {s: (s, {}) for s in ("random", *ENSEMBLES)}
    strategies["refine"] = ("refine", dict(run.preset.refine_params))
    return trials_for(run, run.preset.main, strategies)


def main_grid(run: ReproduceRun, artefact: str, raw_name: str = "results") -> pd.DataFrame:
    """Refine and the nine single strategies on every main setting (Figs. 1, 2, 3, 10, 11)."""
    return run_or_load(run, artefact, "main", main_trials(run), raw_name)


def ensemble_grid(run: ReproduceRun, artefact: str, raw_name: str = "results") -> pd.DataFrame:
    """Refine against SelectAL, TCM and TAILOR (Figs. 4, 12, 13), plus Random for relative curves.

    Shares the run folder with :func:`main_grid`, so Refine and Random are not recomputed.
    """
    return run_or_load(run, artefact, "main", ensemble_trials(run), raw_name)


def filtered_grid(
    run: ReproduceRun,
    artefact: str,
    strategies_: tuple[str, ...],
    settings,
    ensemble: tuple[str, ...] | None = None,
    grid: str = "filtered",
    raw_name: str = "results",
) -> pd.DataFrame:
    """Each strategy on the unfiltered pool (``X``) and on the filtered pool (``X+filter``)."""
    trials = filtered_trials(run, strategies_, settings, ensemble)
    return run_or_load(run, artefact, grid, trials, raw_name)


def filtered_trials(
    run: ReproduceRun,
    strategies_: tuple[str, ...],
    settings,
    ensemble: tuple[str, ...] | None = None,
) -> list:
    """The trials of :func:`filtered_grid`."""
    fparams = dict(run.preset.refine_params)
    if ensemble is not None:
        fparams["strategies"] = list(ensemble)
    strategies = {"random": ("random", {})}
    for s in strategies_:
        strategies[s] = (s, {})
        strategies[f"{s}+filter"] = (f"filtered:{s}", dict(fparams))
    return trials_for(run, settings, strategies)
