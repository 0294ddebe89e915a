"""Command-line interface: ``refine run``, ``refine report``, ``refine datasets``, ...

Every command turns the package's own errors (:class:`refine.errors.RefineError`) into a one-line
message on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from refine.errors import ConfigError, RefineError

app = typer.Typer(
    name="refine",
    help="Refine: progressive filtering of unlabeled pools in deep active learning "
    "(Huseljic et al., arXiv 2511.22344).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def friendly_errors(fn):
    """Print RefineErrors as one clear line and exit with status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RefineError as exc:
            # escaped: a message's square brackets (``refine-al[backbones]``) are text, not markup
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code=2) from None

    return wrapper


def parse_seeds(text: str) -> list[int]:
    """Parse ``"1-3"``, ``"1,2,5"`` or ``"1-3,7"`` into a sorted list of unique seeds."""
    seeds: set[int] = set()
    if not text or not text.strip():
        raise ConfigError("--seeds must not be empty; examples: '1', '1-10', '1,3,5', '1-3,7'")
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ConfigError(
                f"--seeds: malformed part {part!r}; use non-negative integers and ranges like "
                "'1-10', '1,3,5' or '1-3,7'"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ConfigError(f"--seeds: range {part!r} is empty (end before start)")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def route_params(names: list[str], params: dict) -> dict[str, dict]:
    """Each strategy's constructor parameters from the ``--param`` items of a run.

    ``STRATEGY.KEY=VALUE`` (``refine.rounds=3``) goes to that strategy only. A plain
    ``KEY=VALUE`` goes to every strategy of the run that takes ``KEY``, so
    ``--strategy random,refine --param rounds=3`` configures Refine and leaves Random alone; a key
    no strategy takes is an error naming the parameters each one has.
    """
    from refine.strategies.registry import parameter_names

    accepted = {n: set(parameter_names(n)) for n in names}
    routed: dict[str, dict] = {n: {} for n in names}
    for key, value in params.items():
        scope, dot, sub = key.rpartition(".")
        if dot and scope:
            if scope not in routed:
                raise ConfigError(
                    f"--param {key}: {scope!r} is not a strategy of this run; allowed: "
                    + ", ".join(names)
                )
            if sub not in accepted[scope]:
                raise ConfigError(
                    f"--param {key}: strategy {scope!r} has no parameter {sub!r}; allowed: "
                    + (", ".join(sorted(accepted[scope])) or "none")
                )
            routed[scope][sub] = value
            continue
        takers = [n for n in names if key in accepted[n]]
        if not takers:
            have = "; ".join(f"{n}: {', '.join(sorted(accepted[n])) or 'none'}" for n in names)
            raise ConfigError(f"--param {key}: no strategy of this run takes it ({have})")
        for n in takers:
            routed[n][key] = value
    return routed


def parse_params(items: list[str] | None) -> dict:
    """``["k=v", ...]`` → dict, values parsed as JSON when possible (numbers, true, null, lists)."""
    import json

    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--param expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def split_names(values: list[str]) -> list[str]:
    """Accept ``--strategy a --strategy b`` and ``--strategy a,b``."""
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@app.command()
@friendly_errors
def run(
    dataset: Annotated[
        str, typer.Option(help="Registered dataset (see `refine datasets`).")
    ] = "digits",
    strategy: Annotated[
        list[str],
        typer.Option(
            help="Strategy spec(s), repeatable or comma-separated, e.g. 'random,margin', "
            "'refine', 'filtered:bait' (see `refine strategies`)."
        ),
    ] = ["random"],  # noqa: B006 (typer reads the default)
    seeds: Annotated[str, typer.Option(help="Seeds: '1', '1-10', '1,3,5' or '1-3,7'.")] = "1",
    cycles: Annotated[
        int, typer.Option(min=0, help="AL cycles after the initial pool (paper: 20).")
    ] = 20,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Instances labeled per cycle b (default: the dataset's b)."),
    ] = None,
    subsample: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Random subsample of the unlabeled pool scored by single strategies "
            "per query (0 = whole pool; default 5000, or the --profile's value). "
            "Refine/filtered strategies ignore it.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Results folder (one Parquet file per trial).")] = Path(
        "results"
    ),
    resume: Annotated[bool, typer.Option(help="Continue unfinished trials in --out.")] = False,
    backbone: Annotated[
        str | None, typer.Option(help="Backbone of image/audio datasets (e.g. dinov2, clip).")
    ] = None,
    features_dir: Annotated[
        Path | None, typer.Option(help="Feature cache folder for image/audio datasets.")
    ] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:N or auto.")] = "cpu",
    epochs: Annotated[int, typer.Option(min=1, help="Head training epochs (paper: 200).")] = 200,
    param: Annotated[
        list[str] | None,
        typer.Option(
            help="Strategy parameter KEY=VALUE (repeatable; values parsed as JSON), e.g. "
            "--param rounds=3 (every strategy of the run that takes it) or "
            "--param refine.rounds=3 (that strategy only)."
        ),
    ] = None,
    dataset_param: Annotated[
        list[str] | None, typer.Option(help="Dataset loader parameter KEY=VALUE (repeatable).")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Threads for Refine's and filtered:*'s filtering draws (default: all cores). "
            "Changes the speed only: the batches are the same for any value.",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Fidelity profile: 'published' (every behaviour of the authors' code) or "
            "'corrected' (the paper's and original methods' forms, and the fixes); see "
            "refine/profiles.py. Explicit --param/--dataset-param/--subsample/--batch-size "
            "values win. Default: none (the package defaults).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run AL trials (dataset × strategies × seeds) and write their results tables."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from refine.datasets import dataset_entry, load_dataset
    from refine.head import HeadConfig, resolve_device
    from refine.loop import TrialSpec, run_trial
    from refine.parallel import with_jobs
    from refine.strategies import make_strategy

    names = split_names(strategy)
    if not names:
        raise ConfigError("--strategy must name at least one strategy")
    strategy_params = route_params(names, parse_params(param))  # fails fast on unknown names
    from refine.profiles import apply_to_run

    strategy_params, ds_params, trial = apply_to_run(
        profile,
        dataset,
        names,
        strategy_params,
        parse_params(dataset_param),
        {"subsample": subsample, "batch_size": batch_size},
    )
    for n in names:
        make_strategy(n, **strategy_params[n]).check_params()  # and on invalid values
    seed_list = parse_seeds(seeds)
    resolve_device(device)
    entry = dataset_entry(dataset)
    if entry.needs_features:
        ds_params.update(
            {
                k: v
                for k, v in dict(
                    backbone=backbone, features_dir=features_dir, device=device
                ).items()
                if v is not None
            }
        )
    elif backbone is not None or features_dir is not None:
        raise ConfigError(
            f"dataset {dataset!r} has fixed features; --backbone/--features-dir do not apply"
        )
    data = load_dataset(dataset, **ds_params)
    specs = [
        TrialSpec(
            dataset=dataset,
            backbone=data.backbone,
            strategy=n,
            seed=s,
            n_cycles=cycles,
            batch_size=trial[n]["batch_size"] or data.batch_size,
            subsample=5000 if trial[n]["subsample"] is None else (trial[n]["subsample"] or None),
            strategy_params=with_jobs(n, strategy_params[n], jobs),
            head=HeadConfig(epochs=epochs),
            device=device,
            profile=profile,
        )
        for n in names
        for s in seed_list
    ]
    _preflight(data, specs, out, resume)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{dataset}", total=len(specs) * (cycles + 1))
        for spec in specs:
            progress.update(task, description=f"{dataset} · {spec.strategy} · seed {spec.seed}")
            done = {"n": 0}

            def tick(cycle, row, done=done):
                done["n"] += 1
                progress.advance(task)

            df = run_trial(data, spec, out, resume=resume, on_cycle=tick)
            progress.advance(task, (cycles + 1) - done["n"])  # trials that were already complete
            if quiet:
                continue
            progress.console.print(
                f"  {spec.strategy:>18s}  seed {spec.seed:>3d}  AULC {df.accuracy.mean():.4f}  "
                f"final acc {df.accuracy.iloc[-1]:.4f}"
            )
    console.print(f"results written to {out}/  ·  summarise with: refine report {out}")


def _preflight(data, specs, out: Path, resume: bool) -> None:
    """Check every trial (budget, stored results) before running any of them."""
    from refine.loop import check_trial_fits_pool, stored_trial

    for spec in specs:
        check_trial_fits_pool(data, spec)
        stored_trial(spec, spec.result_path(out), resume)


@app.command()
@friendly_errors
def report(
    results: Annotated[Path, typer.Argument(help="Results folder written by `refine run`.")],
    figures: Annotated[
        Path | None, typer.Option(help="Where to write figures (default: RESULTS/figures).")
    ] = None,
    baseline: Annotated[str, typer.Option(help="Strategy the gains are relative to.")] = "random",
) -> None:
    """Print AULC / relative-gain / win-rate tables and write learning-curve figures."""
    from refine.errors import DataError
    from refine.loop import load_results
    from refine.report import plot_learning_curves, plot_pool_trace, plot_win_rates, summarize

    if not results.is_dir():
        raise DataError(f"results folder {results} does not exist")
    df = load_results(results)
    if df.empty:
        raise DataError(f"no results found under {results}")
    tables = summarize(df, baseline)
    s = tables["summary"]
    for (ds, bb), g in s.groupby(["dataset", "backbone"]):
        t = Table(title=f"AULC · {ds} / {bb}")
        for col in ("strategy", "AULC", "± std", "seeds", f"gain vs {baseline} (%)"):
            t.add_column(col, justify="right" if col != "strategy" else "left")
        for r in g.sort_values("aulc_mean", ascending=False).itertuples():
            gain = "" if r.gain_pct != r.gain_pct else f"{r.gain_pct:+.2f}"
            std = "" if r.aulc_std != r.aulc_std else f"{r.aulc_std:.4f}"
            t.add_row(r.strategy, f"{r.aulc_mean:.4f}", std, str(r.n_seeds), gain)
        console.print(t)
    wr = tables["win_rates"]
    if len(wr) > 1:
        # best first; numbered columns keep a dozen strategies inside an 80-column terminal
        order = s.groupby("strategy").aulc_mean.mean().sort_values(ascending=False).index
        order = [n for n in order if n in wr.index] + [n for n in wr.index if n not in order]
        wr_view = wr.loc[order, order]
        t = Table(
            title="win rate (%) of row over column",
            box=box.SIMPLE_HEAD,
            padding=(0, 0, 0, 1),
            pad_edge=False,
        )
        t.add_column("strategy", no_wrap=True)
        for i in range(len(order)):
            t.add_column(str(i + 1), justify="right", no_wrap=True)
        for i, (name, row) in enumerate(wr_view.iterrows()):
            cells = ("—" if v != v else f"{100 * v:.0f}" for v in row.to_numpy())
            t.add_row(f"{i + 1} {name}", *cells)
        console.print(t)
    fig_dir = figures or (results / "figures")
    paths = [plot_learning_curves(df, fig_dir / "learning_curves.png")]
    if baseline in set(df.strategy):
        paths.append(
            plot_learning_curves(df, fig_dir / "relative_learning_curves.png", relative=True)
        )
    if len(wr) > 1:
        paths.append(plot_win_rates(df, fig_dir / "win_rates.png"))
    trace = plot_pool_trace(df, fig_dir / "pool_trace.png")
    if trace:
        paths.append(trace)
    s.to_csv(fig_dir / "summary.csv", index=False)
    wr.to_csv(fig_dir / "win_rates.csv")
    for p in paths:
        console.print(f"figure: {p}")
    for name in ("summary.csv", "win_rates.csv"):
        console.print(f"table: {fig_dir / name}")


def _register_extract() -> None:
    from refine.cli_extract import extract

    app.command("extract")(friendly_errors(extract))


_register_extract()


def _register_project() -> None:
    from refine.cli_project import export, init, label, select, status

    for name, fn in (
        ("init", init),
        ("label", label),
        ("select", select),
        ("export", export),
        ("status", status),
    ):
        app.command(name)(friendly_errors(fn))


_register_project()


@app.command()
@friendly_errors
def datasets() -> None:
    """List the registered datasets with their default batch size."""
    from refine.datasets import available_datasets, dataset_entry

    t = Table(title="datasets")
    for c in ("name", "b", "classes", "description"):
        t.add_column(c)
    for n in available_datasets():
        e = dataset_entry(n)
        t.add_row(n, str(e.batch_size), str(e.n_classes or "any"), e.description)
    console.print(t)


@app.command()
@friendly_errors
def strategies() -> None:
    """List the registered strategies."""
    from refine.strategies import available_strategies, strategy_class

    t = Table(title="strategies")
    t.add_column("name")
    t.add_column("summary")
    for n in available_strategies():
        doc = (strategy_class(n).__doc__ or "").strip().splitlines()
        t.add_row(n, doc[0] if doc else "")
    console.print(t)
    console.print("composite: filtered:<strategy> (progressive filtering before <strategy>)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
