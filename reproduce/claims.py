"""The claims ledger: one row per empirical claim of the paper, with our number, its 95 %
interval and a verdict decided by a rule fixed before the numbers (see :data:`VERDICT_RULE`)."""

from __future__ import annotations

import pandas as pd

from reproduce import fig6, table2
from reproduce.common import Context, run_or_load, trials_for
from reproduce.grids import ensemble_grid, filtered_grid, main_grid
from reproduce.presets import FIG5_STRATEGIES

#: Columns kept in the ledger's raw tables (the per-cycle numbers the claims use).
RAW_COLUMNS = ["dataset", "backbone", "strategy", "seed", "cycle", "n_labeled", "accuracy"]


def autoal_registered() -> bool:
    """Whether a strategy named ``autoal`` is in the registry (Fig. 4's fourth baseline)."""
    from refine.strategies.registry import available_strategies

    return "autoal" in available_strategies()


def _slim(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in [*RAW_COLUMNS, "balanced_accuracy"] if c in df.columns]
    return df[keep]


def load_grids(ctx: Context) -> dict[str, pd.DataFrame | None]:
    """Run (or reuse) every grid the claims need, cheapest first.

    The trials are those of the artefact scripts (same run folders under
    ``results/reproduce/<preset>/``), so a grid already run by ``make reproduce-all`` is loaded,
    not recomputed. The ledger keeps slim copies (:data:`RAW_COLUMNS`) as
    ``paper_figures/claims/raw_<grid>_<preset>.parquet``; with ``--from-results`` a grid whose
    copy is missing, or was written by another preset configuration (other seeds or cycles), is
    ``None`` and its claims say "not run".
    """
    out: dict[str, pd.DataFrame | None] = {}
    jobs = {
        "main": lambda raw: main_grid(ctx, "claims", raw),
        "ensembles": lambda raw: ensemble_grid(ctx, "claims", raw),
        "autoal": (
            (
                lambda raw: run_or_load(
                    ctx,
                    "claims",
                    "main",
                    trials_for(ctx, ctx.preset.main, {"autoal": ("autoal", {})}),
                    raw,
                )
            )
            if autoal_registered()
            else None
        ),
        "fig6": lambda raw: run_or_load(ctx, "claims", "fig6", fig6.trials(ctx), raw),
        "fig8": lambda raw: filtered_grid(
            ctx, "claims", ("coreset",), ctx.preset.fig8, grid="fig8", raw_name=raw
        ),
        "table2": lambda raw: run_or_load(ctx, "claims", "table2", table2.trials(ctx), raw),
        "fig5": lambda raw: filtered_grid(
            ctx,
            "claims",
            ("random", *FIG5_STRATEGIES),
            ctx.preset.fig5,
            grid="fig5",
            raw_name=raw,
        ),
    }
    for name, job in jobs.items():
        if job is None:
            out[name] = None
            continue
        raw_name = f"raw_{name}"
        path = ctx.out_dir("claims") / f"{raw_name}_{ctx.preset.name}.parquet"
        if ctx.from_results and not path.exists():
            ctx.log(f"claims: no saved {path.name}; its claims are 'not run'")
            out[name] = None
            continue
        df = _slim(job(raw_name))
        df.to_parquet(path, index=False)
        if ctx.from_results and not _matches_preset(df, ctx):
            ctx.log(f"claims: {path.name} was written with other seeds or cycles; ignored")
            out[name] = None
            continue
        out[name] = df
    return out


def _matches_preset(df: pd.DataFrame, ctx: Context) -> bool:
    seeds = set(int(s) for s in df["seed"].unique())
    return seeds == set(ctx.preset.seeds) and int(df["cycle"].max()) == ctx.preset.n_cycles
