"""Readers of raw data: one split's inputs (read lazily) and labels, from the hub or a local copy.

:func:`open_split` is the entry point: the Hugging Face hub (through its cache) when no
``data_dir`` is given, else a local copy: a folder written by ``datasets.save_to_disk``, a hub
snapshot (parquet files), an *imagefolder* (``DIR/train/<class>/*.jpg``, ``DIR/test/...``;
``valid``/``validation`` are accepted for the test split), an *audiofolder* of the same layout
for audio (read with soundfile; one folder of class sub-folders without split folders is the
whole set) or, for MedMNIST, the published ``<flag>_224.npz`` file (keys ``train_images``,
``train_labels``, ``val_*``, ``test_*``; images N×H×W×3 or N×H×W uint8, labels N×1).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refine.catalogue import HubDatasetSpec
from refine.errors import ConfigError, DataError
from refine.resources import HF_CACHE_HINT, require, resource_unavailable

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
_TEST_ALIASES = ("test", "validation", "valid", "val")
#: Where the ``medmnist`` package downloads its files (its default ``root``).
MEDMNIST_DEFAULT_DIR = Path("~/.medmnist")
MEDMNIST_SIZE = 224


def medmnist_filename(spec: HubDatasetSpec, size: int = MEDMNIST_SIZE) -> str:
    """The published file name of a MedMNIST data set, e.g. ``bloodmnist_224.npz``."""
    return f"{spec.npz_flag}_{size}.npz"


def find_medmnist_file(spec: HubDatasetSpec, data_dir: str | Path | None) -> Path | None:
    """The ``.npz`` file of ``spec`` in ``data_dir`` (a folder or the file itself), if any."""
    if data_dir is None:
        candidate = MEDMNIST_DEFAULT_DIR.expanduser() / medmnist_filename(spec)
        return candidate if candidate.is_file() else None
    root = Path(data_dir).expanduser()
    if root.is_file() and root.suffix == ".npz":
        return root
    candidate = root / medmnist_filename(spec)
    return candidate if candidate.is_file() else None


class NpzImages:
    """Lazy, picklable view of one image array of an ``.npz`` file (loaded on first access).

    ``np.load`` of a compressed ``.npz`` member reads the whole array, so it is read once per
    process (DataLoader workers each read their own copy) and indexed from memory.
    """

    def __init__(self, path: str | Path, key: str, n: int) -> None:
        self.path = str(path)
        self.key = key
        self.n = int(n)
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        if self._array is None:
            with np.load(self.path) as f:
                self._array = f[self.key]
        return self._array[int(i)]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}  # workers re-read the file


def _npz_member_shape(path: Path, key: str) -> tuple[int, ...]:
    # The shape from the member's .npy header, without decompressing the (GB-sized) array.
    with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, _, _ = read_header(fh)
    return tuple(shape)


def read_medmnist_split(path: Path, spec: HubDatasetSpec, role: str) -> RawSplit:
    """One split (``train`` or ``test``) of a MedMNIST ``.npz`` file."""
    prefix = "train" if role in ("train", "all") else "test"
    try:
        with np.load(path) as f:
            keys = set(f.files)
            missing = {f"{prefix}_images", f"{prefix}_labels"} - keys
            if missing:
                raise DataError(
                    f"{path} is not a MedMNIST file: no {sorted(missing)} (found {sorted(keys)})"
                )
            labels = np.asarray(f[f"{prefix}_labels"])
        shape = _npz_member_shape(path, f"{prefix}_images")
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path} as a MedMNIST .npz file: {err}") from err
    labels = labels.reshape(labels.shape[0], -1)
    if labels.shape[1] != 1:
        raise DataError(
            f"{path}: {prefix}_labels has {labels.shape[1]} columns; only single-label MedMNIST "
            "data sets (one class index per image) are supported"
        )
    if len(shape) not in (3, 4) or shape[0] != labels.shape[0]:
        raise DataError(
            f"{path}: {prefix}_images of shape {shape} does not match {labels.shape[0]} labels "
            "(expected N×H×W×3 or N×H×W)"
        )
    source = {"local": str(path.resolve()), "format": "medmnist-npz", "split": prefix}
    items = NpzImages(path, f"{prefix}_images", shape[0])
    names = list(spec.class_names) if spec.class_names else None
    return RawSplit(items, labels[:, 0].astype(np.int64), names, source)


@dataclass(frozen=True)
class RawSplit:
    """One split's raw inputs (read lazily), integer labels, class names and provenance."""

    items: Sequence[Any]
    labels: np.ndarray
    class_names: list[str] | None
    source: dict


class _ColumnView:
    """Lazy, picklable view of one column of a ``datasets.Dataset`` (decoded row by row)."""

    def __init__(self, ds: Any, column: str) -> None:
        self.ds = ds.select_columns([column])
        self.column = column

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> Any:
        return self.ds[int(i)][self.column]


def _local_hints(spec: HubDatasetSpec) -> list[str]:
    layout = "audiofolder" if spec.modality == "audio" else "imagefolder"
    hints = [
        f"pass data_dir=DIR (CLI: --data-dir DIR) with an {layout} (DIR/train/<class>/..., "
        "DIR/test/<class>/...), a folder written by datasets' save_to_disk, or a hub snapshot"
        + (
            f" (`hf download {spec.hub_id} --repo-type dataset --local-dir DIR`)"
            if spec.hub_id
            else ""
        )
    ]
    if spec.hub_id:
        hints.append(HF_CACHE_HINT)
    return hints


def _pick_split(splits: Any, spec: HubDatasetSpec, role: str, where: str) -> Any:
    candidates = (
        [spec.test_split, *_TEST_ALIASES] if role == "test" else [spec.train_split, "train"]
    )
    wanted = list(dict.fromkeys(c for c in candidates if c is not None))
    available = list(splits.keys())
    for name in wanted:
        if name in available:
            return splits[name]
    raise DataError(
        f"{where} has no split for the {role} data of {spec.name!r}: looked for {wanted}, "
        f"found {available}"
    )


def _resolve_column(
    columns: Sequence[str], wanted: Sequence[str | None], what: str, where: str
) -> str:
    for name in wanted:
        if name is not None and name in columns:
            return name
    raise DataError(
        f"{where} has no {what} column: looked for {[w for w in wanted if w]}, found {list(columns)}"
    )


def _scan_audio_folder(root: Path, spec: HubDatasetSpec, role: str) -> RawSplit:
    dirs = [root / d for d in (["train"] if role != "test" else list(_TEST_ALIASES))]
    split_dir = next((d for d in dirs if d.is_dir()), None)
    if split_dir is None:
        if role == "test":
            raise DataError(f"audio folder {root} has no test split folder ({list(_TEST_ALIASES)})")
        split_dir = root  # class folders directly under root: the whole data set
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    if not classes:
        raise DataError(f"audio folder {split_dir} has no class sub-folders")
    items, labels = [], []
    for idx, cls in enumerate(classes):
        for f in sorted((split_dir / cls).rglob("*")):
            if f.suffix.lower() in AUDIO_EXTENSIONS:
                items.append(str(f))
                labels.append(idx)
    if not items:
        raise DataError(f"audio folder {split_dir} holds no {AUDIO_EXTENSIONS} files")
    return RawSplit(items, np.asarray(labels, dtype=np.int64), classes, {"local": str(split_dir)})


def _raw_from_hf(ds: Any, spec: HubDatasetSpec, where: str, source: dict) -> RawSplit:
    hf = require("datasets", "backbones", f"reading dataset {spec.name!r}")
    columns = list(ds.column_names)
    in_col = _resolve_column(columns, [spec.input_column, "image", "img", "audio"], "input", where)
    y_col = _resolve_column(
        columns, [spec.label_column, "label", "labels", "target", "fine_label"], "label", where
    )
    feature = ds.features[y_col]
    raw = ds.with_format("numpy")[y_col] if len(ds) else np.zeros(0, dtype=np.int64)
    raw = np.asarray(raw)
    class_names: list[str] | None = None
    if isinstance(feature, hf.ClassLabel):
        class_names = list(feature.names)
    if raw.dtype.kind in "US" or raw.dtype == object:
        names = sorted({str(v) for v in raw})
        lookup = {n: i for i, n in enumerate(names)}
        labels = np.array([lookup[str(v)] for v in raw], dtype=np.int64)
        class_names = names
    else:
        labels = raw.astype(np.int64)
    if class_names is None and spec.class_name_column in columns:
        pairs = dict(zip(labels.tolist(), ds[spec.class_name_column], strict=True))
        if sorted(pairs) == list(range(spec.n_classes)):
            class_names = [str(pairs[i]) for i in range(spec.n_classes)]
    if isinstance(ds.features[in_col], hf.Audio):
        # decode ourselves with soundfile: datasets >= 4 decodes audio with torchcodec, which is
        # not a dependency of this package
        ds = ds.cast_column(in_col, hf.Audio(decode=False))
    source = {**source, "input_column": in_col, "label_column": y_col}
    return RawSplit(_ColumnView(ds, in_col), labels, class_names, source)


def open_split(spec: HubDatasetSpec, role: str, data_dir: str | Path | None = None) -> RawSplit:
    """The raw data of one cache split (``train``, ``test`` or ``all``) of ``spec``.

    Reads from the hub (through the Hugging Face cache) when ``data_dir`` is None, else from the
    local copy in ``data_dir`` (see the module docstring for the accepted layouts). MedMNIST
    data sets are read from their ``<flag>_224.npz`` file in ``data_dir`` (default
    ``~/.medmnist``); a ``data_dir`` without it is read as any other local copy.
    """
    hub_split = spec.train_split if role in ("train", "all") else spec.test_split
    if spec.npz_flag is not None:
        npz = find_medmnist_file(spec, data_dir)
        if npz is not None:
            return read_medmnist_split(npz, spec, role)
        if data_dir is None:
            raise resource_unavailable(
                f"dataset {spec.name!r}",
                spec.source,
                f"no {medmnist_filename(spec)} in {MEDMNIST_DEFAULT_DIR} and no data_dir was given",
                [
                    f"download {medmnist_filename(spec)} (e.g. `pip install medmnist` and "
                    f"`python -c \"import medmnist; medmnist.{spec.title}(split='test', "
                    'size=224, download=True)"`), then pass data_dir=DIR (CLI: --data-dir DIR) '
                    "with the file, or leave it in ~/.medmnist",
                    _local_hints(spec)[0],
                ],
            )
    if data_dir is None:
        if spec.hub_id is None:
            raise resource_unavailable(
                f"dataset {spec.name!r}",
                spec.source,
                "it is not on the Hugging Face hub and no data_dir was given",
                ["download and unpack it, then " + _local_hints(spec)[0]],
            )
        hf = require("datasets", "backbones", f"loading dataset {spec.name!r}")
        try:
            ds = hf.load_dataset(spec.hub_id, split=hub_split, revision=spec.revision)
        except Exception as err:  # offline, renamed, gated, ...
            raise resource_unavailable(
                f"dataset {spec.name!r} (split {hub_split!r}"
                + (f", revision {spec.revision!r}" if spec.revision else "")
                + ")",
                spec.hub_id,
                err,
                _local_hints(spec),
            ) from err
        source = {"hub_id": spec.hub_id, "revision": spec.revision, "split": hub_split}
        return _raw_from_hf(ds, spec, f"hub dataset {spec.hub_id!r}", source)

    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data_dir {str(root)!r} is not a directory")
    where = f"data_dir {str(root)!r}"
    if (root / "dataset_dict.json").exists() or (root / "state.json").exists():
        hf = require("datasets", "backbones", f"reading dataset {spec.name!r}")
        obj = hf.load_from_disk(str(root))
        if isinstance(obj, hf.DatasetDict):
            ds = _pick_split(obj, spec, role, where)
        elif role == "test":
            raise DataError(f"{where} holds a single split; save a DatasetDict with a test split")
        else:
            ds = obj
        return _raw_from_hf(
            ds, spec, where, {"local": str(root.resolve()), "format": "save_to_disk"}
        )
    has_parquet = any(root.rglob("*.parquet"))
    if spec.modality == "audio" and not has_parquet:
        return _scan_audio_folder(root, spec, role)
    hf = require("datasets", "backbones", f"reading dataset {spec.name!r}")
    builder = str(root) if has_parquet else "imagefolder"
    try:
        obj = hf.load_dataset(builder, data_dir=None if has_parquet else str(root))
    except Exception as err:
        raise DataError(
            f"cannot read {where} as a {'parquet snapshot' if has_parquet else 'imagefolder'}: {err}"
        ) from err
    ds = _pick_split(obj, spec, role, where)
    fmt = "parquet" if has_parquet else "imagefolder"
    return _raw_from_hf(ds, spec, where, {"local": str(root.resolve()), "format": fmt})


def check_labels(raw: RawSplit, spec: HubDatasetSpec) -> None:
    if raw.labels.size and (raw.labels.min() < 0 or raw.labels.max() >= spec.n_classes):
        raise DataError(
            f"labels of {spec.name!r} must lie in [0, {spec.n_classes}), found "
            f"[{raw.labels.min()}, {raw.labels.max()}] (source {raw.source})"
        )
