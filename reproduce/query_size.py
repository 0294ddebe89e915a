"""Query size (CVPR version): the same label budget in few large or many small batches.

Published setting (``slurm/query_size.sh``): CIFAR-100 with DINOv2 (the published 90 % pool),
random sampling, (b, cycles) ∈ {(10, 250), (25, 100), (50, 50), (100, 25)} — b·cycles = 2500
labels after an initial pool of b — 10 seeds. The cpu preset scales the budget to digits:
(5, 50), (10, 25), (25, 10), (50, 5), b·cycles = 250.

The runs have different numbers of cycles, so their AULCs (means over cycles) are not
comparable; the table gives the accuracy at common label counts (linear interpolation of each
trial's curve; "—" before a run's first point) and at the end, with 95 % t-intervals over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reproduce.common import (
    ReproduceRun,
    df_to_markdown,
    save_figure,
    script_main,
    write_markdown,
)
from reproduce.extensions import (
    METRIC_TITLES,
    Variant,
    curves_by_variant,
    fmt_ci,
    metrics_of,
    run_variants,
    skip_note,
    t_interval,
)
from reproduce.presets import Setting

SIZES = {
    "paper": ((10, 250), (25, 100), (50, 50), (100, 25)),
    "cpu": ((5, 50), (10, 25), (25, 10), (50, 5)),
}
SETTINGS = {
    "paper": Setting("cifar100", "dinov2", (("pool_fraction", 0.9),)),
    "cpu": Setting("digits"),
}
CHECKPOINTS = {"paper": (500, 1000, 1500, 2000, 2500), "cpu": (50, 100, 150, 200, 250)}
STRATEGIES = {"random": ("random", {})}


def variants(run: ReproduceRun) -> tuple[Variant, ...]:
    name = run.preset.name
    if name not in SIZES:
        return ()
    return tuple(
        Variant(
            f"b{b}-c{c}",
            f"b = {b}, {c} cycles",
            SETTINGS[name],
            batch_size=b,
            n_cycles=c,
            subsample=None,
            extra={"b": b, "cycles": c},
        )
        for b, c in SIZES[name]
    )


def at_labels(df: pd.DataFrame, checkpoints: tuple[int, ...]) -> pd.DataFrame:
    """Each metric interpolated at ``checkpoints`` labels (and at the end), mean ± 95 % CI."""
    rows = []
    for (variant, strategy), g in df.groupby(["variant", "strategy"], sort=False):
        row = {"query size": variant, "strategy": strategy, "seeds": g.seed.nunique()}
        for m in metrics_of(df):
            per_seed = {n: [] for n in checkpoints}
            final = []
            for _, t in g.groupby("seed"):
                t = t.sort_values("n_labeled")
                x, y = t.n_labeled.to_numpy(float), t[m].to_numpy(float)
                for n in checkpoints:
                    per_seed[n].append(np.interp(n, x, y) if x[0] <= n <= x[-1] else np.nan)
                final.append(y[-1])
            for n in checkpoints:
                vals = np.asarray(per_seed[n])
                row[f"{METRIC_TITLES[m]} @ {n}"] = (
                    fmt_ci(*t_interval(vals), scale=100) if np.isfinite(vals).all() else "—"
                )
            row[f"final {METRIC_TITLES[m]}"] = fmt_ci(*t_interval(np.asarray(final)), scale=100)
        rows.append(row)
    return pd.DataFrame(rows)


def build(run: ReproduceRun) -> list:
    if not variants(run):
        return skip_note(run, "query_size", SIZES)
    df = run_variants(run, "query_size", variants(run), STRATEGIES)
    out = run.out_dir("query_size")
    table = at_labels(df, CHECKPOINTS[run.preset.name])
    table.to_csv(out / f"query_size_{run.preset.name}.csv", index=False)
    body = (
        "Accuracy (%) at common label counts, mean ± 95 % t-interval over seeds.\n\n"
        f"{df_to_markdown(table)}\n"
    )
    md = write_markdown(out / f"query_size_{run.preset.name}.md", "Query size", body, run.preset)
    sized = df.assign(size=df.variant, variant="random sampling")
    fig = curves_by_variant(sized, "Query size: random sampling", hue="size")
    return [*save_figure(fig, out / f"query_size_{run.preset.name}"), md]


if __name__ == "__main__":
    script_main("query_size", build, __doc__)
