"""The practitioner's project: create it, import labels, select batches, export, inspect.

:class:`Project` is the Python face of ``refine init / label / select / export / status``. See
:mod:`refine.project.store` for the folder format and its guarantees (append-only, atomic,
versioned) and ``docs/practitioner.md`` for the workflow.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from refine.errors import ConfigError, DataError, RefineError, check_positive_int
from refine.head import HeadConfig, HeadTrainer
from refine.project import inputs, labelstudio
from refine.project.api import (
    BatchSelection,
    build_strategy,
    check_cold_start,
    nominators_text,
    run_selection,
    with_jobs,
)
from refine.project.store import (
    FEATURES_NPY,
    FORMAT_NAME,
    FORMAT_VERSION,
    IDS_FILE,
    LABELS_DIR,
    PROJECT_FILE,
    ROUNDS_DIR,
    ConcurrentModificationError,
    ProjectError,
    ProjectMeta,
    ProjectState,
    check_ids,
    ensure_unchanged,
    json_bytes,
    load_features,
    load_ids,
    package_version,
    read_events,
    read_project_meta,
    sha256_bytes,
    sha256_file,
    state_digest,
    utc_now,
    write_bytes_exclusive,
    write_event,
)
from refine.seeding import child_rng, child_seed

Phase = Callable[[str], None]


def _noop(_: str) -> None:
    return None


@contextlib.contextmanager
def _project_lock(root: Path) -> Iterator[None]:
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


def _head_init_seed(project_seed: int) -> int:
    return int(child_seed(project_seed, "head-init").generate_state(1)[0])


def grown_trainer(
    n_features: int,
    class_growth: list[int],
    init_seed: int,
    config: HeadConfig | None = None,
    device: str = "cpu",
) -> HeadTrainer:
    """The head trainer after the project's class growth (the head grows, old rows kept).

    Parameters
    ----------
    n_features : int
        D.
    class_growth : list of int
        Number of classes after each label import that introduced new classes.
    init_seed : int
        Seed of the initial weights (fixed for the life of the project).
    """
    sizes = [max(int(k), 2) for k in class_growth] or [2]
    trainer = HeadTrainer(n_features, sizes[0], init_seed, config, device)
    for k in sizes[1:]:
        trainer = trainer.with_classes(k)
    return trainer


class Project:
    """A project folder (see :mod:`refine.project.store` for the layout).

    Open an existing one with :meth:`open`, create one with :meth:`create`.

    Attributes
    ----------
    root : Path
        The folder.
    meta : ProjectMeta
        The decoded ``project.json``.
    state : ProjectState
        Labels, classes, rounds and pending instances, replayed from the events.
    """

    def __init__(self, root: Path, meta: ProjectMeta, state: ProjectState):
        self.root = root
        self.meta = meta
        self.state = state
        self._ids: list[str] | None = None
        self._index: dict[str, int] | None = None
        self._X: np.ndarray | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: str | os.PathLike) -> Project:
        """Open the project at ``root`` (reads and validates; writes nothing)."""
        root = Path(root)
        meta = read_project_meta(root)
        state = read_events(root)
        return cls(root, meta, state)

    @property
    def ids(self) -> list[str]:
        """Pool ids in feature-row order (verified on first access)."""
        if self._ids is None:
            self._ids = load_ids(self.root, self.meta)
        return self._ids

    @property
    def index(self) -> dict[str, int]:
        """``id → feature row``."""
        if self._index is None:
            self._index = {i: k for k, i in enumerate(self.ids)}
        return self._index

    @property
    def features(self) -> np.ndarray:
        """Pool features (float32 N×D, verified on first access)."""
        if self._X is None:
            self._X = load_features(self.root, self.meta)
        return self._X

    def _refresh(self) -> None:
        self.state = read_events(self.root)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        *,
        images: str | os.PathLike | None = None,
        features: str | os.PathLike | None = None,
        ids: str | os.PathLike | None = None,
        feature_column: str | None = None,
        backbone: Any = "dinov2",
        device: str = "cpu",
        pretrained: bool = True,
        weights_path: str | os.PathLike | None = None,
        init_seed: int = 0,
        extract_batch_size: int = 64,
        num_workers: int = 0,
        cache_dir: str | os.PathLike | None = None,
        seed: int = 0,
        cold_start: str = "typiclust",
        progress: bool = True,
    ) -> Project:
        """Create a project folder from an image folder or from precomputed embeddings.

        Parameters
        ----------
        root : path
            The new project folder. It must not exist or be empty; it appears only once complete
            (built under a temporary name and renamed into place).
        images : path, optional
            Image folder (searched recursively). Features are extracted with ``backbone`` through
            the feature pipeline (:func:`refine.features.extract_features`) and the verified
            cache file is stored in the project. Ids are the paths relative to ``images``.
        features : path, optional
            ``.npy`` or ``.parquet`` embeddings (exactly one of ``images``/``features``).
        ids : path, optional
            Ids of the embedding rows (``.csv`` with an ``id`` column, ``.txt`` one per line,
            ``.json`` list). Default: the Parquet ``id`` column, else the row numbers.
        feature_column : str, optional
            Parquet column holding the vectors.
        backbone : str or Backbone
            Backbone name (``dinov2``, ``dinov3``, ``clip``, ...) or a built
            :class:`refine.backbones.Backbone`.
        device, pretrained, weights_path, init_seed, extract_batch_size, num_workers
            How the backbone is built and run (see :func:`refine.backbones.load_backbone`);
            ``pretrained=False`` gives the real architecture with random weights (tests).
        cache_dir : path, optional
            Feature cache folder to reuse across attempts (the cache file is copied into the
            project).
        seed : int
            The project's seed: the head's initial weights and the default selection seed.
        cold_start : str
            Label-free strategy for batches selected before any label exists.
        progress : bool
            Show progress bars.
        """
        root = Path(root)
        check_cold_start(cold_start)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        if (images is None) == (features is None):
            raise ConfigError("give exactly one of --images (an image folder) or --features")
        if ids is not None and features is None:
            raise ConfigError("--ids goes with --features (image ids are their file paths)")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(
                f"{root} already exists and is not an empty folder; choose a new project folder"
            )
        if images is not None:
            rel = inputs.list_images(images)
            rel = check_ids(rel, f"--images {images}")
            pool = None
        else:
            X, file_ids = inputs.read_embeddings(features, feature_column)
            if ids is not None:
                id_list = inputs.read_ids(ids)
                what = f"--ids {ids}"
            elif file_ids is not None:
                id_list, what = file_ids, f"the id column of {features}"
            else:
                id_list, what = [str(i) for i in range(X.shape[0])], "row numbers"
            if len(id_list) != X.shape[0]:
                raise DataError(
                    f"{what} lists {len(id_list)} ids but --features {features} has "
                    f"{X.shape[0]} rows; ids and embeddings must correspond row by row"
                )
            id_list = check_ids(id_list, what)
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.init-", dir=root.parent))
        try:
            for sub in ("pool", LABELS_DIR, ROUNDS_DIR):
                (tmp / sub).mkdir()
            if images is not None:
                id_list = rel
                pool = _extract_images(
                    tmp,
                    Path(images),
                    rel,
                    backbone=backbone,
                    device=device,
                    pretrained=pretrained,
                    weights_path=weights_path,
                    init_seed=init_seed,
                    batch_size=extract_batch_size,
                    num_workers=num_workers,
                    cache_dir=cache_dir,
                    progress=progress,
                )
            else:
                with open(tmp / FEATURES_NPY, "wb") as fh:
                    np.save(fh, X, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                pool = {
                    "n": int(X.shape[0]),
                    "dim": int(X.shape[1]),
                    "features_file": FEATURES_NPY,
                    "features_format": "npy",
                    "features_sha256": sha256_file(tmp / FEATURES_NPY),
                    "source": {
                        "kind": "embeddings",
                        "features": str(Path(features).resolve()),
                        "features_file_sha256": sha256_file(features),
                        "ids": None if ids is None else str(Path(ids).resolve()),
                    },
                }
            ids_bytes = json.dumps(id_list, ensure_ascii=False).encode()
            (tmp / IDS_FILE).write_bytes(ids_bytes)
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
        return cls.open(root)

    # ------------------------------------------------------------------ labels
    def _read_annotations(
        self, path: Path, fmt: str, from_name: str | None
    ) -> tuple[list[tuple[str, str]], dict]:
        fmt = fmt.lower()
        if fmt == "auto":
            fmt = "label-studio" if path.suffix.lower() == ".json" else "csv"
        if fmt == "csv":
            return inputs.read_annotation_csv(path), {"format": "csv"}
        if fmt in ("label-studio", "labelstudio", "ls"):
            pairs, stats = labelstudio.read_export(path, self.index, self.image_refs(), from_name)
            return pairs, {"format": "label-studio", **stats}
        raise ConfigError(
            f"unknown annotation format {fmt!r}; allowed values: auto, csv, label-studio"
        )

    def add_labels(
        self,
        path: str | os.PathLike,
        *,
        fmt: str = "auto",
        relabel: bool = False,
        from_name: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        """Import annotations: appends ``labels/labels-NNNN.json`` (nothing when nothing is new).

        Parameters
        ----------
        path : path
            ``.csv`` with columns ``id,label`` (string class names), or a Label Studio JSON
            export (``.json``).
        fmt : {"auto", "csv", "label-studio"}
            File format; ``auto`` decides by the suffix.
        relabel : bool
            Allow an annotation to change the class of an already labeled id (the change is
            recorded; the old label stays in the history). Without it such a change is an error.
        from_name : str, optional
            Label Studio: the Choices control holding the class, when a task answers several.
        dry_run : bool
            Validate and report, write nothing.

        Returns
        -------
        dict
            ``file`` (the event written, or None), ``new`` (labels added), ``relabeled``,
            ``unchanged`` (already known), ``new_classes``, and Label Studio task counts.

        Raises
        ------
        DataError
            Empty file, ids not in the pool, one id with different labels, a changed label
            without ``relabel``. Nothing is written then.
        """
        path = Path(path)
        pairs, info = self._read_annotations(path, fmt, from_name)
        pairs = inputs.check_annotations(pairs, self.index, f"annotation file {path}")
        current = self.state.labels
        new: list[tuple[str, str]] = []
        changed: dict[str, list[str]] = {}
        unchanged = 0
        for i, lab in pairs:
            old = current.get(i)
            if old is None:
                new.append((i, lab))
            elif old == lab:
                unchanged += 1
            else:
                changed[i] = [old, lab]
        if changed and not relabel:
            first = sorted(changed)[:10]
            detail = "; ".join(
                f"{i!r} is {changed[i][0]!r}, file says {changed[i][1]!r}" for i in first
            )
            more = f" and {len(changed) - 10} more" if len(changed) > 10 else ""
            raise DataError(
                f"annotation file {path} changes the label of {len(changed)} already labeled "
                f"id(s): {detail}{more}. Pass --relabel to replace them (the history keeps the "
                "old labels)"
            )
        entries = new + [(i, changed[i][1]) for i in changed]
        new_classes = sorted({lab for _, lab in entries} - set(self.state.classes))
        summary = {
            "file": None,
            "new": len(new),
            "relabeled": len(changed),
            "unchanged": unchanged,
            "new_classes": new_classes,
            **{k: v for k, v in info.items() if k != "format"},
        }
        if not entries or dry_run:
            return summary
        payload = {
            "source": {
                "file": path.name,
                "path": str(path.resolve()),
                "format": info["format"],
                "sha256": sha256_file(path),
            },
            "labels": [[i, lab] for i, lab in entries],
            "relabeled": changed,
            "new_classes": new_classes,
        }
        with _project_lock(self.root):
            ensure_unchanged(self.root, self.state.version)
            written = write_event(
                self.root,
                "labels",
                len(self.state.label_events) + 1,
                self.state.version + 1,
                payload,
            )
        self._refresh()
        summary["file"] = str(written)
        return summary

    # ------------------------------------------------------------------ selection
    def trainer(self, config: HeadConfig | None = None, device: str = "cpu") -> HeadTrainer:
        """The project's head trainer: fixed initial weights, grown with the classes."""
        return grown_trainer(
            self.meta.dim,
            self.state.class_growth,
            _head_init_seed(self.meta.seed),
            config,
            device,
        )

    def labeled_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Labeled rows (in labeling order) and their class indices."""
        cls_index = {c: k for k, c in enumerate(self.state.classes)}
        rows = np.asarray([self.index[i] for i in self.state.labels], dtype=np.int64)
        y = np.asarray([cls_index[c] for c in self.state.labels.values()], dtype=np.int64)
        return rows, y

    def select(
        self,
        budget: int,
        *,
        strategy: str = "refine",
        strategy_params: Mapping[str, Any] | None = None,
        seed: int | None = None,
        cold_start: str | None = None,
        head_epochs: int = 200,
        device: str = "cpu",
        include_pending: bool = False,
        dry_run: bool = False,
        jobs: int | None = None,
        phase: Phase = _noop,
    ) -> dict:
        """Select the next batch and append it as ``rounds/round-NNNN.json``.

        Parameters
        ----------
        budget : int
            Instances to select: between 1 and the number of unlabeled instances that are not
            pending (selected in an earlier round and not labeled yet).
        strategy : str
            Strategy spec (``refine`` by default; see ``refine strategies``).
        strategy_params : dict, optional
            Its constructor parameters.
        seed : int, optional
            Selection seed (default: the project's seed). Round ``r`` draws from the stream
            ``(seed, r)``, so the same seed and state always give the same batch.
        cold_start : str, optional
            Label-free strategy used while no label exists (default: the project's).
        head_epochs : int
            Epochs of head training (paper protocol: 200).
        device : str
            Torch device of head training.
        include_pending : bool
            Allow re-selecting pending instances (default: they are excluded, so no instance is
            sent to annotators twice).
        dry_run : bool
            Compute the batch and return it without recording the round.
        jobs : int, optional
            Threads for Refine's filtering draws (default: all CPU cores); the batch does not
            depend on it.
        phase : callable, optional
            Called with a short description at each phase (progress display).

        Returns
        -------
        dict
            The round record (what ``rounds/round-NNNN.json`` holds), plus ``file``.
        """
        budget = check_positive_int("budget", budget)
        head_epochs = check_positive_int("head epochs", head_epochs)
        seed = self.meta.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        cold_start = check_cold_start(cold_start or self.meta.cold_start)
        requested = build_strategy(strategy, strategy_params)
        state = self.state
        number = len(state.rounds) + 1
        n_pool = self.meta.n
        pending = [] if include_pending else state.pending
        n_free = n_pool - len(state.labels) - len(pending)
        if n_free <= 0:
            raise DataError(
                "no instances left to select: all are labeled"
                + ("" if include_pending else " or pending (selected, not yet labeled)")
            )
        if budget > n_free:
            raise DataError(
                f"budget {budget} is larger than the {n_free} instances available for selection "
                f"({n_pool} in the pool, {len(state.labels)} labeled"
                + ("" if include_pending else f", {len(pending)} pending")
                + f"); choose a budget between 1 and {n_free}"
            )
        phase("loading features")
        X = self.features
        rows, y = self.labeled_arrays()
        exclude = np.asarray([self.index[i] for i in pending], dtype=np.int64)
        trainer = self.trainer(HeadConfig(epochs=head_epochs), device)
        digest = state_digest(self.meta, state)
        cold = rows.size == 0 and not requested.label_free
        phase(f"selecting {budget} with {f'{cold_start} (cold start)' if cold else strategy}")
        result: BatchSelection = run_selection(
            X,
            rows,
            y,
            trainer,
            budget,
            strategy=strategy,
            strategy_params=strategy_params,
            cold_start=cold_start,
            exclude=exclude,
            seed=child_seed(int(seed), "project-round", number),
            cycle=number - 1,
            jobs=jobs,
        )
        ids = self.ids
        selected = [ids[int(i)] for i in result.indices]
        record = {
            "seed": int(seed),
            "strategy": strategy,
            "strategy_params": dict(strategy_params or {}),
            "used_strategy": result.strategy,
            "cold_start": result.cold_start,
            "cold_start_strategy": cold_start,
            "budget": budget,
            "n_pool": n_pool,
            "n_labeled": int(rows.size),
            "n_classes": len(state.classes),
            "classes": list(state.classes),
            "n_pending_excluded": int(exclude.size),
            "head_epochs": head_epochs,
            "device": device,
            "jobs": with_jobs(strategy, strategy_params, jobs).get("n_jobs"),
            "state_version": state.version,
            "state_digest": digest,
            "selected": selected,
            "indices": [int(i) for i in result.indices],
            "provenance": {sid: p for sid, p in zip(selected, result.provenance, strict=True)},
            "trace": result.trace,
            "seconds": round(result.seconds, 3),
        }
        record = json.loads(json_bytes(record))  # what the file holds, JSON types only
        if dry_run:
            record.update(number=number, file=None)
            return record
        phase("recording the round")
        with _project_lock(self.root):
            ensure_unchanged(self.root, state.version)
            path = write_event(self.root, "round", number, state.version + 1, record)
        self._refresh()
        record.update(number=number, file=str(path))
        return record

    # ------------------------------------------------------------------ batches and export
    def image_refs(self, url_prefix: str | None = None) -> dict[str, str]:
        """``id → data.image`` for Label Studio tasks.

        With ``url_prefix`` the reference is ``url_prefix + id`` (e.g. Label Studio's
        ``/data/local-files/?d=photos/``); otherwise the absolute image path for projects made
        from an image folder, and the id itself for projects made from embeddings.
        """
        if url_prefix is not None:
            return {i: f"{url_prefix}{i}" for i in self.ids}
        src = self.meta.source
        if src.get("kind") == "images":
            base = Path(src["images"])
            return {i: str(base / i) for i in self.ids}
        return {i: i for i in self.ids}

    def round_record(self, number: int | None = None) -> dict:
        """Round ``number`` (default: the latest)."""
        rounds = self.state.rounds
        if not rounds:
            raise DataError("the project has no selection rounds yet; run `refine select` first")
        if number is None:
            return rounds[-1]
        if not 1 <= number <= len(rounds):
            raise DataError(f"round {number} does not exist; rounds are 1..{len(rounds)}")
        return rounds[number - 1]

    def batch_rows(
        self, record: Mapping[str, Any] | None = None, *, pending: bool = False
    ) -> list[dict]:
        """Rows describing a batch: one per instance, with its provenance.

        Parameters
        ----------
        record : dict, optional
            A round record (default: the latest round).
        pending : bool
            Instead: every pending instance (selected in any round, not labeled yet).
        """
        if pending:
            by_round = {r["number"]: r for r in self.state.rounds}
            wanted = self.state.pending
            if not wanted:
                raise DataError("no pending instances: every selected instance is labeled")
            recs = [(by_round[self.state.selected[i]], i) for i in wanted]
        else:
            record = record or self.round_record()
            recs = [(record, i) for i in record["selected"]]
        rows = []
        for rec, i in recs:
            prov = rec.get("provenance", {}).get(i, {})
            rows.append(
                {
                    "id": i,
                    "index": self.index[i],
                    "round": rec["number"],
                    "order": rec["selected"].index(i) + 1,
                    "strategy": rec.get("used_strategy", rec.get("strategy")),
                    "final": prov.get("final", ""),
                    "nominated_by": nominators_text(prov),
                    "n_nominations": sum(len(v) for v in (prov.get("rounds") or {}).values()),
                    "labeled": self.state.labels.get(i, ""),
                }
            )
        return rows

    def write_batch(
        self,
        path: str | os.PathLike,
        rows: list[dict],
        *,
        url_prefix: str | None = None,
        labeling_config: str | os.PathLike | None = None,
    ) -> Path:
        """Write batch rows as CSV (``.csv``) or Label Studio tasks (``.json``), atomically.

        Parameters
        ----------
        path : path
            Output file; the suffix picks the format.
        rows : list of dict
            From :meth:`batch_rows`.
        url_prefix : str, optional
            Prefix of ``data.image`` in Label Studio tasks (see :meth:`image_refs`).
        labeling_config : path, optional
            Also write a Label Studio labeling configuration (XML) listing the known classes.
        """
        from refine.io import atomic_path

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise ConfigError(
                f"--out {path}: unsupported file type {suffix!r}; use .csv (batch table) or "
                ".json (Label Studio tasks)"
            )
        refs = self.image_refs(url_prefix)
        if suffix == ".json":
            data = json.dumps(labelstudio.make_tasks(rows, refs), indent=2, ensure_ascii=False)
            payload = (data + "\n").encode()
        else:
            buf = io.StringIO()
            cols = ["id", "round", "order", "strategy", "final", "nominated_by", "n_nominations"]
            if self.meta.source.get("kind") == "images" or url_prefix is not None:
                cols.append("image")
            writer = csv.DictWriter(
                buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n"
            )
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "image": refs[r["id"]]})
            payload = buf.getvalue().encode()
        with atomic_path(path) as tmp:
            tmp.write_bytes(payload)
        if labeling_config is not None:
            with atomic_path(labeling_config) as tmp:
                tmp.write_text(labelstudio.labeling_config(self.state.classes))
        return path

    # ------------------------------------------------------------------ status
    def estimate_accuracy(
        self,
        *,
        folds: int = 5,
        head_epochs: int = 200,
        device: str = "cpu",
        min_labels: int = 10,
    ) -> dict:
        """Held-out accuracy of the head, by k-fold cross-validation on the labeled set.

        Each fold trains a head with the project's protocol (fixed initial weights,
        ``head_epochs``) on the other folds and scores the held-out fold. Stratified folds are
        used when every class has at least ``folds`` labels.

        Returns
        -------
        dict
            ``available`` (False with a ``reason`` when there are fewer than ``min_labels``
            labels or fewer than two classes), else ``mean``, ``std``, ``folds``, ``n``.

        Notes
        -----
        The labeled set was chosen by active learning, not at random, so the estimate is biased
        (usually pessimistic: selected instances are the hard ones). It tracks progress; report
        final accuracy on a separately drawn random test set.
        """
        from sklearn.model_selection import KFold, StratifiedKFold

        rows, y = self.labeled_arrays()
        n_cls = len(set(y.tolist()))
        if rows.size < min_labels or n_cls < 2:
            return {
                "available": False,
                "reason": f"needs at least {min_labels} labels of at least 2 classes "
                f"(have {rows.size} of {n_cls})",
            }
        folds = int(min(folds, rows.size))
        counts = np.bincount(y)
        counts = counts[counts > 0]
        rs = int(child_rng(self.meta.seed, "estimate").integers(0, 2**31 - 1))
        if counts.min() >= folds:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=rs)
        else:
            splitter = KFold(folds, shuffle=True, random_state=rs)
        X = self.features
        trainer = self.trainer(HeadConfig(epochs=head_epochs), device)
        accs = []
        for k, (tr, te) in enumerate(splitter.split(rows, y)):
            head = trainer.fit(
                X[rows[tr]], y[tr], seed=int(child_rng(self.meta.seed, "cv", k).integers(0, 2**62))
            )
            accs.append(head.accuracy(X[rows[te]], y[te]))
        return {
            "available": True,
            "mean": float(np.mean(accs)),
            "std": float(np.std(accs)),
            "folds": folds,
            "n": int(rows.size),
        }

    def status(self) -> dict:
        """Pool size, labels per class, pending instances and the rounds so far."""
        st = self.state
        return {
            "project": str(self.root),
            "format_version": FORMAT_VERSION,
            "state_version": st.version,
            "source": self.meta.source,
            "pool": self.meta.n,
            "dim": self.meta.dim,
            "labeled": len(st.labels),
            "unlabeled": self.meta.n - len(st.labels),
            "pending": len(st.pending),
            "classes": st.class_counts(),
            "label_imports": [
                {
                    "number": ev.number,
                    "file": ev.source.get("file"),
                    "format": ev.source.get("format"),
                    "labels": len(ev.labels),
                    "new_classes": ev.new_classes,
                    "created_utc": ev.created_utc,
                }
                for ev in st.label_events
            ],
            "rounds": [
                {
                    "number": r["number"],
                    "strategy": r["strategy"],
                    "used_strategy": r["used_strategy"],
                    "cold_start": r["cold_start"],
                    "budget": r["budget"],
                    "n_labeled": r["n_labeled"],
                    "seed": r["seed"],
                    "labeled_since": sum(1 for i in r["selected"] if i in st.labels),
                    "created_utc": r["created_utc"],
                }
                for r in st.rounds
            ],
        }


def _extract_images(
    tmp: Path,
    folder: Path,
    rel: list[str],
    *,
    backbone: Any,
    device: str,
    pretrained: bool,
    weights_path: Any,
    init_seed: int,
    batch_size: int,
    num_workers: int,
    cache_dir: Any,
    progress: bool,
) -> dict:
    """Run the feature pipeline over the images; the cache file lands in ``tmp/features``."""
    from refine.features import extract_features

    folder = folder.resolve()
    listing = "\n".join(
        f"{r}\t{(folder / r).stat().st_size}\t{(folder / r).stat().st_mtime_ns}" for r in rel
    )
    tag = sha256_bytes(listing.encode())[:12]
    dataset = f"folder-{folder.name}-{tag}"
    features_dir = Path(cache_dir) if cache_dir is not None else tmp / "features"
    try:
        res = extract_features(
            [str(folder / r) for r in rel],
            np.full(len(rel), -1, dtype=np.int64),
            dataset=dataset,
            split="pool",
            features_dir=features_dir,
            backbone=backbone,
            device=device,
            pretrained=pretrained,
            weights_path=weights_path,
            init_seed=init_seed,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
            metadata={"source": {"kind": "image-folder", "root": str(folder), "listing": tag}},
        )
    except RefineError:
        raise
    except OSError as err:  # an image that cannot be decoded (PIL errors are OSErrors)
        raise DataError(f"--images {folder}: an image could not be read ({err})") from None
    entry = res.entry
    dest = tmp / "features" / entry.path.name
    if entry.path.resolve() != dest.resolve():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.path, dest)
    ident = entry.identity
    pool = {
        "n": int(entry.features.shape[0]),
        "dim": int(entry.features.shape[1]),
        "features_file": f"features/{dest.name}",
        "features_format": "feature-cache",
        "features_key": entry.key,
        "source": {
            "kind": "images",
            "images": str(folder),
            "backbone": ident.get("backbone"),
            "weights": ident.get("weights"),
            "cache_key": entry.key,
            "extracted": res.status,
        },
    }
    return pool
