"""Medical images (CVPR version): BloodMNIST and DermaMNIST, far from the backbone's pre-training.

Published setting (``slurm/ood.sh``): DINOv2 features of MedMNIST at 224 px, the whole training
split as the pool (BloodMNIST 11 959, DermaMNIST 7 007; no sub-pool), b = 10, 20 cycles, single
strategies on a subsample of 1000, 10 seeds; Random, SelectAL, TCM, TAILOR, AutoAL, Refine,
UHerding. "OOD" there means a domain far from ImageNet-style pre-training; no out-of-distribution
instances are mixed into the pool. Extract the features first (``refine extract --dataset
bloodmnist --data-dir DIR``, DIR holding ``bloodmnist_224.npz``).

The cpu preset cannot read MedMNIST (no download here); as its stand-in for features that fit
the task poorly it runs digits with noisy features (``noise_std=0.1`` on L2-normalised pixels,
the published noisy-features option), b = 10, a subsample of 1000.
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
from reproduce.longtail import STRATEGIES
from reproduce.presets import Setting

VARIANTS = {
    "paper": tuple(
        Variant(d, title, Setting(d, "dinov2"), batch_size=10, n_cycles=20, subsample=1000)
        for d, title in (("bloodmnist", "BloodMNIST"), ("dermamnist", "DermaMNIST"))
    ),
    "cpu": (
        Variant(
            "digits-noisy",
            "digits, noisy features (std 0.1)",
            Setting("digits", "raw", (("noise_std", 0.1),)),
            batch_size=10,
            n_cycles=10,
            subsample=1000,
        ),
    ),
}


def variants(run: ReproduceRun) -> tuple[Variant, ...]:
    return preset_variants(VARIANTS, run)


def build(run: ReproduceRun) -> list:
    if not variants(run):
        return skip_note(run, "medical", VARIANTS)
    strategies = {s: (s, {}) for s in available(STRATEGIES)}
    strategies["refine"] = ("refine", dict(run.preset.refine_params))
    df = run_variants(run, "medical", variants(run), strategies)
    out = run.out_dir("medical")
    ms = metrics_of(df)
    s = summary(df)
    p = paired_differences(df, "refine")
    s.to_csv(out / f"medical_{run.preset.name}.csv", index=False)
    p.to_csv(out / f"medical_paired_{run.preset.name}.csv", index=False)
    body = (
        "## AULC per strategy (mean ± 95 % t-interval over seeds)\n\n"
        f"{summary_markdown(s, ms)}\n\n"
        "## Refine minus each strategy (paired over seeds, percentage points)\n\n"
        f"{paired_markdown(p, ms, 'refine')}\n"
    )
    if run.preset.name == "cpu":
        body += (
            "\nThe cpu preset's stand-in is digits with noisy features, not MedMNIST; it checks "
            "the pipeline, not the paper's medical-domain numbers.\n"
        )
    md = write_markdown(
        out / f"medical_{run.preset.name}.md", "Medical-domain datasets", body, run.preset
    )
    fig = curves_by_variant(df, "Medical domain: learning curves")
    return [*save_figure(fig, out / f"medical_{run.preset.name}"), md]


if __name__ == "__main__":
    script_main("medical", build, __doc__)
