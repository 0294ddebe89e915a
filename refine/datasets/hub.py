"""The catalogued data sets as registered loaders of cached backbone features.

Every loader returns a :class:`refine.data.Dataset` of *cached backbone features*: on the first
call it reads the raw split (hub or ``data_dir``, :mod:`refine.datasets.readers`), runs the
backbone once (:mod:`refine.datasets.extraction`) and writes a verified cache file to
``features_dir``; later calls (and :func:`refine.features.load_features_dataset`) only read that
file. What each data set is and where it comes from: :mod:`refine.catalogue`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from refine.backbones.model import Backbone
from refine.catalogue import HUB_DATASETS, HubDatasetSpec, hub_spec
from refine.data import Dataset
from refine.datasets.extraction import check_backbone, extract_dataset
from refine.datasets.readers import RawSplit, open_split
from refine.datasets.registry import register_dataset
from refine.features.from_cache import load_features_dataset

__all__ = [
    "HUB_DATASETS",
    "HubDatasetSpec",
    "RawSplit",
    "extract_dataset",
    "hub_spec",
    "load_hub_dataset",
    "open_split",
]


def load_hub_dataset(
    name: str,
    *,
    backbone: str | Backbone | None = None,
    features_dir: str | Path = "features",
    device: str = "cpu",
    data_dir: str | Path | None = None,
    pretrained: bool = True,
    progress: bool = True,
    batch_size: int | None = None,
    extract_batch_size: int = 64,
    num_workers: int = 0,
    split_seed: int | None = None,
    split: str = "corrected",
    rebuild: bool = False,
    weights_path: str | Path | None = None,
    init_seed: int = 0,
) -> Dataset:
    """Features of dataset ``name`` under ``backbone`` as a :class:`~refine.data.Dataset`.

    Extracts and caches first if ``features_dir`` has no valid features for these settings.

    Parameters
    ----------
    name : str
        A key of :data:`HUB_DATASETS`.
    backbone : str or Backbone, optional
        Backbone name (default: ``dinov2`` for images, ``eat`` for audio) or a built backbone.
    features_dir : path
        Feature cache directory.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (extraction only).
    data_dir : path, optional
        Local copy of the raw data instead of the hub (:mod:`refine.datasets.readers`).
    pretrained : bool
        Use the published weights (False: same architecture with random weights, for tests).
    progress : bool
        Show a progress bar during extraction.
    batch_size : int, optional
        The AL batch size b (default: the paper's; e.g. ``snacks`` 20, or 10 as in the published
        code's config).
    extract_batch_size : int
        Inputs per forward pass during extraction.
    num_workers : int
        DataLoader workers for decoding and preprocessing.
    split_seed : int, optional
        Seed of the 80/20 split of datasets without a test split (ESC-50); default 0 for the
        corrected split, 42 (the published driver's global seed) for the published one.
    split : {"corrected", "published"}
        How that split is drawn (:mod:`refine.splits`): one seeded partition (default), or the
        published code's two separate splits, whose test clips leak into the pool (the number
        of leaked clips is logged and kept in ``metadata["leaked_test_clips"]``).
    rebuild : bool
        Re-extract even if valid cached features exist.
    weights_path : path, optional
        Local copy of the backbone weights.
    init_seed : int
        Seed of the random weights when ``pretrained=False``.
    """
    spec = hub_spec(name)
    backbone = check_backbone(spec, backbone)
    extract_dataset(
        name,
        backbone=backbone,
        features_dir=features_dir,
        device=device,
        data_dir=data_dir,
        pretrained=pretrained,
        weights_path=weights_path,
        init_seed=init_seed,
        extract_batch_size=extract_batch_size,
        num_workers=num_workers,
        progress=progress,
        rebuild=rebuild,
    )
    return load_features_dataset(
        name,
        backbone,
        features_dir,
        batch_size=batch_size,
        pretrained=pretrained,
        init_seed=init_seed,
        weights_path=weights_path,
        split_seed=split_seed,
        split=split,
        strict_versions=True,
    )


def _register(spec: HubDatasetSpec) -> None:
    def loader(**params: Any) -> Dataset:
        return load_hub_dataset(spec.name, **params)

    loader.__name__ = loader.__qualname__ = f"load_{spec.name}"
    loader.__doc__ = (
        f"{spec.title} ({spec.source}) as cached backbone features; keyword arguments as in "
        ":func:`refine.datasets.hub.load_hub_dataset` (without ``name``)."
    )
    sig = inspect.signature(load_hub_dataset)
    loader.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    if spec.hub_id:
        origin = spec.hub_id
    elif spec.npz_flag:
        origin = f"local {spec.npz_flag}_224.npz (MedMNIST)"
    else:
        origin = "local copy only (Zenodo)"
    split = (
        f"seeded {1 - spec.test_fraction:.0%}/{spec.test_fraction:.0%} split"
        if spec.test_fraction
        else f"{spec.train_split}/{spec.test_split}"
    )
    extra = "; b = 10 as in the published config: batch_size=10" if spec.name == "snacks" else ""
    register_dataset(
        spec.name,
        batch_size=spec.batch_size,
        n_classes=spec.n_classes,
        description=f"{spec.title} ({spec.modality}, {spec.n_train} train, {split}; {origin}{extra})",
        needs_features=True,
    )(loader)


for _spec in HUB_DATASETS.values():
    _register(_spec)
