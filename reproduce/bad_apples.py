"""Bad apples (CVPR version): Refine with a weak five-strategy ensemble vs the full ensemble.

Published setting (``slurm/bad_apples.sh``): Dopanim with CLIP features (where the paper
reports Refine's limitation), the ensemble restricted to Random, DropQuery, TypiClust,
MaxHerding and UHerding ("the worst performing strategies + one good one"), subset 5000, 10
seeds. That script also sets ``al.strategy=max_herding`` beside the ensemble override, so it
is unclear whether it ran Refine or MaxHerding; we run Refine with the weak ensemble
(``strategies=[...]``), beside Refine with its full ensemble and Random. The cpu preset: digits.
"""

from __future__ import annotations

from reproduce.common import ReproduceRun, save_figure, script_main, write_markdown
from reproduce.extensions import (
    Variant,
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

WEAK_ENSEMBLE = ("random", "dropquery", "typiclust", "maxherding", "uherding")
WEAK_LABEL = "refine[weak 5]"

VARIANTS = {
    "paper": (
        Variant(
            "dopanim-clip", "Dopanim / CLIP", Setting("dopanim", "clip"), 50, 20, subsample=5000
        ),
    ),
    "cpu": (Variant("digits", "digits", Setting("digits"), 10, 10, subsample=None),),
}


def build(run: ReproduceRun) -> list:
    vs = preset_variants(VARIANTS, run)
    if not vs:
        return skip_note(run, "bad_apples", VARIANTS)
    rp = dict(run.preset.refine_params)
    strategies = {
        "random": ("random", {}),
        "refine": ("refine", rp),
        WEAK_LABEL: ("refine", {**rp, "strategies": list(WEAK_ENSEMBLE)}),
    }
    df = run_variants(run, "bad_apples", vs, strategies)
    out = run.out_dir("bad_apples")
    ms = metrics_of(df)
    s = summary(df)
    p = paired_differences(df, "refine")
    s.to_csv(out / f"bad_apples_{run.preset.name}.csv", index=False)
    p.to_csv(out / f"bad_apples_paired_{run.preset.name}.csv", index=False)
    body = (
        f"Weak ensemble: {', '.join(WEAK_ENSEMBLE)} (final selection UHerding, as in Refine).\n\n"
        "## AULC per strategy (mean ± 95 % t-interval over seeds)\n\n"
        f"{summary_markdown(s, ms)}\n\n"
        "## Full-ensemble Refine minus each (paired over seeds, percentage points)\n\n"
        f"{paired_markdown(p, ms, 'refine')}\n"
    )
    md = write_markdown(
        out / f"bad_apples_{run.preset.name}.md", "Bad apples: a weak ensemble", body, run.preset
    )
    fig = curves_by_variant(df, "Bad apples: Refine with the full vs a weak ensemble")
    return [*save_figure(fig, out / f"bad_apples_{run.preset.name}"), md]


if __name__ == "__main__":
    script_main("bad_apples", build, __doc__)
