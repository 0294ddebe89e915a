"""``refine extract``: run a frozen backbone over a dataset once and cache the features.

Registered in :mod:`refine.cli` as ``app.command("extract")(extract)``. Errors are raised as
:class:`refine.errors.RefineError` subclasses (the CLI prints them and exits non-zero).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_DATASET_HELP = (
    "Dataset to extract: cifar10, cifar100, food101, tiny_imagenet, snacks, dopanim, bloodmnist, "
    "dermamnist (images) or esc50 (audio). See docs/features.md for hub ids, files and splits."
)
_BACKBONE_HELP = (
    "Frozen feature extractor: dinov2 (ViT-S/14 + registers), dinov2-noreg, dinov3 (ViT-S/16), "
    "clip (ViT-B/16), clip-b32 for images; eat for audio. Default: dinov2 for image datasets, "
    "eat for esc50."
)


def extract(
    dataset: Annotated[
        str, typer.Option("--dataset", "-D", help=_DATASET_HELP, show_default=False)
    ],
    backbone: Annotated[
        str | None,
        typer.Option("--backbone", "-b", help=_BACKBONE_HELP, show_default=False),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            "-d",
            help="Where the backbone runs: cpu, cuda, cuda:N, mps or auto (CUDA when available; "
            "the choice is printed). An unavailable device is an error, never a silent fallback.",
        ),
    ] = "auto",
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Features directory: one verified .npz file per split. Every later command "
            "(the AL loop, reproduce scripts) reads features from here.",
        ),
    ] = Path("features"),
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Local copy of the raw data instead of the Hugging Face hub: a folder written by "
            "datasets' save_to_disk, a hub snapshot (parquet), or an image/audio folder "
            "DIR/train/<class>/..., DIR/test/<class>/... Required for dopanim (Zenodo); for bloodmnist "
            "and dermamnist the folder holding bloodmnist_224.npz / dermamnist_224.npz (default "
            "~/.medmnist).",
            show_default=False,
        ),
    ] = None,
    forward_batch: Annotated[
        int,
        typer.Option(
            "--forward-batch",
            help="Inputs per forward pass of the backbone (memory/speed only; not the AL batch "
            "size b, which `refine run --batch-size` sets).",
            min=1,
        ),
    ] = 64,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help="Deprecated name of --forward-batch.",
            min=1,
            hidden=True,
        ),
    ] = None,
    num_workers: Annotated[
        int,
        typer.Option(
            "--num-workers",
            help="DataLoader worker processes for decoding and preprocessing (0: main process).",
            min=0,
        ),
    ] = 0,
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights",
            help="Local copy of the backbone weights instead of the hub: a checkpoint file for "
            "dinov2/dinov3/clip, a downloaded model folder for eat.",
            show_default=False,
        ),
    ] = None,
    random_weights: Annotated[
        bool,
        typer.Option(
            "--random-weights",
            help="Build the backbone's architecture with random weights (smoke tests without a "
            "download). Cached under their own key; never mixed with pretrained features.",
        ),
    ] = False,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            "--trust-remote-code",
            help="Allow running the model code shipped with the weights (eat: its hub repository "
            "or the --weights folder). Off by default: that code is arbitrary Python.",
        ),
    ] = False,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            help="Commit (40 hex digits) of the hub repository whose code and weights are loaded "
            "(eat from the hub: required with --trust-remote-code).",
            show_default=False,
        ),
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Re-extract even when valid cached features exist."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress bar and no summary table."),
    ] = False,
) -> None:
    """Extract frozen-backbone features of a dataset once and cache them in --out.

    Nothing is recomputed when valid features for the same dataset, split, backbone, weights, preprocessing and library versions are already there; a corrupted or mismatching cache file is reported and rebuilt.

    Offline machines: point --data-dir and --weights at local copies, or HF_HOME at a populated Hugging Face cache (with HF_HUB_OFFLINE=1).
    """
    from refine.datasets.extraction import extract_dataset

    if batch_size is not None:
        typer.echo(
            "refine extract: --batch-size is deprecated, use --forward-batch (inputs per forward "
            "pass); --batch-size always means the AL batch size b elsewhere",
            err=True,
        )
        forward_batch = batch_size
    results = extract_dataset(
        dataset,
        backbone=backbone,
        features_dir=out,
        device=_extract_device(device, quiet),
        data_dir=data_dir,
        pretrained=not random_weights,
        weights_path=weights,
        trust_remote_code=trust_remote_code,
        revision=revision,
        extract_batch_size=forward_batch,
        num_workers=num_workers,
        progress=not quiet,
        rebuild=rebuild,
    )
    if quiet:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"features of {dataset} in {out}")
    for col in ("split", "status", "N", "D", "weights", "seconds", "file"):
        table.add_column(col)
    for split, res in results.items():
        meta = res.entry.metadata
        table.add_row(
            split,
            res.status,
            str(meta["n"]),
            str(meta["dim"]),
            str(meta["identity"]["weights"]),
            f"{res.seconds:.1f}",
            res.path.name,
        )
    Console().print(table)


def _extract_device(device: str, quiet: bool) -> str:
    """``auto`` resolved to a concrete device (:func:`refine.head.resolve_device`), printed.

    Other names are passed on as given and validated where the backbone is built.
    """
    import sys

    from refine.device import resolve_device

    auto = device.strip().lower() == "auto"
    dev = str(resolve_device("auto")) if auto else device
    if not quiet:
        why = " (auto: no CUDA device found; extraction on a CPU is slow)" if dev == "cpu" else ""
        print(f"extracting on {dev}{why if auto else ''}", file=sys.stderr, flush=True)
    return dev
