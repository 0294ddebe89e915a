"""Feature extraction of a catalogued data set: every split's features cached once."""

from __future__ import annotations

from pathlib import Path

from refine.backbones.model import Backbone
from refine.backbones.registry import backbone_spec, default_backbone, load_backbone
from refine.catalogue import HubDatasetSpec, hub_spec
from refine.datasets.readers import check_labels, open_split
from refine.errors import ConfigError
from refine.features.extract import SplitFeatures, cache_request, extract_features, lookup_cache


def check_backbone(spec: HubDatasetSpec, backbone: str | Backbone | None) -> str | Backbone:
    """``backbone`` (default: the modality's default) if it takes ``spec``'s kind of input."""
    if backbone is None:
        backbone = default_backbone(spec.modality)
    bspec = backbone.spec if isinstance(backbone, Backbone) else backbone_spec(backbone)
    if bspec.modality != spec.modality:
        raise ConfigError(
            f"backbone {bspec.name!r} takes {bspec.modality} input but dataset {spec.name!r} is "
            f"{spec.modality}; choose one of the {spec.modality} backbones"
        )
    return backbone


def extract_dataset(
    name: str,
    *,
    backbone: str | Backbone | None = None,
    features_dir: str | Path = "features",
    device: str = "cpu",
    data_dir: str | Path | None = None,
    pretrained: bool = True,
    weights_path: str | Path | None = None,
    init_seed: int = 0,
    trust_remote_code: bool = False,
    revision: str | None = None,
    extract_batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    rebuild: bool = False,
) -> dict[str, SplitFeatures]:
    """Make sure the features of every split of ``name`` are cached; returns them per split.

    Raw data are opened (and the backbone built, once) only for splits without a valid cache
    file. Parameters are those of the dataset loaders (see
    :func:`refine.datasets.hub.load_hub_dataset`); ``trust_remote_code`` and ``revision`` reach
    :func:`refine.backbones.load_backbone` (EAT's model code comes from its weights).
    """
    spec = hub_spec(name)
    backbone = check_backbone(spec, backbone)
    built: Backbone | None = backbone if isinstance(backbone, Backbone) else None
    results: dict[str, SplitFeatures] = {}
    for role in spec.cache_splits:
        req = cache_request(
            name,
            role,
            backbone,
            pretrained=pretrained,
            init_seed=init_seed,
            weights_path=weights_path,
        )
        if not rebuild:
            entry = lookup_cache(req, features_dir)
            if entry is not None:
                results[role] = SplitFeatures(entry, "cached", 0.0)
                continue
        raw = open_split(spec, role, data_dir)  # data errors surface before the model is built
        check_labels(raw, spec)
        if built is None:
            built = load_backbone(
                str(backbone),
                pretrained=pretrained,
                device=device,
                weights_path=weights_path,
                init_seed=init_seed,
                trust_remote_code=trust_remote_code,
                revision=revision,
            )
        results[role] = extract_features(
            raw.items,
            raw.labels,
            dataset=name,
            split=role,
            features_dir=features_dir,
            backbone=built,
            batch_size=extract_batch_size,
            num_workers=num_workers,
            progress=progress,
            rebuild=True,  # the cache was checked above
            metadata={
                "n_classes": spec.n_classes,
                "class_names": raw.class_names,
                "batch_size": spec.batch_size,
                "source": raw.source,
            },
        )
    return results
