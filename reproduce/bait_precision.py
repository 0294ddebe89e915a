"""BAIT's float32 candidate rows against float64: paired AULC differences with intervals.

BAIT's greedy steps read every candidate's features twice per step; ``precision="float32"``
reads a float32 copy instead (half the memory traffic, single-precision products accumulated in
float64; :class:`refine.strategies.bait.Bait`), and ``precision="auto"`` (the default) does so
from 2²⁰ candidate entries on. This study runs BAIT alone and Refine (whose ensemble holds BAIT)
with ``precision="float32"`` and with ``precision="float64"`` on the same seeds (same initial
pools, head initialisations and child seeds: the difference is paired) on scikit-learn's digits
(b = 10) and on the cpu presets' ``synthetic_shapes`` pool (20 classes, b = K = 20, class
imbalance, near-duplicates and outliers). Both pools are below the ``auto`` threshold, so
float32 is forced here: the study measures what the float32 arithmetic does to the learning
curves, on pools where every trial can be run.

For each (strategy, dataset) the table gives the paired AULC difference float32 − float64 with
its 95 % stratified-bootstrap interval (:func:`refine.stats.aulc_difference`, Hesterberg's
expanded percentile interval), the seed-to-seed standard deviation of the float64 AULC (the
noise the difference is compared with) and how many seeds gave identical learning curves under
both precisions. Verdict rule, fixed before the numbers: the precisions differ when the
difference's interval excludes 0; otherwise "no detectable difference".

Presets: ``cpu``, ``cpu-claims`` and ``paper`` run seeds 1–10 and 20 cycles with the package
defaults (no fidelity profile) and one filtering thread; any other preset (``rehearsal``) runs
its own seeds and cycles, to check the code path only.

Writes ``paper_figures/bait_precision/bait_precision_<preset>.md`` and ``.csv`` and the raw
results ``results_<preset>.parquet``; the numbers are also printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refine.grid import GridTrial
from refine.loop import TrialSpec
from refine.metrics import aulc_table
from refine.seeding import child_rng
from refine.stats import aulc_difference
from reproduce.common import ReproduceRun, run_or_load, script_main, write_study_markdown
from reproduce.presets import SYNTHETIC_SHAPES, Setting

ARTEFACT = "bait_precision"
PRECISIONS = ("float32", "float64")
STRATEGIES = ("bait", "refine")
SETTINGS = (Setting("digits"), SYNTHETIC_SHAPES)
SEEDS = tuple(range(1, 11))
CYCLES = 20
FULL_PRESETS = ("cpu", "cpu-claims", "paper")


def label(strategy: str, precision: str) -> str:
    """The results name of ``strategy`` with BAIT's ``precision``."""
    return f"{strategy}@{precision}"


def strategy_params(strategy: str, precision: str) -> dict:
    """BAIT's ``precision`` for BAIT itself, or for the BAIT member of Refine's ensemble."""
    if strategy == "bait":
        return {"precision": precision}
    # one filtering thread: the machine is shared; the batches do not depend on it
    return {"n_jobs": 1, "filter__strategy_params": {"bait": {"precision": precision}}}


def plan(run: ReproduceRun) -> list[GridTrial]:
    """Every setting × strategy × precision × seed."""
    from refine.datasets import dataset_entry

    full = run.preset.name in FULL_PRESETS
    seeds = SEEDS if full else run.preset.seeds
    cycles = CYCLES if full else run.preset.n_cycles
    trials = []
    for setting in SETTINGS:
        params = dict(setting.params)
        b = int(params.get("batch_size") or dataset_entry(setting.dataset).batch_size)
        for strategy in STRATEGIES:
            for precision in PRECISIONS:
                for seed in seeds:
                    spec = TrialSpec(
                        dataset=setting.dataset,
                        backbone=setting.backbone,
                        strategy=strategy,
                        seed=seed,
                        n_cycles=cycles,
                        batch_size=b,
                        strategy_params=strategy_params(strategy, precision),
                        device=run.device,
                        label=label(strategy, precision),
                    )
                    trials.append(GridTrial(spec, params))
    return trials


def summarize(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One row per (strategy, dataset): the paired difference float32 − float64 and its verdict.

    Columns: strategy, dataset, seeds, AULC float64 (mean), seed sd (float64), diff, 95 % lo,
    95 % hi (AULC points), identical curves (seeds whose accuracies agree at every cycle), verdict.
    """
    per = aulc_table(df)
    rows = []
    for strategy in STRATEGIES:
        a, b = label(strategy, "float32"), label(strategy, "float64")
        for dataset in sorted(set(df.dataset)):
            sub = df[df.dataset == dataset]
            if not ({a, b} <= set(sub.strategy)):
                continue
            overall, _ = aulc_difference(sub, a, b, child_rng(seed, ARTEFACT, strategy, dataset))
            base = per[(per.strategy == b) & (per.dataset == dataset)].aulc
            curves = sub.pivot_table(
                index=["seed", "cycle"], columns="strategy", values="accuracy"
            )[[a, b]].dropna()
            same = curves[a].eq(curves[b]).groupby(level="seed").all()
            rows.append(
                {
                    "strategy": strategy,
                    "dataset": dataset,
                    "seeds": int(same.size),
                    "AULC float64": float(base.mean()),
                    "seed sd": float(base.std(ddof=1)) if base.size > 1 else np.nan,
                    "diff": overall.estimate / 100,
                    "95% lo": overall.low / 100,
                    "95% hi": overall.high / 100,
                    "identical curves": int(same.sum()),
                    "verdict": "differs" if overall.excludes(0.0) else "no detectable difference",
                }
            )
    return pd.DataFrame(rows)


def report_lines(table: pd.DataFrame) -> list[str]:
    """One printed line per (strategy, dataset)."""
    return [
        f"{r['strategy']} on {r['dataset']}: AULC float32 − float64 {r['diff']:+.4f} "
        f"[{r['95% lo']:+.4f}, {r['95% hi']:+.4f}] over {r['seeds']} seeds (float64 seed sd "
        f"{r['seed sd']:.4f}; identical curves on {r['identical curves']} of {r['seeds']}): "
        f"{r['verdict']}"
        for r in table.to_dict("records")
    ]


def build(run: ReproduceRun) -> list:
    """Run (or load) the trials, print the summary, write the table."""
    trials = plan(run)
    df = run_or_load(run, ARTEFACT, ARTEFACT, trials)
    table = summarize(df)
    lines = report_lines(table)
    for line in lines:
        run.log(line)
    out = run.out_dir(ARTEFACT)
    csv = out / f"{ARTEFACT}_{run.preset.name}.csv"
    table.to_csv(csv, index=False)
    cycles = int(trials[0].spec.n_cycles)
    intro = (
        "BAIT alone and Refine (BAIT is one of its nine members) with BAIT's "
        '`precision="float32"` (float32 candidate rows in the greedy steps) against '
        f'`precision="float64"`, paired by seed; {cycles} cycles; digits (b = 10) and '
        "`synthetic_shapes` (2000 instances, 20 classes, b = 20); package defaults, one "
        "filtering thread. AULC = mean test accuracy over the "
        f"{cycles + 1} points, in [0, 1]. Interval: 95 % bootstrap over seeds (expanded "
        "percentile, refine/stats.py). `seed sd`: the standard deviation of the float64 AULC "
        "over seeds. Verdict rule: the precisions differ when the difference's interval "
        "excludes 0."
    )
    md = write_study_markdown(
        run,
        out / f"{ARTEFACT}_{run.preset.name}.md",
        "BAIT's float32 candidate rows against float64",
        intro,
        table,
        lines,
    )
    return [out / f"results_{run.preset.name}.parquet", csv, md]


if __name__ == "__main__":
    script_main(ARTEFACT, build, __doc__)
