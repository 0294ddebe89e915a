"""The practitioner's project: open it, and the one object the commands work on.

:class:`Project` is the Python face of ``refine init / label / select / export / status``. Each
job lives in its own module and the class only ties them to one folder:

- :mod:`refine.project.create` — building a project (``refine init``);
- :mod:`refine.project.labels` — reading annotation files and what they change (``refine label``);
- :mod:`refine.project.selection` — the next batch and its round (``refine select``);
- :mod:`refine.project.batches` — batches as CSV or Label Studio tasks (``refine export``);
- :mod:`refine.project.summary` — numbers and the accuracy estimate (``refine status``);
- :mod:`refine.project.store` — the folder format and its guarantees (append-only, atomic,
  versioned); :mod:`refine.project.outputs` — files written for the user.

See ``docs/practitioner.md`` for the workflow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import refine.project.batches as batches
import refine.project.inputs as inputs
import refine.project.summary as summary
from refine.head import HeadConfig, HeadTrainer
from refine.project.api import SelectRequest
from refine.project.create import ExtractOptions, PoolSource, SkipReport, create_project
from refine.project.labels import diff_labels, read_annotations
from refine.project.selection import BatchOutput, Phase, select_round, write_batch_files
from refine.project.store import (
    ProjectMeta,
    ProjectState,
    ensure_unchanged,
    load_features,
    load_ids,
    project_lock,
    read_events,
    read_project_meta,
    sha256_file,
    write_event,
)
from refine.seeding import head_init_seed


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

    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        *,
        images: str | os.PathLike | None = None,
        features: str | os.PathLike | None = None,
        ids: str | os.PathLike | None = None,
        feature_column: str | None = None,
        extract: ExtractOptions | None = None,
        seed: int = 0,
        cold_start: str = "typiclust",
        on_skipped: SkipReport | None = None,
    ) -> Project:
        """Create a project folder from an image folder or from precomputed embeddings.

        Parameters
        ----------
        root : path
            The new project folder. It must not exist or be empty; it appears only once complete
            (built under a temporary name and renamed into place).
        images : path, optional
            Image folder (searched recursively; ids are the paths relative to it). Every image
            is decoded once before extraction; unreadable ones are skipped (reported through
            ``on_skipped``) or, with ``extract.strict``, refused.
        features : path, optional
            ``.npy`` or ``.parquet`` embeddings (exactly one of ``images``/``features``).
        ids : path, optional
            Ids of the embedding rows (``.csv`` with an ``id`` column, ``.txt`` one per line,
            ``.json`` list). Default: the Parquet ``id`` column, else the row numbers.
        feature_column : str, optional
            Parquet column holding the vectors.
        extract : ExtractOptions, optional
            Backbone (image backbones only), device, weights and the resumable feature cache.
        seed : int
            The project's seed: the head's initial weights and the default selection seed.
        cold_start : str
            Label-free strategy for batches selected before any label exists.
        on_skipped : callable, optional
            Called with ``[(image, reason), ...]`` when unreadable images were skipped.
        """
        source = PoolSource(
            images=images, features=features, ids=ids, feature_column=feature_column
        )
        path = create_project(
            root, source, extract, seed=seed, cold_start=cold_start, on_skipped=on_skipped
        )
        return cls.open(path)

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

    def refresh(self) -> None:
        """Re-read the events (after this process appended one)."""
        self.state = read_events(self.root)

    # ------------------------------------------------------------------ labels
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
            ``.csv`` with columns ``id,label`` (string class names; a Label Studio CSV export's
            ``refine_id`` column is preferred over its ``id``), or a Label Studio JSON / JSON-MIN
            export (``.json``).
        fmt : {"auto", "csv", "label-studio"}
            File format; ``auto`` decides by the suffix.
        relabel : bool
            Allow an annotation to change the class of an already labeled id (the change is
            recorded; the old label stays in the history). Without it such a change is an error.
        from_name : str, optional
            Label Studio: the Choices control holding the class (its column in a CSV export).
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
            without ``relabel``, class names that are not printable text. Nothing is written.
        """
        path = Path(path)
        pairs, info = read_annotations(
            path, fmt, index=self.index, image_refs=self.image_refs(), from_name=from_name
        )
        pairs = inputs.check_annotations(pairs, self.index, f"annotation file {path}")
        diff = diff_labels(pairs, self.state.labels, relabel=relabel, path=path)
        entries = diff.entries
        new_classes = sorted({lab for _, lab in entries} - set(self.state.classes))
        result = {
            "file": None,
            "new": len(diff.new),
            "relabeled": len(diff.changed),
            "unchanged": diff.unchanged,
            "new_classes": new_classes,
            **{k: v for k, v in info.items() if k not in ("format", "id_column")},
        }
        if not entries or dry_run:
            return result
        payload = {
            "source": {
                "file": path.name,
                "path": str(path.resolve()),
                "format": info["format"],
                "sha256": sha256_file(path),
            },
            "labels": [[i, lab] for i, lab in entries],
            "relabeled": diff.changed,
            "new_classes": new_classes,
        }
        with project_lock(self.root):
            ensure_unchanged(self.root, self.state.version)
            written = write_event(
                self.root,
                "labels",
                len(self.state.label_events) + 1,
                self.state.version + 1,
                payload,
            )
        self.refresh()
        result["file"] = str(written)
        return result

    # ------------------------------------------------------------------ selection
    def trainer(self, config: HeadConfig | None = None, device: str = "cpu") -> HeadTrainer:
        """The project's head trainer: fixed initial weights, grown with the classes."""
        return grown_trainer(
            self.meta.dim,
            self.state.class_growth,
            head_init_seed(self.meta.seed),
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
        request: SelectRequest | int,
        *,
        out: BatchOutput | None = None,
        dry_run: bool = False,
        phase: Phase | None = None,
        **options: Any,
    ) -> dict:
        """Select the next batch, write it to ``out`` and append it as ``rounds/round-NNNN.json``.

        Parameters
        ----------
        request : SelectRequest or int
            What to select (batch size, strategy and its parameters, seed, cold start, head
            epochs, device, jobs, whether pending instances may be selected again). An int is
            the batch size, with the other fields from ``options``
            (``project.select(10, strategy="margin")``). Round ``r`` draws from the stream
            ``(seed, r)``, so the same seed and state always give the same batch.
        out : BatchOutput, optional
            The batch file (and labeling configuration), checked before anything is computed
            and written *before* the round is recorded; removed again if recording fails.
        dry_run : bool
            Compute the batch (and write ``out``) without recording the round.
        phase : callable, optional
            Called with a short description at each phase (progress display).

        Returns
        -------
        dict
            The round record (what ``rounds/round-NNNN.json`` holds), plus ``number`` and
            ``file``.
        """
        if not isinstance(request, SelectRequest):
            request = SelectRequest(batch_size=request, **options)
        elif options:
            raise TypeError("give either a SelectRequest or keyword options, not both")
        return select_round(self, request, out=out, dry_run=dry_run, phase=phase)

    # ------------------------------------------------------------------ batches and export
    def image_refs(self, url_prefix: str | None = None) -> dict[str, str]:
        """``id → data.image`` for Label Studio tasks (see :func:`refine.project.batches.image_refs`)."""
        return batches.image_refs(self.meta, self.ids, url_prefix)

    def round_record(self, number: int | None = None) -> dict:
        """Round ``number`` (default: the latest)."""
        return batches.round_record(self.state, number)

    def batch_rows(
        self, record: Mapping[str, Any] | None = None, *, pending: bool = False
    ) -> list[dict]:
        """Rows describing a batch (default: the latest round), or every pending instance."""
        return batches.batch_rows(self.state, self.index, record, pending=pending)

    def write_batch(
        self,
        path: str | os.PathLike,
        rows: list[dict],
        *,
        url_prefix: str | None = None,
        labeling_config: str | os.PathLike | None = None,
        force: bool = False,
    ) -> Path:
        """Write batch rows as CSV (``.csv``) or Label Studio tasks (``.json``), atomically.

        The paths must lie outside the project and not exist (unless ``force``); see
        :mod:`refine.project.outputs`.
        """
        out = BatchOutput(
            Path(path),
            url_prefix=url_prefix,
            labeling_config=None if labeling_config is None else Path(labeling_config),
            force=force,
        ).checked(self.root)
        write_batch_files(self, rows, out)
        return Path(path)

    # ------------------------------------------------------------------ status
    def estimate_accuracy(self, **kwargs: Any) -> dict:
        """Cross-validated head accuracy (see :func:`refine.project.summary.estimate_accuracy`)."""
        return summary.estimate_accuracy(self, **kwargs)

    def status(self) -> dict:
        """Pool size, labels per class, pending instances and the rounds so far."""
        return summary.status(self)
