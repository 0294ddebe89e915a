"""The on-disk feature cache: one verified ``.npz`` file per (dataset, split, backbone, settings).

File format (``FORMAT_VERSION = 1``)
------------------------------------
An uncompressed NumPy ``.npz`` archive (no pickles; ``np.load(..., allow_pickle=False)``) with
three members:

- ``features`` — float32, ``N×D``, C order;
- ``labels`` — int64, ``N``;
- ``metadata`` — a 0-d unicode array holding one JSON object:

  - ``identity``: what the features are — format version, dataset, split, backbone name,
    weights descriptor (hub id, ``random-init(seed=…)``, ``local:<path>`` or
    ``custom:<class>``), architecture, pooling and the complete preprocessing;
  - ``versions``: public versions (local ``+cu…`` suffix dropped) of the libraries that can
    change the numbers (torch, timm/open_clip/transformers, torchvision, pillow, …);
  - ``key``: ``sha256(canonical JSON of {identity, versions})`` in hex;
  - provenance that does not enter the key: data source (hub id and revision or local folder),
    ``n_classes``, ``class_names``, the paper's batch size b, device, timings, full library
    versions, creation time;
  - ``sha256``: digest of the array shapes/dtypes, the array bytes and the canonical JSON of all
    other metadata fields. It is checked on every load.

The file is named ``{dataset}__{split}__{backbone}__{key[:16]}.npz``. It is written to a
temporary file in the same directory, flushed and fsynced, then moved into place with
:func:`os.replace` (atomic on POSIX and Windows), so a reader never sees a partial file and an
interrupted writer leaves nothing behind (the temporary file is removed on any exception,
including ``KeyboardInterrupt``; only a hard kill can leave a ``.*.tmp`` file, which is never
read).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from refine.features.errors import CacheCorruptedError, CacheMismatchError
from refine.io import canonical_json

FORMAT_VERSION = 1
SUFFIX = ".npz"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def public_version(version: str) -> str:
    """Drop a PEP 440 local label: ``"2.14.1+cu130"`` → ``"2.14.1"`` (same code, other build)."""
    return version.split("+", 1)[0]


def library_versions(packages: Iterable[str], *, public: bool = True) -> dict[str, str]:
    """Installed versions of ``packages`` (distribution names); absent ones as ``"not installed"``."""
    out = {}
    for pkg in sorted(set(packages)):
        try:
            v = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v = "not installed"
        out[pkg] = public_version(v) if public else v
    return out


def cache_key(identity: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    """The cache key: hex sha256 of the canonical JSON of identity and library versions."""
    payload = canonical_json({"identity": dict(identity), "versions": dict(versions)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def cache_filename(dataset: str, split: str, backbone: str, key: str) -> str:
    """File name of a cache entry (unsafe characters of the names replaced by ``-``)."""
    parts = [_SAFE.sub("-", p) for p in (dataset, split, backbone)]
    return "__".join([*parts, key[:16]]) + SUFFIX


def cache_glob(dataset: str, split: str, backbone: str) -> str:
    """Glob pattern matching every cache file of (dataset, split, backbone), any key."""
    parts = [_SAFE.sub("-", p) for p in (dataset, split, backbone)]
    return "__".join([*parts, "*"]) + SUFFIX


@dataclass(frozen=True)
class CacheEntry:
    """One verified cache file: features, labels and metadata.

    Attributes
    ----------
    path : Path
        The file.
    features : ndarray
        float32 ``N×D``.
    labels : ndarray
        int64 ``N``.
    metadata : dict
        The decoded metadata (see the module docstring), ``sha256`` included.
    """

    path: Path
    features: np.ndarray
    labels: np.ndarray
    metadata: dict

    @property
    def key(self) -> str:
        """The full cache key."""
        return str(self.metadata["key"])

    @property
    def identity(self) -> dict:
        """What the features are (dataset, split, backbone, weights, preprocessing, ...)."""
        return dict(self.metadata["identity"])

    @property
    def versions(self) -> dict:
        """Library versions that entered the key."""
        return dict(self.metadata["versions"])


def _digest(features: np.ndarray, labels: np.ndarray, meta_without_sha: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    layout = {
        "features": [list(features.shape), features.dtype.str],
        "labels": [list(labels.shape), labels.dtype.str],
    }
    h.update(canonical_json(layout).encode("utf-8"))
    h.update(memoryview(np.ascontiguousarray(features)).cast("B"))
    h.update(memoryview(np.ascontiguousarray(labels)).cast("B"))
    h.update(canonical_json(dict(meta_without_sha)).encode("utf-8"))
    return h.hexdigest()


def _write_npz(fh: BinaryIO, features: np.ndarray, labels: np.ndarray, meta_json: str) -> None:
    np.savez(fh, features=features, labels=labels, metadata=np.array(meta_json))


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_cache(
    path: str | Path, features: Any, labels: Any, metadata: Mapping[str, Any]
) -> CacheEntry:
    """Write one cache file atomically (temp file in the same directory + ``os.replace``).

    Parameters
    ----------
    path : path
        Final file name (its directory is created if needed).
    features : array-like
        ``N×D`` features (stored as float32).
    labels : array-like
        ``N`` integer labels (stored as int64).
    metadata : mapping
        Must contain ``identity``, ``versions`` and ``key``; everything must be JSON-serialisable.
        ``sha256`` is computed here.
    """
    path = Path(path)
    feats = np.ascontiguousarray(features, dtype=np.float32)
    labs = np.ascontiguousarray(labels, dtype=np.int64)
    if feats.ndim != 2 or labs.ndim != 1 or feats.shape[0] != labs.shape[0]:
        raise ValueError(f"features must be N×D and labels N, got {feats.shape} and {labs.shape}")
    meta = {k: v for k, v in dict(metadata).items() if k != "sha256"}
    for required in ("identity", "versions", "key"):
        if required not in meta:
            raise ValueError(f"cache metadata lacks {required!r}")
    meta["n"] = int(feats.shape[0])
    meta["dim"] = int(feats.shape[1])
    meta["sha256"] = _digest(feats, labs, meta)
    meta_json = canonical_json(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_npz(fh, feats, labs, meta_json)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        # any failure, Ctrl-C included: never leave the partial temp file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return CacheEntry(path, feats, labs, meta)


def _load_members(path: Path, members: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [m for m in members if m not in archive.files]
            if missing:
                raise KeyError(f"missing members {missing}")
            return {m: archive[m] for m in members}
    except FileNotFoundError:
        raise
    except Exception as err:  # BadZipFile, truncated data, bad header, bad CRC, ...
        raise CacheCorruptedError(
            f"cache file {path} cannot be read ({type(err).__name__}: {err}); "
            "delete it or re-run the extraction to rebuild it"
        ) from err


def _decode_metadata(path: Path, raw: np.ndarray) -> dict:
    try:
        meta = json.loads(str(raw[()]))
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except Exception as err:
        raise CacheCorruptedError(f"cache file {path} has unreadable metadata ({err})") from err
    return meta


def read_metadata(path: str | Path) -> dict:
    """Decode only the metadata of a cache file (cheap; the checksum is *not* verified)."""
    path = Path(path)
    return _decode_metadata(path, _load_members(path, ("metadata",))["metadata"])


def read_cache(path: str | Path, expected_key: str | None = None) -> CacheEntry:
    """Read and verify a cache file.

    Raises
    ------
    CacheCorruptedError
        The file cannot be parsed, its sha256 does not match its content, its key does not match
        its identity, or the arrays are malformed.
    CacheMismatchError
        The file is intact but its key is not ``expected_key`` or not the one in its name.
    FileNotFoundError
        No such file.
    """
    path = Path(path)
    arrays = _load_members(path, ("features", "labels", "metadata"))
    meta = _decode_metadata(path, arrays["metadata"])
    feats, labs = arrays["features"], arrays["labels"]
    recorded = meta.get("sha256")
    if not isinstance(recorded, str):
        raise CacheCorruptedError(f"cache file {path} has no checksum")
    rest = {k: v for k, v in meta.items() if k != "sha256"}
    if _digest(feats, labs, rest) != recorded:
        raise CacheCorruptedError(
            f"cache file {path} is corrupted: its sha256 does not match its content"
        )
    if feats.dtype != np.float32 or labs.dtype != np.int64 or feats.ndim != 2:
        raise CacheCorruptedError(f"cache file {path} holds arrays of unexpected type/shape")
    try:
        recomputed = cache_key(meta["identity"], meta["versions"])
    except (KeyError, TypeError, ValueError) as err:
        raise CacheCorruptedError(f"cache file {path} lacks identity/versions ({err})") from err
    if recomputed != meta.get("key"):
        raise CacheCorruptedError(f"cache file {path}: recorded key does not match its identity")
    if not path.name.endswith(f"__{recomputed[:16]}{SUFFIX}"):
        raise CacheMismatchError(
            f"cache file {path} holds features with key {recomputed[:16]}, not the key in its name"
        )
    if expected_key is not None and recomputed != expected_key:
        raise CacheMismatchError(
            f"cache file {path} was written for other settings (key {recomputed[:16]}, "
            f"expected {expected_key[:16]})"
        )
    return CacheEntry(path, feats, labs, meta)


def list_caches(features_dir: str | Path) -> list[dict]:
    """One row per cache file in ``features_dir``: file, dataset, split, backbone, weights, N, D.

    Unreadable files are listed with an ``error`` field instead of failing the listing.
    """
    rows = []
    for path in sorted(Path(features_dir).glob(f"*{SUFFIX}")):
        try:
            meta = read_metadata(path)
            ident = meta.get("identity", {})
            rows.append(
                {
                    "file": path.name,
                    "dataset": ident.get("dataset"),
                    "split": ident.get("split"),
                    "backbone": ident.get("backbone"),
                    "weights": ident.get("weights"),
                    "n": meta.get("n"),
                    "dim": meta.get("dim"),
                    "created": meta.get("created_utc"),
                }
            )
        except Exception as err:
            rows.append({"file": path.name, "error": str(err)})
    return rows
