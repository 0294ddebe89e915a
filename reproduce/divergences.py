"""The measured effect of every paper-vs-code switch, each switched alone (published vs corrected).

For every row of :data:`refine.profiles.SWITCHES` that a run can measure, the strategy the row
affects runs twice per seed — once with the row's published value, once with its corrected value,
every other option at the package default (:func:`refine.profiles.resolve` with ``only=``) — on the
same seeds, hence the same initial pools and head initialisations (common random numbers). The
table gives the AULC difference published − corrected with a 95 % paired t interval over the
seeds, the verdict (the interval excludes 0 or not) and the mean overlap of the first cycle's
batches (both sides start from the same labeled pool then, so the overlap is the direct effect
of the switch on one query).

Rows that need data this preset does not have (ESC-50's split, Snacks' batch size, the CLIP
backbone), a metric option (the win-rate variant) or a loader parameter this checkout lacks are
listed with the reason instead of a number.

Presets: ``cpu`` runs digits and the synthetic 2000-instance Gaussian mixture, b = 10, seeds
1–10 and 10 cycles (fewer than the paper's 20, to stay within minutes per row on 2 shared
cores); ``paper`` runs the preset's settings, seeds and cycles. Rows with per-dataset published
values (the ensembles' subsample) use the CIFAR-10 value (1000) on datasets the published
configs do not list.

Writes ``paper_figures/divergences/divergences_<preset>.md`` and ``.csv`` (and the raw results
``results_<preset>.parquet``). ``--rows SWITCH[,SWITCH...]`` reruns only those rows (after a
change to the code a row measures, or when a row is added) and keeps the other rows of the saved
raw table; each row is a paired comparison within itself, so rows run at different times stay
valid.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from refine.errors import unknown_choice
from refine.grid import GridTrial, run_grid
from refine.loop import TrialSpec
from refine.profiles import (
    NOT_APPLICABLE,
    PUBLISHED_ENSEMBLE_SUBSAMPLE,
    SWITCHES,
    loader_accepts,
    resolve,
    switch,
)
from refine.results import load_results
from reproduce.common import ReproduceRun, df_to_markdown, script_main, write_markdown
from reproduce.equivalents import Computations

ARTEFACT = "divergences"


@dataclass(frozen=True)
class Row:
    """One switch and the strategy that shows its effect."""

    switch: str
    strategy: str
    note: str = ""


#: The strategy each row runs (only the one the row affects); the two rows that run the whole
#: filtering ensemble (Refine, filtered:random) last. The table is rewritten after every row, so a
#: run stopped early keeps the rows it finished.
ROWS = (
    Row("herding_gain", "uherding"),
    Row("bait_fisher_scaling", "bait"),
    Row("tailor_arms", "tailor"),
    Row("selectal_schedule", "selectal"),
    Row("ensemble_subsample", "tcm", "CIFAR-10's published value (1000) vs 5000"),
    Row("typiclust_rule", "typiclust"),
    Row("alfamix_anchors", "alfamix"),
    Row("alfamix_alpha_growth", "alfamix"),
    Row("uherding_zero_distances", "uherding"),
    Row("pool_fraction", "random"),
    Row("final_uherding_temperature", "refine"),
    Row("filter_variant", "filtered:random"),
)
#: Rows this artefact cannot measure, and why.
NOT_MEASURED = {
    "esc50_split": "ESC-50 only (needs its EAT features); the data layer prints the leaked clips",
    "snacks_batch_size": "Snacks only (b = 10 vs 20)",
    "clip_backbone": "a backbone (needs the image features)",
    "win_rate_variant": "a metric option, not a selection behaviour",
}

CPU_DATASETS = ("digits", "synthetic")
CPU_SEEDS = tuple(range(1, 11))
CPU_CYCLES = 10
BATCH = 10


def _side(row: Row, profile: str, dataset: str) -> tuple[dict, dict, dict] | None:
    """(strategy params, dataset params, trial settings) of one side, or None if not runnable."""
    s = switch(row.switch)
    if s.kind == "dataset" and not loader_accepts(dataset, s.parameter):
        return None
    r = resolve(profile, row.strategy, dataset=dataset, only=row.switch)
    trial = dict(r.trial)
    if s.kind == "trial" and s.name == "ensemble_subsample" and "subsample" not in trial:
        v = s.value(profile, dataset)
        trial["subsample"] = PUBLISHED_ENSEMBLE_SUBSAMPLE["cifar10"] if v is NOT_APPLICABLE else v
    return r.strategy_params, r.dataset_params, trial


def plan(run: ReproduceRun) -> tuple[list[GridTrial], list[dict]]:
    """The grid trials of every measurable row, and the rows that cannot run here."""
    from refine.datasets import dataset_entry

    if run.preset.name == "cpu":
        seeds, cycles = CPU_SEEDS, CPU_CYCLES
        settings = [(d, "raw", {}, BATCH) for d in CPU_DATASETS]
    else:  # the preset's own settings: their backbone, feature cache and b
        seeds, cycles = run.preset.seeds, run.preset.n_cycles
        settings = []
        for st in dict.fromkeys(run.preset.main):
            base = run.dataset_params(st)
            b = int(base.get("batch_size") or dataset_entry(st.dataset).batch_size)
            settings.append((st.dataset, st.backbone, base, b))
    trials: list[GridTrial] = []
    skipped: list[dict] = []
    for row in ROWS:
        for dataset, backbone, base, b in settings:
            sides = {p: _side(row, p, dataset) for p in ("published", "corrected")}
            fixed_b = "batch_size" in base and any(
                v is not None and "batch_size" in v[2] for v in sides.values()
            )
            if fixed_b:  # a batch-size row where the preset fixes b (the rehearsal's b = 3)
                skipped.append(
                    {"switch": row.switch, "dataset": dataset, "reason": "the preset fixes b"}
                )
                continue
            if any(v is None for v in sides.values()):
                skipped.append(
                    {
                        "switch": row.switch,
                        "dataset": dataset,
                        "reason": f"the {dataset} loader of this checkout lacks "
                        f"{switch(row.switch).parameter!r}",
                    }
                )
                continue
            for profile, (params, ds_params, trial) in sides.items():
                for seed in seeds:
                    spec = TrialSpec(
                        dataset=dataset,
                        backbone=backbone,
                        strategy=row.strategy,
                        seed=seed,
                        n_cycles=cycles,
                        batch_size=trial.get("batch_size", b),
                        subsample=trial.get("subsample", 5000),
                        strategy_params={**params, **_jobs(row.strategy)},
                        device=run.device,
                        label=f"{row.switch}@{profile}",
                    )
                    trials.append(GridTrial(spec, {**base, **ds_params}))
    return trials, skipped


def _jobs(strategy: str) -> dict:
    # one filtering thread: the machine is shared; results do not depend on it
    return {"n_jobs": 1} if strategy in ("refine",) or strategy.startswith("filtered:") else {}


def paired_effect(pub: np.ndarray, cor: np.ndarray) -> dict:
    """Mean paired difference published − corrected, its 95 % t interval and the verdict."""
    d = np.asarray(pub, float) - np.asarray(cor, float)
    n = d.size
    mean = float(d.mean())
    if n < 2:
        return {"n_seeds": n, "diff": mean, "lo": np.nan, "hi": np.nan, "verdict": "too few seeds"}
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        lo = hi = mean
    else:
        half = float(stats.t.ppf(0.975, n - 1)) * sd / np.sqrt(n)
        lo, hi = mean - half, mean + half
    verdict = "no detectable difference" if lo <= 0.0 <= hi else "differs"
    return {"n_seeds": n, "diff": mean, "lo": lo, "hi": hi, "verdict": verdict}


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One line per (switch, dataset): AULCs, the paired difference and the cycle-1 overlap."""
    lines = []
    df = df.assign(
        switch=df.strategy.str.rsplit("@", n=1).str[0],
        side=df.strategy.str.rsplit("@", n=1).str[1],
    )
    for (sw, dataset), g in df.groupby(["switch", "dataset"], sort=False):
        aulc = g.groupby(["side", "seed"]).accuracy.mean().unstack("side")
        aulc = aulc.dropna()
        first = g[g.cycle == 1].set_index(["side", "seed"]).selected
        overlaps = []
        for seed in aulc.index:
            a, b = first.get(("published", seed)), first.get(("corrected", seed))
            if a is not None and b is not None:
                overlaps.append(len(set(a) & set(b)) / max(len(a), 1))
        eff = paired_effect(aulc["published"].to_numpy(), aulc["corrected"].to_numpy())
        row = next(r for r in ROWS if r.switch == sw)
        lines.append(
            {
                "switch": sw,
                "strategy": row.strategy,
                "dataset": dataset,
                "AULC published": float(aulc["published"].mean()),
                "AULC corrected": float(aulc["corrected"].mean()),
                "diff (pub − cor)": eff["diff"],
                "95% lo": eff["lo"],
                "95% hi": eff["hi"],
                "seeds": eff["n_seeds"],
                "verdict": eff["verdict"],
                "cycle-1 overlap": float(np.mean(overlaps)) if overlaps else np.nan,
            }
        )
    return pd.DataFrame(lines)


def _write(run: ReproduceRun, table: pd.DataFrame, skipped: list[dict], pending: list[str]) -> list:
    out = run.out_dir(ARTEFACT)
    csv = out / f"divergences_{run.preset.name}.csv"
    table.to_csv(csv, index=False)
    measured = {r.switch for r in ROWS}
    absent = [
        {"switch": s.name, "dataset": "—", "reason": NOT_MEASURED.get(s.name, "not measured")}
        for s in SWITCHES
        if s.name not in measured
    ]
    absent += [{"switch": n, "dataset": "—", "reason": "not run yet"} for n in pending]
    described = dataclasses.replace(
        run.preset,
        description="this artefact's own seeds, cycles and datasets, given below",
    )
    cycles = CPU_CYCLES if run.preset.name == "cpu" else run.preset.n_cycles
    seeds = CPU_SEEDS if run.preset.name == "cpu" else run.preset.seeds
    datasets = ", ".join(CPU_DATASETS) if run.preset.name == "cpu" else "the preset's"
    body = (
        f"Datasets: {datasets}; seeds {seeds[0]}–{seeds[-1]}; b = {BATCH}; {cycles} cycles. "
        "Each row switched alone: the strategy the row affects, published vs corrected value, "
        "every other option at the package default; same seeds (paired). AULC = mean test "
        f"accuracy over the {cycles + 1} points (initial pool + {cycles} cycles). "
        "diff = published − corrected with a 95 % paired t interval over the seeds; verdict "
        "'differs' when the interval excludes 0. cycle-1 overlap = share of the first queried "
        "batch common to both sides (same labeled pool).\n\n"
        + (df_to_markdown(table, floatfmt="{:.4f}") if len(table) else "(no row finished)")
        + "\n\nNot measured here:\n\n"
        + df_to_markdown(pd.DataFrame(skipped + absent))
    )
    md = write_markdown(
        out / f"divergences_{run.preset.name}.md",
        "Paper vs published code: the effect of each switch",
        body,
        described,
    )
    return [csv, md]


def _switch_of(strategy_label: pd.Series) -> pd.Series:
    return strategy_label.str.rsplit("@", n=1).str[0]


def build(run: ReproduceRun) -> list:
    """Run the rows one after the other, rewriting the table after each."""
    trials, skipped = plan(run)
    raw = run.out_dir(ARTEFACT) / f"results_{run.preset.name}.parquet"
    only = tuple(getattr(run, "rows", ()) or ())
    for name in only:
        if name not in {r.switch for r in ROWS}:
            raise unknown_choice("--rows", name, [r.switch for r in ROWS])
    kept = pd.DataFrame()
    if only and not run.from_results:
        if raw.exists():  # the other rows of the saved table stay as they were measured
            saved = pd.read_parquet(raw)
            kept = saved[~_switch_of(saved.strategy).isin(only)].reset_index(drop=True)
        trials = [t for t in trials if t.spec.name.rsplit("@", 1)[0] in only]
    if run.from_results:
        if not raw.exists():
            raise SystemExit(f"--from-results: {raw} does not exist; run without it first")
        table = summarize(pd.read_parquet(raw))
        planned = {t.spec.name.rsplit("@", 1)[0] for t in trials}
        done = set(table.switch) if len(table) else set()
        pending = [r.switch for r in ROWS if r.switch in planned - done]
        return _write(run, table, skipped, pending)
    run_dir = run.runs / run.preset.name / ARTEFACT
    frames: list[pd.DataFrame] = [kept] if len(kept) else []
    paths: list = []
    order = [r.switch for r in ROWS]
    for i, name in enumerate(order):
        row_trials = [t for t in trials if t.spec.name.rsplit("@", 1)[0] == name]
        if not row_trials:
            continue
        t0 = time.perf_counter()
        run.log(f"{ARTEFACT}: {name}: {len(row_trials)} trials → {run_dir}")
        # a row's default side is often another grid's trial (the main grid's Refine, ...)
        computations = Computations(run.runs / run.preset.name)
        [(to_run, _)], adopted = computations.share([(row_trials, run_dir)])
        recs = run_grid(to_run, run_dir, engine=run.engine, n_workers=run.workers)
        failed = [r for r in recs if not r.get("ok")]
        if failed:
            raise SystemExit(f"{name}: {len(failed)} trial(s) failed: {failed[0].get('error')}")
        adopted += computations.record([(row_trials, run_dir)])
        if adopted:
            run.log(f"{ARTEFACT}: {name}: {adopted} trial(s) copied from another grid folder")
        frames.append(_row_results(run_dir, row_trials))
        df = _in_row_order(pd.concat(frames, ignore_index=True))
        df.to_parquet(raw, index=False)
        planned = {t.spec.name.rsplit("@", 1)[0] for t in trials}
        paths = _write(run, summarize(df), skipped, [n for n in order[i + 1 :] if n in planned])
        run.log(f"{ARTEFACT}: {name} done in {time.perf_counter() - t0:.0f} s")
    return [raw, *paths]


def _in_row_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in :data:`ROWS` order (a rerun row goes back to its place), stable within a row."""
    rank = {r.switch: i for i, r in enumerate(ROWS)}
    key = _switch_of(df.strategy).map(rank)
    return df.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def _row_results(run_dir, trials: list[GridTrial]) -> pd.DataFrame:
    wanted = {(t.spec.dataset, t.spec.name, t.spec.seed) for t in trials}
    df = load_results(run_dir, complete_only=True)
    keep = [k in wanted for k in zip(df.dataset, df.strategy, df.seed, strict=True)]
    return df[keep].reset_index(drop=True)


if __name__ == "__main__":
    script_main(ARTEFACT, build, __doc__)
