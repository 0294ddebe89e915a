"""``refine init``: build a project folder from an image folder or from precomputed embeddings.

Everything is validated before the first byte is written; the folder is built under a temporary
name beside the target and renamed into place, so it appears only when complete. Image folders
are checked image by image before extraction (:mod:`refine.project.images`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import refine.project.images as image_pool
import refine.project.inputs as inputs
from refine.errors import ConfigError, DataError, check_positive_int
from refine.project.api import check_cold_start
from refine.project.outputs import user_dir_mode
from refine.project.store import (
    FEATURES_NPY,
    FORMAT_NAME,
    FORMAT_VERSION,
    IDS_FILE,
    LABELS_DIR,
    PROJECT_FILE,
    ROUNDS_DIR,
    ProjectError,
    check_ids,
    json_bytes,
    package_version,
    sha256_bytes,
    sha256_file,
    utc_now,
    write_bytes_exclusive,
)


@dataclass(frozen=True)
class PoolSource:
    """Where the pool comes from: exactly one of an image folder or an embeddings file.

    Attributes
    ----------
    images : path or None
        Image folder (searched recursively; ids are the paths relative to it).
    features : path or None
        ``.npy`` or ``.parquet`` embeddings.
    ids : path or None
        Ids of the embedding rows (``.csv`` with an ``id`` column, ``.txt``, ``.json`` list).
    feature_column : str or None
        The Parquet column holding the vectors.
    """

    images: str | os.PathLike | None = None
    features: str | os.PathLike | None = None
    ids: str | os.PathLike | None = None
    feature_column: str | None = None

    def validated(self) -> PoolSource:
        if (self.images is None) == (self.features is None):
            raise ConfigError("give exactly one of --images (an image folder) or --features")
        if self.ids is not None and self.features is None:
            raise ConfigError("--ids goes with --features (image ids are their file paths)")
        if self.feature_column is not None and self.features is None:
            raise ConfigError("--feature-column goes with --features (a Parquet file)")
        return self


@dataclass(frozen=True)
class ExtractOptions:
    """How image features are extracted (ignored for embedding pools).

    Attributes
    ----------
    backbone : str or Backbone
        An image backbone name (``dinov2``, ``dinov3``, ``clip``, ...) or a built
        :class:`refine.backbones.Backbone`.
    device : str
        Where the backbone runs.
    pretrained : bool
        False builds the real architecture with random weights (tests, offline smoke runs).
    weights_path : path or None
        Local checkpoint instead of the hub.
    init_seed : int
        Seed of random weights.
    forward_batch : int
        Images per forward pass (speed and memory only).
    num_workers : int
        DataLoader workers for decoding.
    cache_dir : path or None
        Feature cache; finished chunks are reused by a rerun. Default: a hidden folder beside
        the project, removed when the project exists.
    strict : bool
        Refuse a folder with unreadable images instead of skipping them.
    progress : bool
        Show progress bars.
    """

    backbone: Any = "dinov2"
    device: str = "cpu"
    pretrained: bool = True
    weights_path: str | os.PathLike | None = None
    init_seed: int = 0
    forward_batch: int = 64
    num_workers: int = 0
    cache_dir: str | os.PathLike | None = None
    strict: bool = False
    progress: bool = True

    def validated(self) -> ExtractOptions:
        check_positive_int("--forward-batch", self.forward_batch)
        check_positive_int("--num-workers", self.num_workers, minimum=0)
        image_pool.check_image_backbone(self.backbone)
        return self


#: Called once with the unreadable images that were skipped (name, reason).
SkipReport = Callable[[list[tuple[str, str]]], None]


def _check_target(root: Path) -> None:
    """The project folder must be new (or empty) and its parent a folder (or creatable)."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(
            f"{root} already exists and is not an empty folder; choose a new project folder"
        )
    probe = root.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ProjectError(f"cannot create {root}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ProjectError(f"cannot create {root}: {probe} is not writable")


def create_project(
    root: str | os.PathLike,
    source: PoolSource,
    extract: ExtractOptions | None = None,
    *,
    seed: int = 0,
    cold_start: str = "typiclust",
    on_skipped: SkipReport | None = None,
) -> Path:
    """Create the project folder ``root``; returns it (see :meth:`refine.project.Project.create`).

    Raises
    ------
    ConfigError, DataError, ProjectError
        Before anything is written.
    """
    root = Path(root)
    source = source.validated()
    extract = (extract or ExtractOptions()).validated() if source.images is not None else None
    check_cold_start(cold_start)
    seed = check_positive_int("--seed", seed, minimum=0)
    _check_target(root)
    X = None
    if source.images is not None:
        folder = Path(source.images)
        rel = check_ids(inputs.list_images(folder), f"--images {folder}")
        image_pool.check_links(folder, rel)
        checked = image_pool.check_images(folder, rel, progress=extract.progress)
        if checked.bad:
            if extract.strict:
                raise DataError(
                    f"--images {folder}: {len(checked.bad)} unreadable image(s): "
                    f"{checked.summary()}; remove them or drop --strict to skip them"
                )
            if not checked.good:
                raise DataError(f"--images {folder}: no readable image ({checked.summary()})")
            if on_skipped is not None:
                on_skipped(checked.bad)
        id_list = checked.good
    else:
        X, file_ids = inputs.read_embeddings(source.features, source.feature_column)
        if source.ids is not None:
            id_list, what = inputs.read_ids(source.ids), f"--ids {source.ids}"
        elif file_ids is not None:
            id_list, what = file_ids, f"the id column of {source.features}"
        else:
            id_list, what = [str(i) for i in range(X.shape[0])], "row numbers"
        id_list = check_ids(id_list, what)
        if len(id_list) != X.shape[0]:
            raise DataError(
                f"{what} lists {len(id_list)} ids but --features {source.features} has "
                f"{X.shape[0]} rows; ids and embeddings must correspond row by row"
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.init-", dir=root.parent))
    own_cache = extract is not None and extract.cache_dir is None
    try:
        os.chmod(tmp, user_dir_mode())  # mkdtemp makes 0700; the project gets the user's umask
        for sub in ("pool", LABELS_DIR, ROUNDS_DIR):
            (tmp / sub).mkdir()
        if extract is not None:
            cache = (
                image_pool.default_cache_dir(root) if own_cache else Path(extract.cache_dir)  # type: ignore[arg-type]
            )
            X, pool_source = image_pool.extract_pool(
                Path(source.images),  # type: ignore[arg-type]
                id_list,
                cache_dir=cache,
                backbone=extract.backbone,
                device=extract.device,
                pretrained=extract.pretrained,
                weights_path=extract.weights_path,
                init_seed=extract.init_seed,
                forward_batch=extract.forward_batch,
                num_workers=extract.num_workers,
                progress=extract.progress,
            )
        else:
            pool_source = {
                "kind": "embeddings",
                "features": str(Path(source.features).resolve()),  # type: ignore[arg-type]
                "features_file_sha256": sha256_file(source.features),  # type: ignore[arg-type]
                "ids": None if source.ids is None else str(Path(source.ids).resolve()),
            }
        _write_npy(tmp / FEATURES_NPY, X)
        pool: dict[str, Any] = {
            "n": int(X.shape[0]),
            "dim": int(X.shape[1]),
            "features_file": FEATURES_NPY,
            "features_format": "npy",
            "features_sha256": sha256_file(tmp / FEATURES_NPY),
            "source": pool_source,
        }
        ids_bytes = json.dumps(id_list, ensure_ascii=False).encode()
        _write_file(tmp / IDS_FILE, ids_bytes)
        pool["ids_file"] = IDS_FILE
        pool["ids_sha256"] = sha256_bytes(ids_bytes)
        doc = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created_utc": utc_now(),
            "refine_version": package_version(),
            "name": root.name,
            "seed": int(seed),
            "cold_start": cold_start,
            "pool": pool,
        }
        write_bytes_exclusive(tmp / PROJECT_FILE, json_bytes(doc))
        try:
            os.rename(tmp, root)  # atomic; replaces an empty folder on POSIX
        except OSError as err:
            raise ProjectError(f"cannot create {root}: {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if own_cache:  # the project holds the features now; the resumption cache has done its job
        shutil.rmtree(image_pool.default_cache_dir(root), ignore_errors=True)
    return root


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_npy(path: Path, X: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(X, dtype=np.float32), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
