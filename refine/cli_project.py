"""``refine init / label / select / export / status``: the practitioner workflow on a project folder.

Registered in :mod:`refine.cli` by ``_register_project()``. Every command validates its input
completely before it writes anything; errors are :class:`refine.errors.RefineError` subclasses,
which :func:`refine.cli_common.friendly_errors` prints as one line (exit status 2) and which leave
the project folder unchanged. Options are validated by the request objects of
:mod:`refine.project` (one message format, naming the flag), not by typer ranges. Outputs
(``--out``, ``--labeling-config``) must lie outside the project and are never replaced without
``--force``.

Vocabulary: ``--batch-size`` is always the AL batch (instances to select); images per forward
pass of the backbone are ``--forward-batch``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

_PROJECT_ARG = typer.Argument(help="Project folder (created by `refine init`).", show_default=False)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr)


@contextlib.contextmanager
def _phases(quiet: bool, title: str) -> Iterator:
    """A rich progress display on stderr whose description follows the command's phases."""
    if quiet:
        yield lambda text: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=True,
    ) as prog:
        task = prog.add_task(title, total=None)
        yield lambda text: prog.update(task, description=f"{title}: {text}")


def init(
    project: Annotated[
        Path,
        typer.Argument(
            help="New project folder (must not exist, or be empty).", show_default=False
        ),
    ],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Image folder (searched recursively; ids are the paths relative to it). "
            "Features are extracted once with --backbone and stored in the project.",
            show_default=False,
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="Precomputed embeddings instead of images: .npy (N×D) or .parquet (one vector "
            "column, or numeric columns; an 'id' column is used as the ids).",
            show_default=False,
        ),
    ] = None,
    ids: Annotated[
        Path | None,
        typer.Option(
            "--ids",
            help="Ids of the embedding rows, in the same order: .csv with an 'id' column, .txt "
            "(one per line) or .json (a list). Default: the Parquet 'id' column, else row numbers.",
            show_default=False,
        ),
    ] = None,
    feature_column: Annotated[
        str | None,
        typer.Option("--feature-column", help="Parquet column holding the vectors."),
    ] = None,
    backbone: Annotated[
        str,
        typer.Option(
            "--backbone",
            "-b",
            help="Frozen image backbone: dinov2 (default), dinov2-noreg, dinov3, clip, clip-b32.",
        ),
    ] = "dinov2",
    device: Annotated[
        str, typer.Option("--device", "-d", help="Where the backbone runs: cpu, cuda, auto, ...")
    ] = "cpu",
    forward_batch: Annotated[
        int,
        typer.Option(
            "--forward-batch",
            help="Images per forward pass of the backbone (speed and memory only; not the AL "
            "batch).",
        ),
    ] = 64,
    num_workers: Annotated[
        int, typer.Option("--num-workers", help="DataLoader workers for decoding.")
    ] = 0,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="Local checkpoint of the backbone instead of the hub."),
    ] = None,
    random_weights: Annotated[
        bool,
        typer.Option(
            "--random-weights",
            help="Build the backbone with random weights (tests and offline smoke runs only).",
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Feature cache, reused across attempts: an interrupted init resumes with the "
            "next unfinished chunk of images. Default: .PROJECT.extract-cache beside the "
            "project, removed once the project exists.",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse the folder if any image cannot be decoded (default: list and skip them).",
        ),
    ] = False,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help="Project seed: head initialisation and default selection seed."
        ),
    ] = 0,
    cold_start: Annotated[
        str,
        typer.Option(
            "--cold-start",
            help="Label-free strategy for batches selected before any label exists: typiclust or "
            "maxherding (also random, coreset).",
        ),
    ] = "typiclust",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Create a project folder from an image folder or from precomputed embeddings.

    The folder appears only when complete; nothing is written when the input is rejected. Every image is decoded once before extraction: unreadable ones are listed and skipped (or refused with --strict).
    """
    from refine.cli_common import check_device
    from refine.project import ExtractOptions, Project

    if images is not None:
        check_device(device)

    def report_skipped(bad: list[tuple[str, str]]) -> None:
        con = _console(stderr=True)
        con.print(
            f"warning: skipped {len(bad)} unreadable image(s) (pass --strict to refuse instead):",
            highlight=False,
            markup=False,
        )
        for name, why in bad:
            con.print(f"  {name}: {why}", highlight=False, markup=False)

    p = Project.create(
        project,
        images=images,
        features=features,
        ids=ids,
        feature_column=feature_column,
        extract=ExtractOptions(
            backbone=backbone,
            device=device,
            pretrained=not random_weights,
            weights_path=weights,
            forward_batch=forward_batch,
            num_workers=num_workers,
            cache_dir=cache_dir,
            strict=strict,
            progress=not quiet,
        ),
        seed=seed,
        cold_start=cold_start,
        on_skipped=report_skipped,
    )
    src = p.meta.source
    what = (
        f"{src.get('backbone')} features of {src.get('images')}"
        if src.get("kind") == "images"
        else f"embeddings from {src.get('features')}"
    )
    _console().print(
        f"created {p.root}: {p.meta.n} instances × {p.meta.dim} dims ({what}). "
        f"Next: `refine select {p.root} --batch-size B` (cold start: {p.meta.cold_start}).",
        highlight=False,
        markup=False,
    )


def label(
    project: Annotated[Path, _PROJECT_ARG],
    annotations: Annotated[
        Path,
        typer.Argument(
            help="Annotation file: .csv with header 'id,label' (class names as strings), or a "
            "Label Studio JSON export (.json).",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="auto (by suffix), csv or label-studio.")
    ] = "auto",
    relabel: Annotated[
        bool,
        typer.Option(
            "--relabel",
            help="Allow changing the class of already labeled ids (the old label stays in the "
            "history). Without it a changed label is an error.",
        ),
    ] = False,
    from_name: Annotated[
        str | None,
        typer.Option(
            "--from-name",
            help="Label Studio: name of the Choices control holding the class (only needed when "
            "tasks answer several).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and report; write nothing.")
    ] = False,
) -> None:
    """Import labels (appended to the project's history; new classes grow the head)."""
    from refine.project import Project

    p = Project.open(project)
    s = p.add_labels(annotations, fmt=fmt, relabel=relabel, from_name=from_name, dry_run=dry_run)
    parts = [f"{s['new']} new label(s)"]
    if s["relabeled"]:
        parts.append(f"{s['relabeled']} changed")
    if s["unchanged"]:
        parts.append(f"{s['unchanged']} already known")
    if s.get("skipped"):
        parts.append(f"{s['skipped']} task(s) without a class skipped")
    if s["new_classes"]:
        parts.append(f"new classes: {', '.join(s['new_classes'])}")
    where = (
        "dry run, nothing written"
        if dry_run
        else (f"written to {s['file']}" if s["file"] else "nothing new, nothing written")
    )
    _console().print(
        f"{'; '.join(parts)} ({where}). {len(p.state.labels)} labeled of {p.meta.n}, "
        f"{len(p.state.classes)} classes.",
        highlight=False,
        markup=False,
    )


_FORCE = typer.Option("--force", help="Replace existing output files.")
_URL_PREFIX_HELP = (
    "Label Studio tasks: data.image = PREFIX + the id (percent-encoded, / kept), e.g. "
    "/data/local-files/?d=photos/ for Label Studio's local-files serving or a web server's URL "
    "(see docs/practitioner.md). Default: the absolute image path, which a browser cannot load."
)


def select(
    project: Annotated[Path, _PROJECT_ARG],
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            "-n",
            help="Instances to select (the AL batch).",
            show_default=False,
        ),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option("--budget", hidden=True, help="Deprecated name of --batch-size."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            "-s",
            help="Strategy: refine (default), any single strategy (margin, badge, ...) or "
            "filtered:<strategy>; see `refine strategies`.",
        ),
    ] = "refine",
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Selection seed (default: the project's). Same seed + same state = same batch.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the batch (before the round is recorded): .csv (ids with provenance) or "
            ".json (Label Studio tasks). Must lie outside the project folder.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, _FORCE] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Strategy parameter KEY=VALUE (repeatable; values parsed as JSON), e.g. "
            "--param rounds=3 or --param refine.rounds=3.",
        ),
    ] = None,
    cold_start: Annotated[
        str | None,
        typer.Option(
            "--cold-start",
            help="Label-free strategy used while no label exists (default: the project's).",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Head training epochs (paper: 200).")
    ] = 200,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="Torch device of head training and of the strategies' heavy kernels: cpu "
            "(numpy kernels), cuda, cuda:N, auto.",
        ),
    ] = "cpu",
    include_pending: Annotated[
        bool,
        typer.Option(
            "--include-pending",
            help="Allow re-selecting instances selected earlier but not labeled yet.",
        ),
    ] = False,
    url_prefix: Annotated[
        str | None, typer.Option("--url-prefix", help=_URL_PREFIX_HELP, show_default=False)
    ] = None,
    labeling_config: Annotated[
        Path | None,
        typer.Option(
            "--labeling-config",
            help="Also write a Label Studio labeling configuration (XML) with the known classes.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Compute (and write --out) without recording the round."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Threads for Refine's filtering draws, one BLAS thread each (default: all CPU "
            "cores). The batch does not depend on it.",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Fidelity profile of the strategy's parameters: 'published' (every behaviour "
            "of the authors' code) or 'corrected' (the paper's and original methods' forms); "
            "see refine/profiles.py. Explicit --param values win. Recorded with the round. "
            "Default: none (the package defaults).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Select the next batch to annotate, write it (--out), then record it as a new round.

    With no labels yet, a label-free cold-start strategy stands in for the requested one. Instances selected earlier and not labeled yet are never selected again (unless --include-pending). Every option is checked before anything is computed or written.
    """
    from refine.cli_common import check_device, parse_params, route_params
    from refine.errors import ConfigError
    from refine.project import BatchOutput, Project, SelectRequest

    if budget is not None:
        if batch_size is not None:
            raise ConfigError("give --batch-size only (--budget is its deprecated name)")
        _console(stderr=True).print(
            "warning: --budget is deprecated; use --batch-size", highlight=False, markup=False
        )
        batch_size = budget
    if batch_size is None:
        raise ConfigError("--batch-size is required: the number of instances to select")
    if (url_prefix is not None or labeling_config is not None) and out is None:
        raise ConfigError("--url-prefix and --labeling-config go with --out")
    params = route_params([strategy], parse_params(param))[strategy] if param else {}
    request = SelectRequest(
        batch_size=batch_size,
        strategy=strategy,
        strategy_params=params,
        seed=seed,
        cold_start=cold_start,
        head_epochs=epochs,
        device=device,
        jobs=jobs,
        include_pending=include_pending,
        profile=profile,
    ).validated()
    check_device(device)
    p = Project.open(project)
    _profile_note(p, profile)
    output = (
        None
        if out is None
        else BatchOutput(out, url_prefix=url_prefix, labeling_config=labeling_config, force=force)
    )
    with _phases(quiet, f"round {len(p.state.rounds) + 1}") as phase:
        rec = p.select(request, out=output, dry_run=dry_run, phase=phase)
    if quiet:
        return
    con = _console()
    used = rec["used_strategy"] + (" (cold start)" if rec["cold_start"] else "")
    if rec.get("profile"):
        used += f", profile {rec['profile']}"
    where = "dry run, not recorded" if dry_run else f"recorded as {rec['file']}"
    con.print(
        f"round {rec['number']}: {len(rec['selected'])} instance(s) selected by {used} in "
        f"{rec['seconds']:.1f}s ({where})" + (f"; batch written to {out}" if out else ""),
        highlight=False,
        markup=False,
    )
    if out is None:
        for i in rec["selected"][:20]:
            con.print(f"  {i}", highlight=False, markup=False)
        if len(rec["selected"]) > 20:
            con.print(f"  ... and {len(rec['selected']) - 20} more (use --out)", markup=False)
    _browser_hint(p, out, url_prefix)


def _profile_note(p, profile: str | None) -> None:
    """Say which profile the latest round used when this one uses another (or none)."""
    if not p.state.rounds:
        return
    last = p.state.rounds[-1]
    used = last.get("profile")
    if used == profile:
        return
    this = f"--profile {profile}" if profile else "no profile (the package defaults)"
    before = f"--profile {used}" if used else "no profile (the package defaults)"
    hint = f"; pass --profile {used} to keep it" if used else ""
    _console(stderr=True).print(
        f"note: round {last['number']} used {before}; this round uses {this}{hint}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _browser_hint(p, out: Path | None, url_prefix: str | None) -> None:
    """Tell the user when Label Studio tasks point at file paths a browser cannot load."""
    if out is None or out.suffix.lower() != ".json" or url_prefix is not None:
        return
    if p.meta.source.get("kind") != "images":
        return
    _console(stderr=True).print(
        "note: data.image holds file paths, which a browser cannot load; to show the images in "
        "Label Studio pass --url-prefix (local-files serving or a web server; see "
        "docs/practitioner.md)",
        highlight=False,
        markup=False,
    )


def export(
    project: Annotated[Path, _PROJECT_ARG],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output file: .json (Label Studio tasks) or .csv (ids with provenance). Must lie "
            "outside the project folder.",
            show_default=False,
        ),
    ],
    round_: Annotated[
        int | None,
        typer.Option("--round", help="Round to export (default: the latest).", show_default=False),
    ] = None,
    pending: Annotated[
        bool,
        typer.Option("--pending", help="Export every selected instance not labeled yet instead."),
    ] = False,
    url_prefix: Annotated[
        str | None, typer.Option("--url-prefix", help=_URL_PREFIX_HELP, show_default=False)
    ] = None,
    labeling_config: Annotated[
        Path | None,
        typer.Option(
            "--labeling-config",
            help="Also write a Label Studio labeling configuration (XML) with the known classes.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """Export a selected batch as Label Studio tasks (or CSV); read the annotations back with `refine label`."""
    from refine.errors import ConfigError, check_positive_int
    from refine.project import BatchOutput, Project
    from refine.project.selection import write_batch_files

    if pending and round_ is not None:
        raise ConfigError("give --round or --pending, not both")
    if round_ is not None:
        check_positive_int("--round", round_)
    p = Project.open(project)
    output = BatchOutput(
        out, url_prefix=url_prefix, labeling_config=labeling_config, force=force
    ).checked(p.root)
    rows = p.batch_rows(None if pending else p.round_record(round_), pending=pending)
    write_batch_files(p, rows, output)
    extra = f" and labeling configuration {labeling_config}" if labeling_config else ""
    _console().print(
        f"{len(rows)} instance(s) written to {out}{extra}", highlight=False, markup=False
    )
    _browser_hint(p, out, url_prefix)


def status(
    project: Annotated[Path, _PROJECT_ARG],
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate/--no-estimate",
            help="Estimate the head's accuracy by cross-validation on the labeled set.",
        ),
    ] = True,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Head epochs of the estimate (paper: 200).")
    ] = 200,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (>= 2).")] = 5,
    device: Annotated[str, typer.Option("--device", help="Torch device of the estimate.")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Show pool size, labels per class, pending instances, rounds so far and an accuracy estimate."""
    from rich.markup import escape
    from rich.table import Table

    from refine.cli_common import check_device
    from refine.errors import check_positive_int
    from refine.project import Project

    if estimate:
        check_positive_int("--epochs", epochs)
        check_positive_int("--folds", folds, minimum=2)
        check_device(device)
    p = Project.open(project)
    s = p.status()
    if estimate:
        with _phases(quiet or as_json, "accuracy estimate") as phase:
            phase(f"{folds}-fold cross-validation")
            s["accuracy"] = p.estimate_accuracy(folds=folds, head_epochs=epochs, device=device)
    if as_json:
        typer.echo(json.dumps(s, indent=2, sort_keys=True))
        return
    con = _console()
    src = s["source"]
    what = (
        f"images in {src.get('images')} · {src.get('backbone')} ({src.get('weights')})"
        if src.get("kind") == "images"
        else f"embeddings from {src.get('features')}"
    )
    con.print(
        f"[bold]{escape(str(p.root))}[/] · state version {s['state_version']} · {escape(what)}",
        highlight=False,
    )
    con.print(
        f"pool {s['pool']} × {s['dim']} · labeled {s['labeled']} · unlabeled {s['unlabeled']} · "
        f"pending (selected, not labeled) {s['pending']}"
    )
    if s["classes"]:
        t = Table(title="labels per class")
        t.add_column("class")
        t.add_column("labels", justify="right")
        for c, n in s["classes"].items():
            t.add_row(escape(c), str(n))
        con.print(t)
    if s["rounds"]:
        t = Table(title="selection rounds")
        for col in (
            "round",
            "strategy",
            "profile",
            "batch size",
            "labeled before",
            "labeled since",
            "seed",
            "created (UTC)",
        ):
            t.add_column(col)
        for r in s["rounds"]:
            used = r["used_strategy"] + (" (cold start)" if r["cold_start"] else "")
            t.add_row(
                str(r["number"]),
                used,
                r.get("profile") or "—",
                str(r["batch_size"]),
                str(r["n_labeled"]),
                str(r["labeled_since"]),
                str(r["seed"]),
                r["created_utc"][:16].replace("T", " "),
            )
        con.print(t)
    else:
        con.print("no selection rounds yet")
    acc = s.get("accuracy")
    if acc is not None:
        if acc["available"]:
            con.print(
                f"head accuracy estimate: {acc['mean']:.3f} ± {acc['std']:.3f} "
                f"({acc['folds']}-fold cross-validation on {acc['n']} labels; biased, since the "
                "labels were chosen by active learning)"
            )
        else:
            con.print(f"head accuracy estimate: not available ({acc['reason']})", markup=False)
