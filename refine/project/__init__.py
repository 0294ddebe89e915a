"""The practitioner workflow: pick the next batch to annotate for a real, unlabeled collection.

- :func:`select_batch` — one call: features, the labels so far and a batch size in, the batch out
  (with per-instance provenance);
- :class:`Project` — a project folder holding the pool and its append-only history of label
  imports and selection rounds (``refine init / label / select / export / status``);
- :mod:`refine.project.labelstudio` — Label Studio tasks and exports (JSON, JSON-MIN; CSV via
  :mod:`refine.project.inputs`), tested against a real Label Studio server.

See ``docs/practitioner.md``.
"""

from refine.project.api import COLD_START_CHOICES, BatchSelection, SelectRequest, select_batch
from refine.project.create import ExtractOptions, PoolSource
from refine.project.project import Project, grown_trainer
from refine.project.selection import BatchOutput
from refine.project.store import (
    FORMAT_VERSION,
    ConcurrentModificationError,
    ProjectError,
)

__all__ = [
    "COLD_START_CHOICES",
    "BatchOutput",
    "ExtractOptions",
    "PoolSource",
    "SelectRequest",
    "FORMAT_VERSION",
    "BatchSelection",
    "ConcurrentModificationError",
    "Project",
    "ProjectError",
    "grown_trainer",
    "select_batch",
]
