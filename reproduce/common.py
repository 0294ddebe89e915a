"""Shared machinery of the reproduction scripts: run a grid, save raw results, draw, tabulate.

Every artefact writes under ``paper_figures/<artefact>/``: the raw results table
(``results_<preset>.parquet``), its figure(s) as PNG and PDF and a markdown table. Trials run
through :func:`refine.grid.run_grid` into ``results/reproduce/<preset>/<grid>/`` (one file per
trial, resumable); ``--from-results`` redraws from the saved raw table without recomputing.
The ``rehearsal`` preset writes everything (generated data, features, runs, figures) under
``results/rehearsal/`` instead (``--rehearsal-dir``), never into ``paper_figures/``.

Trials read cached features only (:mod:`refine.trial_data`): before a grid starts, the features
of each of its settings are loaded once, so missing features stop the script with one line
naming the ``refine extract`` command (exit status 2), not with a failure per trial.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from refine.errors import ConfigError, RefineError
from refine.grid import GridTrial, load_trial_data, run_grid, run_grids
from refine.loop import TrialSpec
from refine.plots import save_figure as _save
from refine.profiles import profile_trial
from refine.results import load_results
from reproduce.equivalents import Computations
from reproduce.presets import PRESETS, Preset, Setting, get_preset

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "paper_figures"
RUNS = ROOT / "results" / "reproduce"
REHEARSAL_DIR = ROOT / "results" / "rehearsal"


@dataclass
class ReproduceRun:
    """One reproduction run: the preset and the options every artefact script reads.

    The scripts call it ``run``; ``ctx`` names only :class:`refine.context.SelectionContext`.
    """

    preset: Preset
    engine: str = "local"
    workers: int = 1
    address: str | None = None
    features_dir: str | None = None
    from_results: bool = False
    figures: Path = FIGURES
    runs: Path = RUNS
    quiet: bool = False
    #: Torch device of every trial's head (``--device``; ``auto`` is resolved before this).
    device: str = "cpu"
    #: Local weights per backbone (``--weights BACKBONE=PATH``): the features were extracted
    #: with ``refine extract --weights PATH``.
    weights: dict = field(default_factory=dict)
    #: Where the rehearsal preset generates its data.
    data_dir: Path | None = None
    #: Why ``device`` was chosen (printed with every grid), e.g. " (auto: no CUDA device found)".
    device_note: str = ""
    partial: bool = False
    #: divergences only (``--rows``): rerun just these switches, keeping the saved other rows.
    rows: tuple[str, ...] = ()

    def out_dir(self, artefact: str) -> Path:
        d = self.figures / artefact
        d.mkdir(parents=True, exist_ok=True)
        return d

    def dataset_params(self, setting: Setting) -> dict:
        """The loader parameters of ``setting``'s features under this preset and options."""
        extra = dict(self.preset.feature_params)
        if setting.backbone in self.weights:
            extra["weights_path"] = str(self.weights[setting.backbone])
        elif not self.preset.pretrained:
            extra["pretrained"] = False
        return setting.dataset_params(self.features_dir, extra)

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)


def trials_for(
    run: ReproduceRun,
    settings: tuple[Setting, ...],
    strategies: dict[str, tuple[str, dict]],
) -> list[GridTrial]:
    """Grid trials: every setting × labelled strategy × seed of the preset.

    ``strategies`` maps a results label to ``(registry spec, params)``. Each trial's AL batch
    size b is its dataset's (docs/protocol.md §3), or the ``batch_size`` loader parameter of the preset.
    """
    from refine.datasets import dataset_entry

    out = []
    for st in settings:
        params_st = run.dataset_params(st)
        b = int(params_st.get("batch_size") or dataset_entry(st.dataset).batch_size)
        for label, (spec, params) in strategies.items():
            for seed in run.preset.seeds:
                trial = TrialSpec(
                    dataset=st.dataset,
                    backbone=st.backbone,
                    strategy=spec,
                    seed=seed,
                    n_cycles=run.preset.n_cycles,
                    batch_size=b,
                    strategy_params=dict(params),
                    device=run.device,
                    label=None if label == spec else label,
                )
                # the preset's fidelity profile (paper: published); explicit params still win, and
                # b stays the dataset's (the loaded data's b must match the trials')
                trial, ds_params = profile_trial(
                    trial, run.preset.profile, params_st, explicit={"batch_size"}
                )
                out.append(GridTrial(trial, ds_params))
    return out


def run_or_load(
    run: ReproduceRun, artefact: str, grid: str, trials: list[GridTrial], raw_name: str = "results"
) -> pd.DataFrame:
    """Run ``trials`` (skipping finished ones) or load the saved raw table (``--from-results``).

    The raw table of the artefact is saved as ``paper_figures/<artefact>/results_<preset>.parquet``.
    """
    raw = run.out_dir(artefact) / f"{raw_name}_{run.preset.name}.parquet"
    if run.from_results:
        if not raw.exists():
            raise SystemExit(f"--from-results: {raw} does not exist; run without it first")
        return pd.read_parquet(raw)
    run_dir = run.runs / run.preset.name / grid
    check_data(trials)
    t0 = time.perf_counter()
    computations = Computations(run.runs / run.preset.name)
    [(to_run, _)], adopted = computations.share([(trials, run_dir)])
    _run_logged(
        run,
        f"{artefact}: {len(trials)} trials ({run.engine}, {run.workers} worker(s), heads on "
        f"{run.device}{run.device_note}) → {run_dir}",
        len(to_run),
        lambda on_done: run_grid(to_run, run_dir, on_done=on_done, **_engine(run)),
    )
    adopted += computations.record([(trials, run_dir)])
    _log_adopted(run, artefact, adopted)
    wanted = {(t.spec.dataset, t.spec.backbone, t.spec.name, t.spec.seed) for t in trials}
    df = load_results(run_dir, complete_only=True)
    keep = [k in wanted for k in zip(df.dataset, df.backbone, df.strategy, df.seed, strict=True)]
    df = df[keep].reset_index(drop=True)
    df.to_parquet(raw, index=False)
    run.log(f"{artefact}: {len(df)} rows in {time.perf_counter() - t0:.0f} s → {raw}")
    return df


#: Rough run times of the trials that are not filtered, relative to one filtering draw of one
#: strategy in one round and cycle (:func:`trial_cost`). Measured on digits, one thread
#: (2026-12-02): a filtered trial at R = 5, m = 11 with the nine strategies (495 draws per
#: cycle) ≈ 22 s, AutoAL ≈ 33 s, an ensemble baseline ≈ 4.5 s, a single strategy ≈ 1.3 s.
_TRIAL_COST = {"autoal": 750.0, "selectal": 100.0, "tcm": 100.0, "tailor": 100.0}
_SINGLE_COST = 30.0


def trial_cost(trial: GridTrial) -> float:
    """An estimate of ``trial``'s run time (arbitrary units) to start the costliest first.

    A filtered strategy (Refine, ``filtered:X``) costs its draws per cycle, rounds × draws ×
    members; AutoAL and the ensemble baselines cost their measured multiples of one draw
    (:data:`_TRIAL_COST`); any other strategy a single strategy's. Only the order of the trials
    depends on it (:func:`refine.grid.run_grids`), never their results.
    """
    from refine.strategies.refine import Filtered, Refine
    from refine.strategies.registry import make_strategy

    spec = trial.spec
    strategy = make_strategy(spec.strategy, **spec.strategy_params)
    if isinstance(strategy, (Refine, Filtered)):
        f = strategy.filter
        members = f.strategies
        n = len(members.split(",")) if isinstance(members, str) else len(members)
        per_cycle = float(f.rounds * f.draws_per_strategy * n)
    else:
        per_cycle = _TRIAL_COST.get(str(spec.strategy).split(":")[0], _SINGLE_COST)
    return per_cycle * spec.n_cycles


def run_all(run: ReproduceRun, grids: list[tuple[str, list[GridTrial]]]) -> None:
    """Run the trials of several grids ``(run folder, trials)`` in one pool, costliest first.

    What :func:`run_or_load` does per grid, for all of them at once (:func:`refine.grid.run_grids`):
    no pool start-up and no idle worker at the end of each grid. The grids' raw tables are then
    written by :func:`run_or_load`, which finds every trial finished.
    """
    trials = [t for _, ts in grids for t in ts]
    if run.from_results or not trials:
        return
    check_data(trials)
    t0 = time.perf_counter()
    jobs = [(ts, run.runs / run.preset.name / grid) for grid, ts in grids]
    computations = Computations(run.runs / run.preset.name)
    to_run, adopted = computations.share(jobs)
    n = len({(str(out), t.key()) for ts, out in to_run for t in ts})
    _run_logged(
        run,
        f"{n} trials of {len(grids)} grid(s) in one pool ({run.engine}, {run.workers} worker(s), "
        f"heads on {run.device}{run.device_note}, costliest first)",
        n,
        lambda on_done: run_grids(to_run, on_done=on_done, cost=trial_cost, **_engine(run)),
        folders=True,
    )
    adopted += computations.record(jobs)
    _log_adopted(run, "pool", adopted)
    run.log(f"{n} trials in {time.perf_counter() - t0:.0f} s")


def _log_adopted(run: ReproduceRun, what: str, adopted: int) -> None:
    if adopted:
        run.log(
            f"{what}: {adopted} trial(s) copied from the same computation in another grid "
            "folder (reproduce/equivalents.py)"
        )


def _engine(run: ReproduceRun) -> dict:
    """The engine arguments of :func:`refine.grid.run_grid` / ``run_grids`` for ``run``."""
    return {"engine": run.engine, "n_workers": run.workers, "address": run.address}


def _run_logged(
    run: ReproduceRun,
    header: str,
    n: int,
    launch: Callable[[Callable[[dict], None]], list[dict]],
    folders: bool = False,
) -> None:
    """Log ``header``, run ``launch(on_done)`` with a line per finished trial, stop on failures."""
    done = {"n": 0}

    def progress(rec):
        done["n"] += 1
        status = "ok" if rec.get("ok") else f"FAILED: {rec.get('error')}"
        where = f"{Path(rec.get('out_dir', '')).name}/" if folders else ""
        run.log(f"  [{done['n']}/{n}] {where}{rec['key']}: {status}")

    run.log(header)
    recs = launch(progress)
    failed = [r for r in recs if not r.get("ok")]
    if failed:
        raise SystemExit(f"{len(failed)} trial(s) failed, first: {failed[0].get('error')}")


def check_data(trials: Iterable[GridTrial]) -> None:
    """Load the features of every setting of ``trials`` once, before any trial runs.

    Missing features raise :class:`refine.features.FeaturesNotFoundError` with one line naming
    the ``refine extract`` command, instead of the same failure in every trial.
    """
    seen = set()
    for t in trials:
        key = (t.spec.dataset, repr(sorted(t.dataset_params.items())))
        if key not in seen:
            seen.add(key)
            data = load_trial_data(t)
            if data.batch_size != t.spec.batch_size:  # b is the dataset's (docs/protocol.md §3)
                raise ConfigError(
                    f"{t.spec.dataset}: trials use b = {t.spec.batch_size}, the dataset's b is "
                    f"{data.batch_size}"
                )


def save_figure(fig, path_stem: Path) -> list[Path]:
    """Save ``fig`` as PNG and PDF (:func:`refine.plots.save_figure`); return both paths."""
    return _save(fig, path_stem)


def write_markdown(path: Path, title: str, body: str, preset: Preset) -> Path:
    text = (
        f"# {title}\n\n_Generated by `python -m reproduce` (preset `{preset.name}`: "
        f"{preset.description}). Do not edit by hand._\n\n{body.rstrip()}\n"
    )
    path.write_text(text)
    return path


def write_study_markdown(
    run: ReproduceRun, path: Path, title: str, intro: str, table: pd.DataFrame, lines: list[str]
) -> Path:
    """The markdown of a paired study with seeds and cycles of its own (not the preset's).

    ``intro`` (setting, interval and verdict rule), the table (4 decimals) and one bullet per
    printed line; the header says that the study keeps its own seeds and cycles.
    """
    body = (
        intro
        + "\n\n"
        + (df_to_markdown(table, floatfmt="{:.4f}") if len(table) else "(no trial finished)")
        + "\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    described = replace(run.preset, description="this artefact's own seeds and cycles, given below")
    return write_markdown(path, title, body, described)


def df_to_markdown(df: pd.DataFrame, floatfmt: str = "{:.2f}") -> str:
    """A plain GitHub markdown table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("—" if v != v else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--preset", default="cpu", choices=list(PRESETS))
    ap.add_argument("--engine", default="local", choices=["local", "ray"])
    ap.add_argument("--workers", type=int, default=1, help="parallel trials")
    ap.add_argument("--address", default=None, help="Ray cluster address (engine ray)")
    ap.add_argument(
        "--device",
        default="auto",
        help="torch device of head training in every trial: cpu, cuda, cuda:N or auto (CUDA "
        "when available; the choice is printed). With Ray, CUDA trials reserve 1/workers GPU",
    )
    ap.add_argument(
        "--features-dir",
        default=None,
        help="feature cache written by `refine extract` (default: features/; rehearsal: "
        "REHEARSAL_DIR/features)",
    )
    ap.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="BACKBONE=PATH",
        help="features of BACKBONE were extracted with `refine extract --weights PATH` "
        "(repeatable; offline machines)",
    )
    ap.add_argument("--from-results", action="store_true", help="redraw from saved raw results")
    ap.add_argument(
        "--figures",
        type=Path,
        default=None,
        help="output root (default: paper_figures/; rehearsal: REHEARSAL_DIR/figures)",
    )
    ap.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="trial results root (default: results/reproduce/; rehearsal: REHEARSAL_DIR/runs)",
    )
    ap.add_argument(
        "--rehearsal-dir",
        type=Path,
        default=REHEARSAL_DIR,
        help="working folder of the rehearsal preset: generated data, features, runs, figures",
    )
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument(
        "--partial",
        action="store_true",
        help="claims only: build the ledger from the trials finished so far, run nothing",
    )
    ap.add_argument(
        "--rows",
        default="",
        metavar="SWITCH[,SWITCH...]",
        help="divergences only: rerun just these rows (switch names) and keep the other rows of "
        "the saved raw table",
    )


def _parse_weights(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise ConfigError(f"--weights expects BACKBONE=PATH, got {item!r}")
        out[name.strip()] = str(Path(path).expanduser().resolve())
    return out


def run_from_args(args: argparse.Namespace) -> ReproduceRun:
    from refine.device import resolve_device

    preset = get_preset(args.preset)
    rehearsal = preset.prepare is not None
    root = Path(args.rehearsal_dir).resolve()

    def pick(value, paper_default: Path, rehearsal_name: str) -> Path:
        if value is not None:
            return Path(value).resolve()
        return root / rehearsal_name if rehearsal else paper_default

    device = str(resolve_device(args.device))
    run = ReproduceRun(
        preset=preset,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        features_dir=str(pick(args.features_dir, Path("features").resolve(), "features")),
        from_results=args.from_results,
        figures=pick(args.figures, FIGURES, "figures"),
        runs=pick(args.runs, RUNS, "runs"),
        quiet=args.quiet,
        device=device,
        weights=_parse_weights(args.weights),
        data_dir=root / "data" if rehearsal else None,
        device_note=" (auto: no CUDA device found)"
        if args.device == "auto" and device == "cpu"
        else (" (auto)" if args.device == "auto" else ""),
        partial=args.partial,
        rows=tuple(r.strip() for r in args.rows.split(",") if r.strip()),
    )
    return run


def run_artefacts(run: ReproduceRun, names: list[str], builders: dict[str, Callable]) -> None:
    """Prepare the preset's data (rehearsal), build each artefact, print their timings.

    The package's own errors (missing features, bad options) end the program with one line on
    stderr and exit status 2, like the ``refine`` CLI.
    """
    try:
        timings = {}
        if run.preset.prepare and not run.from_results:
            t0 = time.perf_counter()
            importlib.import_module(run.preset.prepare).prepare(run)
            timings["prepare"] = time.perf_counter() - t0
        for name in names:
            t0 = time.perf_counter()
            for p in builders[name](run):
                run.log(f"wrote {p}")
            timings[name] = time.perf_counter() - t0
    except RefineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    for name, secs in timings.items():
        run.log(f"{name:>10s}: {secs:7.1f} s")


def script_main(name: str, build: Callable[[ReproduceRun], list[Path]], doc: str | None) -> None:
    ap = argparse.ArgumentParser(prog=f"python -m reproduce.{name}", description=doc)
    add_common_args(ap)
    try:
        run = run_from_args(ap.parse_args())
    except RefineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    run_artefacts(run, [name], {name: build})
