"""The project folder: a pool of instances, its label history and its selection rounds.

Layout (``FORMAT_VERSION = 1``)
-------------------------------
::

    myproject/
      project.json              what the pool is (written once, by ``refine init``)
      pool/ids.json             the pool ids, one string per feature row
      pool/features.npy         float32 N×D embeddings (projects made from embeddings)
      features/<key>.npz        the verified feature-cache file (projects made from images)
      labels/labels-0001.json   one file per label import, appended, never rewritten
      rounds/round-0001.json    one file per selection round, appended, never rewritten

``project.json`` records the format version, the pool size and dimension, the SHA-256 of the ids
and of the features, where the features came from (image folder and backbone, or embedding file)
and the project's defaults (seed, cold-start strategy).

Every state change is exactly one new file: a label import writes ``labels/labels-NNNN.json``, a
selection writes ``rounds/round-NNNN.json``. Each such *event* carries a global sequence number
``seq`` (1, 2, ...) that orders label imports and rounds relative to each other; the project's
*state version* is the number of events. An event file is written to a temporary file, flushed
and then hard-linked to its final name, which fails if the name exists: a reader sees the
complete file or none, an interrupted writer leaves nothing behind, and of two processes racing
for the same event number exactly one wins (the other gets a clear error and writes nothing).
``refine init`` builds the whole folder under a temporary name and renames it into place.

Nothing ever rewrites or deletes an event, so the folder is its own audit log: the labels in
force, the classes and the pending instances (selected, not yet labeled) are all derived by
replaying the events in ``seq`` order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from refine.errors import DataError, RefineError
from refine.io import canonical_json
from refine.project.outputs import user_file_mode

#: Version of the folder layout written by this package; folders of other versions are refused.
FORMAT_VERSION = 1
FORMAT_NAME = "refine-project"
PROJECT_FILE = "project.json"
IDS_FILE = "pool/ids.json"
FEATURES_NPY = "pool/features.npy"
LABELS_DIR = "labels"
ROUNDS_DIR = "rounds"
_EVENT_RE = {
    "labels": re.compile(r"^labels-(\d{4,})\.json$"),
    "round": re.compile(r"^round-(\d{4,})\.json$"),
}


class ProjectError(RefineError):
    """A project folder is missing, inconsistent, or was written by an incompatible version."""


class ConcurrentModificationError(ProjectError):
    """Another process changed the project between reading and writing it."""


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_version() -> str:
    """The installed version of ``refine-al`` (``"unknown"`` when not installed)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("refine-al")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed here
        return "unknown"


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_npy_verified(path: str | os.PathLike, sha256: str | None, chunk: int = 1 << 22):
    """``np.load(path)`` and the file's SHA-256, from one read of the file.

    The header is parsed with numpy's public ``read_magic`` / ``read_array_header_*`` and the
    data read straight into the array, each chunk hashed as it arrives, then any trailing bytes
    (which ``np.load`` ignores) are hashed too, so the digest is :func:`sha256_file`'s. A
    million-instance pool (1.5 GB) is then read once instead of twice.

    Returns
    -------
    (ndarray or None, str)
        The array (None when ``sha256`` is given and differs: nothing is returned from a file
        that failed its check) and the digest. Object arrays are refused (``allow_pickle`` is
        never on); Fortran-ordered files are read by ``np.load`` after :func:`sha256_file`.

    Raises
    ------
    ValueError
        The file is not a readable ``.npy`` (bad magic or header, or it ends inside the array).
    """
    fmt = np.lib.format
    with open(path, "rb") as fh:
        version = fmt.read_magic(fh)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        if fortran or dtype.hasobject:
            digest = sha256_file(path)
            if sha256 is not None and digest != sha256:
                return None, digest
            return np.load(path, allow_pickle=False), digest
        header_end = fh.tell()
        fh.seek(0)
        h = hashlib.sha256(fh.read(header_end))
        X = np.empty(shape, dtype=dtype)
        buf = memoryview(X.reshape(-1).view(np.uint8))
        pos = 0
        while pos < buf.nbytes:
            got = fh.readinto(buf[pos : pos + chunk])
            if not got:
                raise ValueError(f"{path} ends inside its array ({pos} of {buf.nbytes} bytes)")
            h.update(buf[pos : pos + got])
            pos += got
        while block := fh.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    if sha256 is not None and digest != sha256:
        return None, digest
    return X, digest


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_exclusive(path: Path, data: bytes) -> None:
    """Write ``data`` to a *new* file ``path`` atomically; fail if ``path`` already exists.

    The bytes go to a temporary file in the same folder, which is fsynced and then hard-linked to
    ``path`` (``link`` refuses an existing name, so no existing file is ever overwritten). Where
    the file system has no hard links the temporary file is renamed after an existence check.

    Raises
    ------
    ConcurrentModificationError
        ``path`` exists (another process wrote the same event first).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), user_file_mode())  # mkstemp makes 0600; use the umask
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ConcurrentModificationError(
                f"{path} already exists: the project was changed by another process meanwhile; "
                "nothing was written, run the command again"
            ) from None
        except OSError:  # no hard links on this file system
            if path.exists():
                raise ConcurrentModificationError(
                    f"{path} already exists: the project was changed by another process "
                    "meanwhile; nothing was written, run the command again"
                ) from None
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def json_bytes(obj: Any) -> bytes:
    """Indented, key-sorted JSON with a trailing newline (the format of every project file)."""
    from refine.io import _json_default

    return (json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n").encode()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{what} {path} is missing; the project folder is incomplete") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProjectError(f"{what} {path} cannot be read ({err})") from None
    except RecursionError:
        raise ProjectError(f"{what} {path} is nested too deeply to be a project file") from None


def check_format(meta: Any, path: Path) -> None:
    """Refuse a ``project.json`` (or event file) that this version of the package cannot read."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ProjectError(f'{path} is not a refine project file (no "format": "{FORMAT_NAME}")')
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = (
            "it was written by a newer refine-al; upgrade the package"
            if newer
            else "it was written by an incompatible refine-al; re-create the project with "
            "`refine init` (your annotation files can be imported again with `refine label`)"
        )
        raise ProjectError(
            f"{path} has project format version {version!r}, but this refine-al "
            f"({package_version()}) reads version {FORMAT_VERSION} only: {hint}. "
            "Nothing was changed."
        )


@dataclass
class LabelEvent:
    """One label import (``labels/labels-NNNN.json``).

    Attributes
    ----------
    number : int
        Its number among label imports (1, 2, ...).
    seq : int
        Its position among all events.
    labels : list of (str, str)
        ``(id, class name)`` pairs new or changed by this import, in file order.
    relabeled : dict
        ``id → [old class, new class]`` for labels this import changed.
    new_classes : list of str
        Classes first seen in this import (sorted by name), appended to the project's classes.
    source : dict
        File name, format and SHA-256 of the annotation file.
    """

    number: int
    seq: int
    labels: list[tuple[str, str]]
    relabeled: dict[str, list[str]] = field(default_factory=dict)
    new_classes: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)
    created_utc: str = ""


@dataclass
class ProjectState:
    """The state derived by replaying a project's events.

    Attributes
    ----------
    labels : dict
        ``id → class name`` in force, in the order the ids were first labeled.
    classes : list of str
        Class names in order of first appearance (a class's index is its position).
    class_growth : list of int
        Number of classes after each label import that introduced new classes (the head grows
        through these sizes).
    label_events, rounds : list
        The events, in order.
    selected : dict
        ``id → number of the round that selected it``.
    version : int
        Number of events (the state version).
    """

    labels: dict[str, str] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    class_growth: list[int] = field(default_factory=list)
    label_events: list[LabelEvent] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)
    selected: dict[str, int] = field(default_factory=dict)
    version: int = 0

    @property
    def pending(self) -> list[str]:
        """Ids selected in some round and not labeled yet, in selection order."""
        return [i for i in self.selected if i not in self.labels]

    def class_counts(self) -> dict[str, int]:
        """Number of labels per class (every known class, zero included)."""
        counts = dict.fromkeys(self.classes, 0)
        for c in self.labels.values():
            counts[c] += 1
        return counts


def read_events(root: Path) -> ProjectState:
    """Replay the label and round files of the project at ``root`` into a :class:`ProjectState`.

    Raises
    ------
    ProjectError
        An event file is unreadable, of another format version, misnumbered, or the sequence
        numbers have gaps (a file was removed or copied in by hand).
    """
    events: list[tuple[int, str, Path, dict]] = []
    for kind, sub in (("labels", LABELS_DIR), ("round", ROUNDS_DIR)):
        folder = root / sub
        if not folder.is_dir():
            raise ProjectError(f"{folder} is missing; {root} is not a complete refine project")
        numbers = []
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue  # temporary files of an interrupted writer are never read
            m = _EVENT_RE[kind].match(p.name)
            if not m:
                raise ProjectError(f"unexpected file {p} in the project folder; remove it")
            data = _read_json(p, f"{kind} file")
            check_format(data, p)
            if data.get("kind") != kind or data.get("number") != int(m.group(1)):
                raise ProjectError(f"{p} does not hold {kind} event number {int(m.group(1))}")
            seq = data.get("seq")
            if isinstance(seq, bool) or not isinstance(seq, int):
                raise ProjectError(f"{p} has no integer sequence number 'seq' (got {seq!r})")
            _check_event_body(kind, data, p)
            numbers.append(int(m.group(1)))
            events.append((seq, kind, p, data))
        if numbers != list(range(1, len(numbers) + 1)):
            raise ProjectError(
                f"{folder} has {kind} files numbered {numbers}; expected 1..{len(numbers)} without "
                "gaps (files were removed or renamed by hand)"
            )
    events.sort(key=lambda e: e[0])
    seqs = [e[0] for e in events]
    if seqs != list(range(1, len(events) + 1)):
        raise ProjectError(
            f"the events of {root} have sequence numbers {seqs}; expected 1..{len(events)}"
        )
    state = ProjectState(version=len(events))
    for seq, kind, _p, data in events:
        if kind == "labels":
            ev = LabelEvent(
                number=int(data["number"]),
                seq=seq,
                labels=[(str(i), str(c)) for i, c in data["labels"]],
                relabeled={str(k): list(v) for k, v in data.get("relabeled", {}).items()},
                new_classes=[str(c) for c in data.get("new_classes", [])],
                source=dict(data.get("source", {})),
                created_utc=str(data.get("created_utc", "")),
            )
            state.label_events.append(ev)
            for c in ev.new_classes:
                if c in state.classes:
                    raise ProjectError(f"label file {ev.number} re-introduces class {c!r}")
                state.classes.append(c)
            if ev.new_classes:
                state.class_growth.append(len(state.classes))
            for i, c in ev.labels:
                if c not in state.classes:
                    raise ProjectError(f"label file {ev.number} uses undeclared class {c!r}")
                state.labels[i] = c
        else:
            state.rounds.append(data)
            for i in data["selected"]:
                state.selected.setdefault(str(i), int(data["number"]))
    return state


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_event_body(kind: str, data: dict, path: Path) -> None:
    """Refuse an event file whose fields do not have the types this package writes."""
    if kind == "labels":
        labels = data.get("labels")
        ok = (
            isinstance(labels, list)
            and all(
                isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)
                for e in labels
            )
            and _is_str_list(data.get("new_classes", []))
            and isinstance(data.get("relabeled", {}), dict)
            and all(_is_str_list(v) for v in data.get("relabeled", {}).values())
            and isinstance(data.get("source", {}), dict)
        )
        what = "'labels' as [id, class] string pairs, 'new_classes' as a list of strings"
    else:
        ok = _is_str_list(data.get("selected")) and isinstance(data.get("provenance", {}), dict)
        what = "'selected' as a list of pool ids (strings)"
    if not ok:
        raise ProjectError(
            f"{path} is not a valid {kind} event: expected {what}; the file was changed or "
            "written by other software"
        )


@dataclass(frozen=True)
class ProjectMeta:
    """The decoded, validated ``project.json``."""

    raw: dict

    @property
    def n(self) -> int:
        return int(self.raw["pool"]["n"])

    @property
    def dim(self) -> int:
        return int(self.raw["pool"]["dim"])

    @property
    def seed(self) -> int:
        return int(self.raw["seed"])

    @property
    def cold_start(self) -> str:
        return str(self.raw["cold_start"])

    @property
    def source(self) -> dict:
        return dict(self.raw["pool"].get("source", {}))


def read_project_meta(root: Path) -> ProjectMeta:
    """Read and validate ``root/project.json`` (format and version)."""
    root = Path(root)
    if not root.is_dir():
        raise ProjectError(
            f"project folder {root} does not exist; create it with `refine init {root} ...`"
        )
    path = root / PROJECT_FILE
    if not path.exists():
        raise ProjectError(
            f"{root} is not a refine project (no {PROJECT_FILE}); create one with `refine init`"
        )
    raw = _read_json(path, "project file")
    check_format(raw, path)
    try:
        pool = raw["pool"]
        int(pool["n"]), int(pool["dim"]), str(pool["ids_sha256"]), str(pool["features_file"])
        int(raw["seed"]), str(raw["cold_start"])
    except (KeyError, TypeError, ValueError) as err:
        raise ProjectError(f"{path} lacks a required field ({err})") from None
    return ProjectMeta(raw)


def load_ids(root: Path, meta: ProjectMeta) -> list[str]:
    """The pool ids, verified against the SHA-256 recorded in ``project.json``."""
    path = root / IDS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{path} is missing; the project folder is incomplete") from None
    if sha256_bytes(data) != meta.raw["pool"]["ids_sha256"]:
        raise ProjectError(f"{path} was modified: its SHA-256 differs from the one in project.json")
    ids = json.loads(data)
    if len(ids) != meta.n:
        raise ProjectError(f"{path} holds {len(ids)} ids, project.json says {meta.n}")
    return [str(i) for i in ids]


def load_features(root: Path, meta: ProjectMeta) -> np.ndarray:
    """The pool features (float32 N×D), verified (SHA-256 / the feature cache's own checksum)."""
    pool = meta.raw["pool"]
    path = root / pool["features_file"]
    if not path.exists():
        raise ProjectError(f"feature file {path} is missing; the project folder is incomplete")
    if pool.get("features_format") == "feature-cache":
        from refine.features import read_cache
        from refine.features.errors import CacheCorruptedError, CacheMismatchError

        try:
            X = read_cache(path, expected_key=pool.get("features_key")).features
        except (CacheCorruptedError, CacheMismatchError) as err:
            raise ProjectError(f"feature file {path} cannot be used: {err}") from None
    else:
        expected = pool.get("features_sha256")
        try:
            X, _ = load_npy_verified(path, expected)
        except ValueError as err:  # not a readable .npy: a changed file, unless its hash agrees
            if sha256_file(path) == expected:
                raise ProjectError(f"feature file {path} cannot be read: {err}") from None
            X = None
        if X is None:
            raise ProjectError(
                f"feature file {path} was modified: its SHA-256 differs from the one in "
                "project.json"
            )
    if X.shape != (meta.n, meta.dim) or X.dtype != np.float32:
        raise ProjectError(
            f"feature file {path} holds {X.dtype} {X.shape}, project.json says float32 "
            f"({meta.n}, {meta.dim})"
        )
    return X


def event_path(root: Path, kind: str, number: int) -> Path:
    """Where label import / round ``number`` lives."""
    if kind == "labels":
        return root / LABELS_DIR / f"labels-{number:04d}.json"
    if kind == "round":
        return root / ROUNDS_DIR / f"round-{number:04d}.json"
    raise ValueError(kind)  # pragma: no cover


def write_event(root: Path, kind: str, number: int, seq: int, payload: dict) -> Path:
    """Append one event file (exclusive, atomic); returns its path."""
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "number": int(number),
        "seq": int(seq),
        "created_utc": utc_now(),
        "refine_version": package_version(),
        **payload,
    }
    path = event_path(root, kind, number)
    write_bytes_exclusive(path, json_bytes(doc))
    return path


def ensure_unchanged(root: Path, version: int) -> None:
    """Fail if events were added since the state of ``version`` was read."""
    current = sum(
        1
        for sub, rx in ((LABELS_DIR, _EVENT_RE["labels"]), (ROUNDS_DIR, _EVENT_RE["round"]))
        for p in (root / sub).iterdir()
        if rx.match(p.name)
    )
    if current != version:
        raise ConcurrentModificationError(
            f"{root} was changed by another process meanwhile (state version {version} → "
            f"{current}); nothing was written, run the command again"
        )


def state_digest(meta: ProjectMeta, state: ProjectState) -> str:
    """SHA-256 of everything a selection depends on (pool, labels in order, pending, classes)."""
    payload = {
        "ids": meta.raw["pool"]["ids_sha256"],
        "features": meta.raw["pool"].get("features_sha256") or meta.raw["pool"].get("features_key"),
        "labels": list(state.labels.items()),
        "classes": state.classes,
        "growth": state.class_growth,
        "pending": state.pending,
    }
    return sha256_bytes(canonical_json(payload).encode())


@contextlib.contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold an advisory lock on ``project.json`` while a command appends an event.

    The lock is taken on a read-only descriptor, so the file's bytes and times are untouched.
    Where ``fcntl`` does not exist (Windows) only the exclusive file creation protects writers.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(root / PROJECT_FILE, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConcurrentModificationError(
                f"another refine command is changing {root} right now; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


def check_ids(ids: list[str], what: str) -> list[str]:
    """Validate pool ids: non-empty strings without surrounding whitespace, unique."""
    out = []
    empty = []
    for pos, i in enumerate(ids):
        s = str(i).strip()
        if not s:
            empty.append(pos)
        out.append(s)
    if empty:
        raise DataError(f"{what} has {len(empty)} empty id(s) (rows {empty[:10]})")
    seen: dict[str, int] = {}
    dups: list[str] = []
    for s in out:
        seen[s] = seen.get(s, 0) + 1
        if seen[s] == 2:
            dups.append(s)
    if dups:
        shown = ", ".join(repr(d) for d in dups[:10])
        more = f" and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise DataError(f"{what} has duplicate ids: {shown}{more}; every instance needs its own id")
    return out
