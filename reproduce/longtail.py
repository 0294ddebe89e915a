"""Long-tailed pools (CVPR version): accuracy and balanced accuracy at imbalance ratios 10 and 50.

Only the pool is thinned, with the exponential profile of the authors' ``LongTailedWrapper``
(``refine.datasets.transforms``: class c keeps ``int((N/C)·IR^(−c/(C−1)))``, seed 42); the test
split stays balanced. Published setting (``slurm/long_tailed.sh``): DINOv2, Snacks (b = 10) and
CIFAR-100 (b = 100) from the published 90 % pool, IR ∈ {10, 50}, 20 cycles, 10 seeds, Random,
SelectAL, TCM, TAILOR, AutoAL, Refine and UHerding, single strategies on the config's
``subset_size`` (Snacks 1000, CIFAR-100 2500). The cpu preset: digits (its whole 1347-instance
pool) at IR 10 and 50, b = 10.

AutoAL enters when this installation registers it (``autoal``). Balanced accuracy (the mean of
per-class recalls) is reported where the loop records it in the results.
"""

from __future__ import annotations

from reproduce.common import ReproduceRun, save_figure, script_main, write_markdown
from reproduce.extensions import (
    Variant,
    available,
    curves_by_variant,
    metrics_of,
    paired_differences,
    paired_markdown,
    preset_variants,
    run_variants,
    skip_note,
    summary,
    summary_markdown,
)
from reproduce.presets import Setting

STRATEGIES = ("random", "selectal", "tcm", "tailor", "autoal", "refine", "uherding")
IMBALANCE_RATIOS = (10, 50)


def _lt(dataset, backbone, ir, b, subsample, pool_fraction=None):
    params = {"imbalance_ratio": ir}
    if pool_fraction is not None:
        params["pool_fraction"] = pool_fraction
    return Variant(
        key=f"{dataset}-lt{ir}",
        title=f"{dataset}, IR {ir}",
        setting=Setting(dataset, backbone, tuple(sorted(params.items()))),
        batch_size=b,
        n_cycles=20,
        subsample=subsample,
        extra={"imbalance_ratio": ir},
    )


VARIANTS = {
    "paper": tuple(
        _lt(d, "dinov2", ir, b, sub, pool_fraction=0.9)
        for d, b, sub in (("snacks", 10, 1000), ("cifar100", 100, 2500))
        for ir in IMBALANCE_RATIOS
    ),
    "cpu": tuple(_lt("digits", "raw", ir, 10, None) for ir in IMBALANCE_RATIOS),
}


def variants(run: ReproduceRun) -> tuple[Variant, ...]:
    return preset_variants(VARIANTS, run)


def strategies(run: ReproduceRun) -> dict[str, tuple[str, dict]]:
    out = {s: (s, {}) for s in available(STRATEGIES)}
    out["refine"] = ("refine", dict(run.preset.refine_params))
    return out


def build(run: ReproduceRun) -> list:
    if not variants(run):
        return skip_note(run, "longtail", VARIANTS)
    df = run_variants(run, "longtail", variants(run), strategies(run))
    out = run.out_dir("longtail")
    ms = metrics_of(df)
    s = summary(df)
    p = paired_differences(df, "refine")
    s.to_csv(out / f"longtail_{run.preset.name}.csv", index=False)
    p.to_csv(out / f"longtail_paired_{run.preset.name}.csv", index=False)
    notes = []
    if "balanced_accuracy" not in ms:
        notes.append(
            "These results carry no `balanced_accuracy` column (recorded by the loop from the "
            "version that adds it); rerun to add it."
        )
    if "autoal" not in set(df.strategy):
        notes.append("AutoAL is not registered in this installation and was left out.")
    body = (
        "## AULC per strategy (mean ± 95 % t-interval over seeds)\n\n"
        f"{summary_markdown(s, ms)}\n\n"
        "## Refine minus each strategy (paired over seeds, percentage points)\n\n"
        f"{paired_markdown(p, ms, 'refine')}\n\n" + "\n\n".join(notes)
    )
    md = write_markdown(
        out / f"longtail_{run.preset.name}.md", "Long-tailed pools", body, run.preset
    )
    fig = curves_by_variant(df, "Long-tailed pools: learning curves")
    return [*save_figure(fig, out / f"longtail_{run.preset.name}"), md]


if __name__ == "__main__":
    script_main("longtail", build, __doc__)
