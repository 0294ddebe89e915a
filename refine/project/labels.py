"""``refine label``: read an annotation file and work out what it changes.

Formats: a CSV with ``id,label`` columns (or a Label Studio CSV export, whose pool id is the
``refine_id`` column and whose own ``id`` column is Label Studio's task number), or a Label Studio
JSON / JSON-MIN export (:mod:`refine.project.labelstudio`). The result is validated against the
pool before anything is written: ids must be pool ids, one id gets one label, labels must be
usable class names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import refine.project.inputs as inputs
import refine.project.labelstudio as labelstudio
from refine.errors import ConfigError, DataError

#: ``--format`` values.
FORMATS = ("auto", "csv", "label-studio")


def read_annotations(
    path: Path,
    fmt: str,
    *,
    index: dict[str, int],
    image_refs: dict[str, str],
    from_name: str | None,
) -> tuple[list[tuple[str, str]], dict]:
    """``(id, class name)`` pairs and file facts (format, Label Studio task counts)."""
    if not isinstance(fmt, str):
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fmt = fmt.lower()
    if path.is_dir():
        raise DataError(f"annotation file {path} is a folder; give the exported file")
    if fmt == "auto":
        fmt = "label-studio" if path.suffix.lower() == ".json" else "csv"
    if fmt == "csv":
        pairs, info = inputs.read_annotation_csv(path, label_column=from_name)
        return pairs, {"format": "csv", **info}
    if fmt in ("label-studio", "labelstudio", "ls"):
        pairs, stats = labelstudio.read_export(path, index, image_refs, from_name)
        return pairs, {"format": "label-studio", **stats}
    raise ConfigError(f"unknown --format {fmt!r}; allowed values: {', '.join(FORMATS)}")


@dataclass
class LabelDiff:
    """What an annotation file changes relative to the labels in force.

    Attributes
    ----------
    new : list of (str, str)
        Ids labeled for the first time.
    changed : dict
        ``id → [old, new]`` for ids whose class changes.
    unchanged : int
        Ids whose label is already in force.
    """

    new: list[tuple[str, str]] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def entries(self) -> list[tuple[str, str]]:
        """What the label event records: the new labels, then the changed ones."""
        return self.new + [(i, c[1]) for i, c in self.changed.items()]


def diff_labels(
    pairs: list[tuple[str, str]], current: dict[str, str], *, relabel: bool, path: Path
) -> LabelDiff:
    """Sort ``pairs`` into new, changed and unchanged; changes need ``relabel``."""
    out = LabelDiff()
    for i, lab in pairs:
        old = current.get(i)
        if old is None:
            out.new.append((i, lab))
        elif old == lab:
            out.unchanged += 1
        else:
            out.changed[i] = [old, lab]
    if out.changed and not relabel:
        first = sorted(out.changed)[:10]
        detail = "; ".join(
            f"{i!r} is {out.changed[i][0]!r}, file says {out.changed[i][1]!r}" for i in first
        )
        more = f" and {len(out.changed) - 10} more" if len(out.changed) > 10 else ""
        raise DataError(
            f"annotation file {path} changes the label of {len(out.changed)} already labeled "
            f"id(s): {detail}{more}. Pass --relabel to replace them (the history keeps the "
            "old labels)"
        )
    return out
