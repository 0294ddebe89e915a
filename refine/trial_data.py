"""The data of an AL run: cached features only — a run never downloads data or runs a backbone.

``refine run``, :func:`refine.grid.run_grid` and the reproduction scripts load their datasets
through :func:`load_trial_dataset`. For datasets with fixed features (digits, synthetic) it is
:func:`refine.datasets.load_dataset`; for image and audio datasets it reads the feature cache
written by ``refine extract`` (:func:`refine.features.load_features_dataset`) and nothing else.
Extraction is a separate step on purpose: it wants the raw data, the weights and a GPU, while a
grid of hundreds of trials wants none of them, and a trial that silently started extracting
(downloading the dataset, running a ViT on the CPU) would take hours instead of failing. When the
features are missing the error is one line naming the ``refine extract`` command to run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from refine.data import Dataset
from refine.errors import ConfigError

#: Loader parameters that only matter when features are extracted (``refine extract`` options).
EXTRACTION_PARAMS = {
    "device": "--device",
    "data_dir": "--data-dir",
    "extract_batch_size": "--batch-size",
    "num_workers": "--num-workers",
    "rebuild": "--rebuild",
    "progress": "--quiet",
}
#: Parameters that select which cached features to read (see ``load_features_dataset``).
FEATURE_PARAMS = (
    "backbone",
    "features_dir",
    "batch_size",
    "pretrained",
    "init_seed",
    "weights_path",
    "split_seed",
    "split",
)
DEFAULT_FEATURES_DIR = "features"


def extract_command(
    dataset: str,
    backbone: str,
    features_dir: str | Path = DEFAULT_FEATURES_DIR,
    *,
    pretrained: bool = True,
    weights_path: str | Path | None = None,
) -> str:
    """The ``refine extract`` command line that writes the features a run of ``dataset`` reads.

    Datasets that are not on the Hugging Face hub (Dopanim) get ``--data-dir`` with a
    placeholder, since they can only be read from a local copy. (Random weights with another
    ``init_seed`` than 0 are extracted with ``refine.datasets.hub.extract_dataset``.)
    """
    from refine.datasets.hub import HUB_DATASETS

    parts = ["refine", "extract", "--dataset", dataset, "--backbone", backbone]
    spec = HUB_DATASETS.get(dataset)
    if spec is not None and spec.hub_id is None:
        parts += ["--data-dir", f"{dataset.upper()}_DIR"]
    if weights_path is not None:
        parts += ["--weights", str(weights_path)]
    elif not pretrained:
        parts += ["--random-weights"]
    parts += ["--out", str(features_dir)]
    return " ".join(shlex.quote(p) for p in parts)


def load_trial_dataset(name: str, **params: Any) -> Dataset:
    """The dataset ``name`` for AL trials, from the feature cache for image/audio datasets.

    Parameters
    ----------
    name : str
        A registered dataset (``refine datasets``).
    **params
        For datasets with fixed features: their loader's parameters. For image/audio datasets:
        ``backbone`` (default: the modality's default), ``features_dir`` (default
        ``"features"``), ``batch_size`` (the AL batch b; default the paper's), ``pretrained``,
        ``init_seed``, ``weights_path`` (which weights the features came from, as given to
        ``refine extract``) and ``split_seed`` (ESC-50's seeded 80/20 split).

    Raises
    ------
    refine.features.FeaturesNotFoundError
        No valid cached features; the one-line message names the ``refine extract`` command.
    ConfigError
        An extraction-only parameter (``data_dir``, ``device``, ...) or an unknown one.
    """
    from refine.datasets import dataset_entry, load_dataset
    from refine.datasets.transforms import apply_pool_transforms, split_pool_params

    if not dataset_entry(name).needs_features:
        return load_dataset(name, **params)
    params, pool = split_pool_params(params)  # pool options of every dataset
    from refine.backbones.base import default_backbone
    from refine.datasets.hub import hub_spec
    from refine.features import FeaturesNotFoundError, load_features_dataset

    extraction = sorted(set(params) & set(EXTRACTION_PARAMS))
    if extraction:
        flags = ", ".join(f"{k} ({EXTRACTION_PARAMS[k]})" for k in extraction)
        raise ConfigError(
            f"dataset parameter(s) {flags} apply to extraction only: an AL run reads cached "
            f"features; pass them to `refine extract --dataset {name} ...` instead"
        )
    unknown = sorted(set(params) - set(FEATURE_PARAMS))
    if unknown:
        raise ConfigError(
            f"unknown dataset parameter(s) {', '.join(unknown)} for {name!r}; allowed: "
            + ", ".join(FEATURE_PARAMS)
        )
    p = {k: v for k, v in params.items() if v is not None}
    backbone = p.pop("backbone", None) or default_backbone(hub_spec(name).modality)
    features_dir = p.pop("features_dir", None) or DEFAULT_FEATURES_DIR
    try:
        data = load_features_dataset(name, backbone, features_dir, **p)
    except FeaturesNotFoundError as err:
        cmd = extract_command(
            name,
            str(backbone),
            features_dir,
            pretrained=bool(p.get("pretrained", True)),
            weights_path=p.get("weights_path"),
        )
        weights = "pretrained" if p.get("pretrained", True) else "random"
        if p.get("weights_path") is not None:
            weights = f"local {p['weights_path']}"
        raise FeaturesNotFoundError(
            f"features missing for dataset {name!r} with backbone {backbone!r} ({weights} "
            f"weights) in {features_dir}: run `{cmd}` first"
        ) from err
    return apply_pool_transforms(data, **pool)
