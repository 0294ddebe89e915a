"""Command-line interface: ``refine run``, ``refine report``, ``refine datasets``, ...

Every command turns the package's own errors (:class:`refine.errors.RefineError`) into a one-line
message on stderr and exit code 2; anything else is a bug, reported as one ``internal error`` line
and its traceback (exit code 1). The shared helpers live in :mod:`refine.cli_common`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from refine.cli_common import friendly_errors, parse_params, route_params
from refine.errors import ConfigError, check_positive_int

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
    cycles: Annotated[int, typer.Option(help="AL cycles after the initial pool (paper: 20).")] = 20,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Instances labeled per cycle b (default: the dataset's b)."),
    ] = None,
    subsample: Annotated[
        int | None,
        typer.Option(
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
        Path | None,
        typer.Option(
            help="Feature cache of image/audio datasets, written by `refine extract` (default: "
            "features/). A run only reads it: it never downloads data or runs a backbone."
        ),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            help="Torch device of head training and of the strategies' heavy kernels: cpu "
            "(numpy kernels), cuda, cuda:N or auto (CUDA when available; the choice is printed)."
        ),
    ] = "auto",
    epochs: Annotated[int, typer.Option(help="Head training epochs (paper: 200).")] = 200,
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

    from refine.head import HeadConfig
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
    # one error format for every command: ConfigError → one line, exit 2 (not click's usage box)
    check_positive_int("--cycles", cycles, minimum=0)
    if subsample is not None:
        check_positive_int("--subsample", subsample, minimum=0)
    check_positive_int("--epochs", epochs)
    if jobs is not None:
        check_positive_int("--jobs", jobs)
    if batch_size is not None:
        check_positive_int("--batch-size", batch_size)
    device = _run_device(device, quiet)
    data = _run_data(dataset, backbone, features_dir, ds_params)
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
    console.print(
        f"results written to {out}/  ·  summarise with: refine report {out}", soft_wrap=True
    )


def _run_device(device: str, quiet: bool) -> str:
    """The concrete device of ``refine run`` (``auto`` resolved), printed to stderr."""
    from refine.device import resolve_device

    dev = str(resolve_device(device))
    if not quiet:
        why = " (auto: no CUDA device found)" if device == "auto" and dev == "cpu" else ""
        err_console.print(f"heads train on {dev}{why}", highlight=False)
    return dev


def _run_data(dataset: str, backbone: str | None, features_dir: Path | None, params: dict):
    """The dataset of ``refine run``: cached features only, never downloaded or extracted.

    Missing features raise one line naming the ``refine extract`` command
    (:func:`refine.trial_data.load_trial_dataset`).
    """
    from refine.datasets import dataset_entry
    from refine.trial_data import load_trial_dataset

    if dataset_entry(dataset).needs_features:
        if backbone is not None:
            params["backbone"] = backbone
        if features_dir is not None:
            params["features_dir"] = features_dir
    elif backbone is not None or features_dir is not None:
        raise ConfigError(
            f"dataset {dataset!r} has fixed features; --backbone/--features-dir do not apply"
        )
    return load_trial_dataset(dataset, **params)


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
    metric: Annotated[
        str,
        typer.Option(
            help="Per-cycle score behind AULC, curves and win rates: accuracy or "
            "balanced_accuracy (results must have that column)."
        ),
    ] = "accuracy",
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Also print 95 % intervals (seeded stratified bootstrap over seeds), paired "
            "Wilcoxon tests with Holm correction, win-rate intervals, BADGE's penalty matrix and "
            "Friedman/Nemenyi ranks; write cd_diagram.png, penalty_matrix.png and their CSVs.",
        ),
    ] = False,
) -> None:
    """Print AULC / relative-gain / win-rate tables and write learning-curve figures.

    Finished trials only. A folder holding several configurations (other --cycles, --batch-size,
    head settings) is reported one configuration at a time, figures in a subfolder each; runs of
    one strategy with other parameters are separate rows named after the parameters that differ.
    """

    from refine.errors import DataError
    from refine.metrics import check_metric
    from refine.results import load_configurations

    check_metric(None, metric)
    if not results.is_dir():
        raise DataError(f"results folder {results} does not exist")
    folder = load_configurations(results)
    if not folder.configurations:
        more = (
            f" ({folder.n_unfinished} unfinished trial(s): continue them with `refine run "
            "--resume`)"
            if folder.n_unfinished
            else ""
        )
        raise DataError(f"no results found under {results}{more}")
    if folder.n_unfinished:
        console.print(f"note: {folder.n_unfinished} unfinished trial(s) left out")
    if folder.duplicates:
        console.print(
            f"note: {len(folder.duplicates)} repeated run(s) of a trial left out, e.g. "
            f"{folder.duplicates[0]}"
        )
    several = len(folder.configurations) > 1
    if several:
        console.print(
            f"{results} holds {len(folder.configurations)} configurations; "
            "each is reported on its own"
        )
    fig_root = figures or (results / "figures")
    for cfg in folder.configurations:
        if several:
            console.rule(f"configuration: {escape(cfg.label)}")
        fig_dir = fig_root / cfg.slug if several else fig_root
        _report_configuration(
            cfg.results, fig_dir, baseline, cfg.label if several else "", metric, stats
        )


def _report_configuration(
    df, fig_dir: Path, baseline: str, label: str, metric: str = "accuracy", stats: bool = False
) -> None:
    """Tables on the console, figures and CSV files in ``fig_dir``, for one configuration."""

    from refine.metrics import check_metric
    from refine.report import summarize, write_figures

    check_metric(df, metric)
    tables = summarize(df, baseline, metric)
    s = tables["summary"]
    wr = tables["win_rates"]
    if not stats:  # with --stats the same estimates are printed with their intervals instead
        _print_point_tables(s, wr, baseline, label)
    paths = write_figures(df, fig_dir, baseline, title=label, metric=metric)
    if stats:
        from refine.stats_report import stats_report

        paths += stats_report(df, fig_dir, console, baseline=baseline, metric=metric)
    s.to_csv(fig_dir / "summary.csv", index=False)
    wr.to_csv(fig_dir / "win_rates.csv")
    for p in paths:
        console.print(f"{'table' if p.suffix == '.csv' else 'figure'}: {p}")
    for name in ("summary.csv", "win_rates.csv"):
        console.print(f"table: {fig_dir / name}")


def _print_point_tables(s, wr, baseline: str, label: str) -> None:
    """The AULC table (mean ± std over seeds, gain) and the win-rate matrix, without intervals."""
    for (ds, bb), g in s.groupby(["dataset", "backbone"]):
        t = Table(title=f"AULC · {ds} / {bb}" + (f" · {label}" if label else ""))
        for col in ("strategy", "AULC", "± std", "seeds", f"gain vs {baseline} (%)"):
            t.add_column(col, justify="right" if col != "strategy" else "left")
        for r in g.sort_values("aulc_mean", ascending=False).itertuples():
            gain = "" if r.gain_pct != r.gain_pct else f"{r.gain_pct:+.2f}"
            std = "" if r.aulc_std != r.aulc_std else f"{r.aulc_std:.4f}"
            t.add_row(escape(r.strategy), f"{r.aulc_mean:.4f}", std, str(r.n_seeds), gain)
        console.print(t)
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
            t.add_row(escape(f"{i + 1} {name}"), *cells)
        console.print(t)


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


def _offline(entry) -> str:
    """Whether dataset ``entry`` loads without a network, from what the registry records.

    Datasets with fixed features (``needs_features=False``: digits, synthetic, user-registered
    arrays) need nothing. Image and audio datasets need their raw data once, to extract features:
    from the Hugging Face hub (``HubDatasetSpec.hub_id``) or from a local folder
    (``--dataset-param data_dir=DIR``); Dopanim has no hub copy. Once extracted, the feature
    cache (``--features-dir``) is read offline.
    """
    if not entry.needs_features:
        return "yes"
    from refine.datasets.hub import HUB_DATASETS

    spec = HUB_DATASETS.get(entry.name)
    if spec is not None and spec.hub_id is None:
        return "no: local copy only"
    return f"no: hub {spec.hub_id}" if spec is not None else "no"


@app.command()
@friendly_errors
def datasets() -> None:
    """List the registered datasets: default batch size b, classes, and what works offline."""
    from refine.datasets import available_datasets, dataset_entry

    t = Table(title="datasets")
    for c in ("name", "b", "classes", "offline", "description"):
        t.add_column(c)
    for n in available_datasets():
        e = dataset_entry(n)
        t.add_row(n, str(e.batch_size), str(e.n_classes or "any"), _offline(e), e.description)
    console.print(t)
    console.print(
        "offline yes: nothing to download. no: the raw data are needed once, from the hub or a "
        "local folder (--dataset-param data_dir=DIR: an image/audio folder, a save_to_disk "
        "copy or a parquet snapshot), with the backbone weights; after `refine extract` the "
        "feature cache (--features-dir) is read offline.",
        highlight=False,
        markup=False,
    )


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_text(doc: str) -> str:
    """A docstring line without reStructuredText markup: roles, double backquotes, stars."""
    text = _ROLE.sub(lambda m: m.group(1), doc)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return re.sub(r"\*\*?([^*]+)\*\*?", r"\1", text).strip()


def _param_text(value) -> str:
    import json

    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value)  # the form --param accepts
    except TypeError:
        return str(value)


@app.command()
@friendly_errors
def strategies() -> None:
    """List the registered strategies with their parameters and defaults (set with --param)."""
    import textwrap

    from refine.strategies import available_strategies, strategy_class
    from refine.strategies.registry import parameter_defaults

    def show(name: str, summary: str, params: dict) -> None:
        console.print(f"{name}  {summary}", highlight=False, markup=False, soft_wrap=True)
        items = [f"{k}={_param_text(v)}" for k, v in sorted(params.items())]
        body = "  ".join(items) if items else "(no parameters)"
        for line in textwrap.wrap(body, width=96, break_on_hyphens=False) or [""]:
            console.print(f"    {line}", highlight=False, markup=False, soft_wrap=True)

    for n in available_strategies():
        doc = (strategy_class(n).__doc__ or "").strip().splitlines()
        show(n, plain_text(doc[0]) if doc else "", parameter_defaults(n))
    composite = parameter_defaults("filtered:random")
    composite.pop("strategy", None)
    show(
        "filtered:<strategy>",
        "progressive filtering of the pool, then <strategy> selects the batch",
        composite,
    )
    console.print(
        "\nset a parameter with --param NAME=VALUE (every strategy that takes it) or "
        "--param STRATEGY.NAME=VALUE; values are JSON",
        highlight=False,
        markup=False,
    )


def _version(value: bool) -> None:
    if value:
        from refine import __version__

        console.print(f"refine {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
