"""``refine select``: compute the next batch, write the batch file, then record the round.

Order matters for the practitioner: the batch file is written *before* the round is recorded,
and removed again if recording fails, so no failure (a folder given as ``--out``, a full disk, a
concurrent command, a kill between the two writes) leaves a recorded, pending round whose batch
the user never saw. Every option and the output path are validated before the head is trained.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import refine.project.batches as batches
import refine.project.labelstudio as labelstudio
from refine.errors import DataError
from refine.head import HeadConfig
from refine.parallel import with_jobs
from refine.project.api import SelectRequest, run_selection
from refine.project.outputs import check_output, write_output
from refine.project.store import (
    ensure_unchanged,
    json_bytes,
    project_lock,
    state_digest,
    write_event,
)
from refine.seeding import child_seed

Phase = Callable[[str], None]


@dataclass(frozen=True)
class BatchOutput:
    """Where a batch goes: a file and, for Label Studio, how images are referenced.

    Attributes
    ----------
    path : Path
        ``.csv`` (ids with provenance) or ``.json`` (Label Studio tasks). Must lie outside the
        project folder.
    url_prefix : str or None
        ``data.image`` = prefix + percent-encoded id.
    labeling_config : Path or None
        Also write a Label Studio labeling configuration (XML) listing the known classes.
    force : bool
        Replace existing files.
    """

    path: Path
    url_prefix: str | None = None
    labeling_config: Path | None = None
    force: bool = False

    def checked(self, project_root: Path) -> BatchOutput:
        """Validate both paths against the project and the file system (writes nothing)."""
        check_output(
            self.path,
            "--out",
            project_root=project_root,
            force=self.force,
            suffixes=batches.BATCH_SUFFIXES,
        )
        batches.check_url_prefix(self.url_prefix)
        if self.labeling_config is not None:
            check_output(
                self.labeling_config,
                "--labeling-config",
                project_root=project_root,
                force=self.force,
            )
            if Path(self.labeling_config).resolve() == Path(self.path).resolve():
                raise DataError("--labeling-config and --out name the same file")
        return self


def write_batch_files(project: Any, rows: list[dict], out: BatchOutput) -> list[Path]:
    """Write the batch (and the labeling configuration); returns the files written."""
    path = Path(out.path)
    refs = batches.image_refs(project.meta, project.ids, out.url_prefix)
    with_image = project.meta.source.get("kind") == "images" or out.url_prefix is not None
    written = [
        write_output(
            path, batches.batch_bytes(path.suffix.lower(), rows, refs, with_image=with_image)
        )
    ]
    if out.labeling_config is not None:
        xml = labelstudio.labeling_config(project.state.classes).encode()
        written.append(write_output(out.labeling_config, xml))
    return written


def select_round(
    project: Any,
    request: SelectRequest,
    *,
    out: BatchOutput | None = None,
    dry_run: bool = False,
    phase: Phase | None = None,
) -> dict:
    """The body of :meth:`refine.project.Project.select` (see there)."""
    phase = phase or (lambda _text: None)
    request = request.with_defaults(project.meta.seed, project.meta.cold_start).validated()
    if out is not None:
        out = out.checked(project.root)
    state = project.state
    number = len(state.rounds) + 1
    n_pool = project.meta.n
    pending = [] if request.include_pending else state.pending
    n_free = n_pool - len(state.labels) - len(pending)
    if n_free <= 0:
        raise DataError(
            "no instances left to select: all are labeled"
            + ("" if request.include_pending else " or pending (selected, not yet labeled)")
        )
    if request.batch_size > n_free:
        raise DataError(
            f"--batch-size {request.batch_size} is larger than the {n_free} instances available "
            f"for selection ({n_pool} in the pool, {len(state.labels)} labeled"
            + ("" if request.include_pending else f", {len(pending)} pending")
            + f"); choose a batch size between 1 and {n_free}"
        )
    phase("loading features")
    X = project.features
    rows, y = project.labeled_arrays()
    exclude = np.asarray([project.index[i] for i in pending], dtype=np.int64)
    trainer = project.trainer(HeadConfig(epochs=request.head_epochs), request.device)
    digest = state_digest(project.meta, state)
    phase(f"selecting {request.batch_size} with {request.strategy}")
    result = run_selection(
        X,
        rows,
        y,
        trainer,
        request,
        exclude=exclude,
        seed=child_seed(int(request.seed), "project-round", number),  # type: ignore[arg-type]
        cycle=number - 1,
    )
    ids = project.ids
    selected = [ids[int(i)] for i in result.indices]
    record = {
        "seed": int(request.seed),  # type: ignore[arg-type]
        "strategy": request.strategy,
        # what ran: the profile's values with the explicit parameters over them
        "strategy_params": request.resolved_params(),
        "explicit_params": dict(request.strategy_params),
        "profile": request.profile,
        "used_strategy": result.strategy,
        "cold_start": result.cold_start,
        "cold_start_strategy": request.cold_start,
        "batch_size": request.batch_size,
        "n_pool": n_pool,
        "n_labeled": int(rows.size),
        "n_classes": len(state.classes),
        "classes": list(state.classes),
        "n_pending_excluded": int(exclude.size),
        "head_epochs": request.head_epochs,
        "device": request.device,
        "jobs": with_jobs(request.strategy, request.resolved_params(), request.jobs).get("n_jobs"),
        "state_version": state.version,
        "state_digest": digest,
        "selected": selected,
        "indices": [int(i) for i in result.indices],
        "provenance": {sid: p for sid, p in zip(selected, result.provenance, strict=True)},
        "trace": result.trace,
        "seconds": round(result.seconds, 3),
    }
    record = json.loads(json_bytes(record))  # what the file holds, JSON types only
    record["number"] = number
    written: list[Path] = []
    existed: dict[Path, bool] = {}
    if out is not None:
        phase("writing the batch")
        existed = {
            Path(p): Path(p).exists() for p in (out.path, out.labeling_config) if p is not None
        }
        written = write_batch_files(project, batches.batch_rows(state, project.index, record), out)
    if dry_run:
        record.update(file=None)
        return record
    phase("recording the round")
    try:
        with project_lock(project.root):
            ensure_unchanged(project.root, state.version)
            path = write_event(project.root, "round", number, state.version + 1, record)
    except BaseException:
        # the round is not recorded: a batch file of it would be a batch nobody selected
        for p in written:
            if not existed.get(Path(p), False):
                with contextlib.suppress(OSError):
                    p.unlink()
        raise
    project.refresh()
    record.update(file=str(path))
    return record
