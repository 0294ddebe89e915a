"""Shared machinery of the CVPR-version experiments (long tail, medical, bad apples, query size).

These experiments come from the authors' public code after arXiv v1 (``dal-toolbox``,
``publications/cleaning_the_pool/slurm/{long_tailed,ood,bad_apples,query_size}.sh``). Each
artefact runs a few *variants* (a dataset with its loader parameters, b, cycles and the single
strategies' subsample) × strategies × seeds; every variant has its own run folder
``results/reproduce/<preset>/<artefact>/<variant>/`` and raw table
``paper_figures/<artefact>/results_<variant>_<preset>.parquet``, so ``--from-results`` redraws
every table and figure from the raw tables alone.

Statistics: per trial the AULC (mean over cycles) of each metric present in the results
(``accuracy`` and, where the loop records it, ``balanced_accuracy``); per strategy its mean over
seeds with a 95 % Student-t interval, and Refine's paired difference to each strategy over the
common seeds with its 95 % paired-t interval. A difference is called *significant* when that
interval excludes 0; with 3 seeds (the cpu preset) few are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from refine.grid import GridTrial
from refine.loop import TrialSpec
from reproduce.common import ReproduceRun, df_to_markdown, run_or_load
from reproduce.presets import Setting

METRICS = ("accuracy", "balanced_accuracy")
METRIC_TITLES = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy"}


@dataclass(frozen=True)
class Variant:
    """One experimental condition of an artefact.

    Attributes
    ----------
    key : str
        File-name-safe id (run folder and raw-table name), e.g. ``"digits-lt10"``.
    title : str
        Shown in tables and figures, e.g. ``"digits, IR 10"``.
    setting : Setting
        Registry dataset, backbone and loader parameters (pool transforms included).
    batch_size : int
        b (also the initial pool).
    n_cycles : int
        AL cycles after the initial pool.
    subsample : int or None
        Random subsample scored by single strategies (the published config's ``subset_size``).
    extra : dict
        Free columns added to every result row (e.g. the query size's b and cycles).
    """

    key: str
    title: str
    setting: Setting
    batch_size: int
    n_cycles: int
    subsample: int | None = None
    extra: dict = field(default_factory=dict)


def preset_variants(
    table: dict[str, tuple[Variant, ...]], run: ReproduceRun
) -> tuple[Variant, ...]:
    """The variants of ``run``'s preset (none for a preset the artefact does not define).

    The cpu preset's cycles replace the variants' own, as for every other artefact.
    """
    from dataclasses import replace

    vs = table.get(run.preset.name, ())
    if run.preset.name == "cpu":
        vs = tuple(replace(v, n_cycles=run.preset.n_cycles) for v in vs)
    return vs


def skip_note(run: ReproduceRun, artefact: str, table: dict) -> list:
    """Log that ``artefact`` defines no variants for this preset; nothing is written."""
    run.log(
        f"{artefact}: no variants for preset {run.preset.name!r} (defined for "
        f"{', '.join(sorted(table))}); skipped"
    )
    return []


def available(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` without the strategies this installation does not register (e.g. ``autoal``)."""
    from refine.strategies import available_strategies

    have = set(available_strategies())
    return tuple(n for n in names if n in have)


def variant_trials(
    run: ReproduceRun, v: Variant, strategies: dict[str, tuple[str, dict]]
) -> list[GridTrial]:
    """Grid trials of one variant: every labelled strategy × seed of the preset."""
    # b is also passed as the dataset's own (a loader parameter), so that the data and the
    # trials agree on it
    params = {**run.dataset_params(v.setting), "batch_size": v.batch_size}
    return [
        GridTrial(
            TrialSpec(
                dataset=v.setting.dataset,
                backbone=v.setting.backbone,
                strategy=spec,
                seed=seed,
                n_cycles=v.n_cycles,
                batch_size=v.batch_size,
                subsample=v.subsample,
                strategy_params=dict(sparams),
                device=run.device,
                label=None if label == spec else label,
            ),
            dict(params),
        )
        for label, (spec, sparams) in strategies.items()
        for seed in run.preset.seeds
    ]


def run_variants(
    run: ReproduceRun,
    artefact: str,
    variants: tuple[Variant, ...],
    strategies: dict[str, tuple[str, dict]],
) -> pd.DataFrame:
    """Run (or load) every variant × strategy × seed; one table with a ``variant`` column.

    ``strategies`` maps a results label to ``(registry spec, params)``.
    """
    frames = []
    for v in variants:
        trials = variant_trials(run, v, strategies)
        df = run_or_load(run, artefact, f"{artefact}/{v.key}", trials, f"results_{v.key}")
        frames.append(df.assign(variant=v.title, **v.extra))
    return pd.concat(frames, ignore_index=True)


def metrics_of(df: pd.DataFrame) -> list[str]:
    """The metrics present in a results table (balanced accuracy only where recorded)."""
    return [m for m in METRICS if m in df.columns and df[m].notna().any()]


def per_trial_aulc(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, strategy, seed): the AULC of every metric present."""
    ms = metrics_of(df)
    return df.groupby(["variant", "strategy", "seed"], sort=False)[ms].mean().reset_index()


def t_interval(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95 % Student-t interval (NaN half-width for one value)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def summary(df: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Per (variant, strategy): AULC of each metric (mean, 95 % half-width, seeds), gain (%)."""
    per = per_trial_aulc(df)
    rows = []
    for (variant, strategy), g in per.groupby(["variant", "strategy"], sort=False):
        row = {"variant": variant, "strategy": strategy, "seeds": len(g)}
        for m in metrics_of(df):
            mean, half = t_interval(g[m].to_numpy())
            row[f"{m}_aulc"] = mean
            row[f"{m}_ci95"] = half
        rows.append(row)
    out = pd.DataFrame(rows)
    for m in metrics_of(df):
        base = out[out.strategy == baseline].set_index("variant")[f"{m}_aulc"]
        out[f"{m}_gain_pct"] = (out[f"{m}_aulc"] / out.variant.map(base) - 1.0) * 100
    return out


def paired_differences(df: pd.DataFrame, reference: str) -> pd.DataFrame:
    """``reference`` minus each other strategy: per-seed AULC differences, mean and 95 % CI.

    Also the win rate: the share of common seeds where ``reference`` has the higher AULC.
    """
    per = per_trial_aulc(df)
    rows = []
    for variant, g in per.groupby("variant", sort=False):
        wide = {
            m: g.pivot_table(index="seed", columns="strategy", values=m) for m in metrics_of(df)
        }
        for other in g.strategy.unique():
            if other == reference:
                continue
            row = {"variant": variant, "versus": other}
            for m, w in wide.items():
                if reference not in w or other not in w:
                    continue
                pair = w[[reference, other]].dropna()
                d = (pair[reference] - pair[other]).to_numpy() * 100
                mean, half = t_interval(d)
                row[f"{m}_diff_pp"] = mean
                row[f"{m}_ci95_pp"] = half
                row[f"{m}_win_rate"] = float(np.mean(d > 0)) if d.size else float("nan")
                row["seeds"] = int(d.size)
            rows.append(row)
    return pd.DataFrame(rows)


def fmt_ci(mean: float, half: float, scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± half`` (scaled), ``—`` for NaN."""
    if mean != mean:
        return "—"
    if half != half:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {half * scale:.{digits}f}"


def summary_markdown(s: pd.DataFrame, metrics: list[str]) -> str:
    """The summary as a markdown table: AULC (%) ± 95 % and gain over random per metric."""
    cols = {"variant": s.variant, "strategy": s.strategy, "seeds": s.seeds}
    for m in metrics:
        t = METRIC_TITLES[m]
        cols[f"{t} AULC (%)"] = [
            fmt_ci(a, h, 100) for a, h in zip(s[f"{m}_aulc"], s[f"{m}_ci95"], strict=True)
        ]
        cols[f"{t} gain vs random (%)"] = s[f"{m}_gain_pct"]
    return df_to_markdown(pd.DataFrame(cols))


def paired_markdown(p: pd.DataFrame, metrics: list[str], reference: str) -> str:
    """Paired differences as a markdown table (pp, 95 % paired-t interval, win rate)."""
    if p.empty:
        return "_no pairs_"
    cols = {"variant": p.variant, "versus": p.versus, "seeds": p.seeds}
    for m in metrics:
        t = METRIC_TITLES[m]
        cols[f"{reference} − versus, {t} (pp)"] = [
            fmt_ci(a, h) for a, h in zip(p[f"{m}_diff_pp"], p[f"{m}_ci95_pp"], strict=True)
        ]
        cols[f"significant ({t})"] = [
            "—" if h != h else ("yes" if abs(a) > h else "no")
            for a, h in zip(p[f"{m}_diff_pp"], p[f"{m}_ci95_pp"], strict=True)
        ]
        cols[f"win rate ({t}, %)"] = p[f"{m}_win_rate"] * 100
    return df_to_markdown(pd.DataFrame(cols), "{:.0f}")


def curves_by_variant(df: pd.DataFrame, title: str, x: str = "n_labeled", hue: str = "strategy"):
    """Mean learning curves: one column per variant, one row per metric present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    ms = metrics_of(df)
    variants = list(dict.fromkeys(df.variant))
    fig, axes = plt.subplots(
        len(ms), len(variants), figsize=(4.6 * len(variants), 3.4 * len(ms)), squeeze=False
    )
    names = list(dict.fromkeys(df[hue]))
    colours = dict(zip(names, sns.color_palette("tab10", len(names)), strict=True))
    for r, m in enumerate(ms):
        for c, v in enumerate(variants):
            ax = axes[r, c]
            sub = df[df.variant == v]
            for name, g in sub.groupby(hue, sort=False):
                curve = g.groupby("cycle").agg(x=(x, "mean"), y=(m, "mean"))
                bold = str(name).startswith("refine")
                ax.plot(
                    curve.x,
                    curve.y * 100,
                    label=str(name),
                    color="black" if name == "refine" else colours[name],
                    lw=2.0 if bold else 1.2,
                    ls="--" if bold and name != "refine" else "-",
                )
            ax.set_title(v)
            ax.set_xlabel("labeled instances")
            ax.set_ylabel(f"{METRIC_TITLES[m]} (%)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(7, len(labels)),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.06),
    )
    fig.suptitle(title)
    fig.tight_layout()
    return fig
