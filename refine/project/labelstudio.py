"""Label Studio files (no server): tasks to import, and the annotations it exports.

Tasks written for import (Label Studio's JSON task format) are a list of
``{"id": ..., "data": {"image": ..., "refine_id": ..., ...}}``; ``data.image`` is what the
labeling configuration's ``<Image value="$image"/>`` displays, ``data.refine_id`` carries the
pool id through Label Studio unchanged (Label Studio keeps every ``data`` field in its exports and
assigns its own task ids on import).

Reading an export (Label Studio's JSON export: the same tasks with ``annotations``, each holding
``result`` regions; an image-classification answer is a region of ``"type": "choices"`` whose
``value.choices`` lists the chosen class) gives ``(id, class name)`` pairs:

- the pool id is ``data.refine_id``; tasks created elsewhere are matched by ``data.image``
  (the id itself, or a path / URL ending in the id);
- cancelled (skipped) annotations and tasks without annotations are ignored;
- several annotations of one task must agree, unless exactly one is marked ``ground_truth``;
- the JSON-MIN export (flat records with ``refine_id`` and the choices under the control's name)
  is read too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import quoteattr

from refine.errors import DataError
from refine.project.inputs import check_class_name

#: Name of the Choices control in the labeling configuration written by :func:`labeling_config`.
CHOICES_NAME = "label"


def make_tasks(
    rows: list[dict[str, Any]],
    image_ref: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Label Studio tasks for the given batch rows.

    Parameters
    ----------
    rows : list of dict
        One per instance with keys ``id`` (pool id), ``index`` (pool row), ``round``, ``order`` and
        ``nominated_by`` (a readable provenance string).
    image_ref : dict, optional
        ``id → value of data.image`` (URL or path the annotation tool can open). Without it, the
        id itself is used.

    Returns
    -------
    list of dict
        JSON-serialisable tasks.
    """
    tasks = []
    for r in rows:
        data = {
            "image": (image_ref or {}).get(r["id"], r["id"]),
            "refine_id": r["id"],
            "refine_round": r.get("round"),
            "refine_order": r.get("order"),
            "refine_nominated_by": r.get("nominated_by", ""),
        }
        tasks.append({"id": int(r["index"]) + 1, "data": data})
    return tasks


def labeling_config(classes: list[str]) -> str:
    """A Label Studio labeling configuration for single-choice image classification."""
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        '  <Image name="image" value="$image"/>\n'
        f'  <Choices name="{CHOICES_NAME}" toName="image" choice="single" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


class _IdResolver:
    """Map a task's ``data`` back to a pool id (``refine_id``, else the image reference)."""

    def __init__(self, ids: dict[str, int], image_ref: dict[str, str] | None):
        self.ids = ids
        self.by_ref = {v: k for k, v in (image_ref or {}).items()}

    def __call__(self, data: dict[str, Any]) -> str | None:
        rid = data.get("refine_id")
        if rid is not None:
            if isinstance(rid, bool) or not isinstance(rid, (str, int)):
                raise DataError(
                    f"refine_id must be a pool id (a string), got {type(rid).__name__} {rid!r}"
                )
            return str(rid)
        ref = data.get("image")
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self.by_ref:
            return self.by_ref[ref]
        text = unquote(ref)
        if "?d=" in text:  # Label Studio's local-files URLs: /data/local-files/?d=<path>
            text = text.split("?d=", 1)[1]
        if text in self.ids:
            return text
        parts = text.replace("\\", "/").split("/")
        for k in range(len(parts)):  # longest suffix first: the most specific match
            cand = "/".join(parts[k:])
            if cand in self.ids:
                return cand
        return ref  # reported as unknown by the caller


def _choices_list(value: Any, where: str) -> list[str]:
    """The chosen classes of one answer: a list of class names (None / blank entries dropped)."""
    if not isinstance(value, list):
        raise DataError(
            f"{where}: 'choices' must be a list of class names, got {type(value).__name__} "
            f"{value!r}"
        )
    out = []
    for c in value:
        name = check_class_name(c, where)
        if name is None:
            raise DataError(
                f"{where}: an empty choice {c!r}; a chosen class must be a non-empty class name"
            )
        out.append(name)
    return out


def _choice_of(results: Any, from_name: str | None, where: str) -> str | None:
    if not isinstance(results, list):
        raise DataError(f"{where}: an annotation's 'result' must be a list of regions")
    regions = [
        r
        for r in results
        if isinstance(r, dict)
        and r.get("type", "choices") == "choices"
        and isinstance(r.get("value"), dict)
        and "choices" in r["value"]
    ]
    if from_name is not None:
        regions = [r for r in regions if r.get("from_name") == from_name]
    names = sorted({str(r.get("from_name")) for r in regions})
    if len(names) > 1:
        raise DataError(
            f"{where} answers several choice controls ({', '.join(names)}); pass --from-name "
            "to say which one holds the class"
        )
    chosen = [c for r in regions for c in _choices_list(r["value"]["choices"], where)]
    if not chosen:
        return None
    if len(set(chosen)) > 1:
        raise DataError(
            f"{where} chose several classes {sorted(set(chosen))}; single-label classification "
            "needs exactly one"
        )
    return chosen[0]


def read_export(
    path: str | Path,
    ids: dict[str, int],
    image_ref: dict[str, str] | None = None,
    from_name: str | None = None,
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """``(id, class name)`` pairs from a Label Studio JSON (or JSON-MIN) export.

    Parameters
    ----------
    path : path
        The exported ``.json`` file.
    ids : dict
        The pool ids (``id → row``).
    image_ref : dict, optional
        ``id → data.image`` as written by the export, to match tasks without ``refine_id``.
    from_name : str, optional
        Name of the Choices control holding the class (needed only when a task answers several
        choice controls).

    Returns
    -------
    pairs : list of (str, str)
        In file order; unknown ids are *not* filtered here (the caller reports them).
    stats : dict
        ``tasks``, ``annotated``, ``skipped`` (no or only cancelled annotations).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotation file {path}: no such file")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"annotation file {path} is not UTF-8 text ({err})") from None
    if not raw.strip():
        raise DataError(f"annotation file {path} is empty")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataError(f"annotation file {path} is not valid JSON ({err})") from None
    except RecursionError:
        raise DataError(
            f"annotation file {path} is nested too deeply to be a Label Studio export"
        ) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise DataError(f"annotation file {path} must hold a list of Label Studio tasks")
    if not data:
        raise DataError(f"annotation file {path} holds no tasks")
    resolve = _IdResolver(ids, image_ref)
    pairs: list[tuple[str, str]] = []
    stats = {"tasks": len(data), "annotated": 0, "skipped": 0}
    for k, task in enumerate(data):
        where = f"annotation file {path.name}, task {_task_name(task, k)}"
        if "annotations" in task or "data" in task:
            data_field = task.get("data") or {}
            if not isinstance(data_field, dict):
                raise DataError(
                    f"{where}: 'data' must be an object with the task's fields (refine_id, "
                    f"image), got {type(data_field).__name__}"
                )
            try:
                pid = resolve(data_field)
            except DataError as err:
                raise DataError(f"{where}: {err}") from None
            label = _task_label(task, from_name, where)
        else:  # JSON-MIN: data fields and answers flattened into one record
            try:
                pid = resolve(task)
            except DataError as err:
                raise DataError(f"{where}: {err}") from None
            label = _min_label(task, from_name or CHOICES_NAME, where)
        if label is None:
            stats["skipped"] += 1
            continue
        if pid is None:
            raise DataError(
                f"{where} has no data.refine_id and no data.image to match it to the pool"
            )
        pairs.append((pid, label))
        stats["annotated"] += 1
    if not pairs:
        raise DataError(
            f"annotation file {path} has no completed annotations ({stats['skipped']} task(s) "
            "without a class)"
        )
    return pairs, stats


def _task_name(task: dict, k: int) -> str:
    """How a message names a task: its Label Studio id when it is a plain number, else its row."""
    tid = task.get("id")
    if isinstance(tid, int) and not isinstance(tid, bool):
        return str(tid)
    return f"#{k + 1}"


def _task_label(task: dict, from_name: str | None, where: str) -> str | None:
    anns = task.get("annotations") or []
    if not isinstance(anns, list):
        raise DataError(f"{where}: 'annotations' must be a list")
    anns = [a for a in anns if isinstance(a, dict)]
    anns = [a for a in anns if not a.get("was_cancelled")]
    found = []
    for a in anns:
        c = _choice_of(a.get("result") or [], from_name, where)
        if c is not None:
            found.append((c, bool(a.get("ground_truth"))))
    if not found:
        return None
    labels = {c for c, _ in found}
    if len(labels) == 1:
        return found[0][0]
    truth = {c for c, gt in found if gt}
    if len(truth) == 1:
        return truth.pop()
    raise DataError(
        f"{where}: annotators disagree ({sorted(labels)}); resolve the conflict in Label Studio "
        "(or mark one annotation as ground truth) and export again"
    )


def _min_label(rec: dict, key: str, where: str) -> str | None:
    if key not in rec:
        return None  # a task without an answer
    v = rec[key]
    if isinstance(v, dict):
        if "choices" not in v:
            raise DataError(f"{where}: {key!r} is an object without 'choices'")
        v = _choices_list(v["choices"], where)
    if isinstance(v, list):
        names = _choices_list(v, where)
        if not names:
            return None
        if len(set(names)) != 1:
            raise DataError(f"{where} chose several classes {sorted(set(names))}; expected one")
        return names[0]
    name = check_class_name(v, where)
    if name is None:
        raise DataError(f"{where}: {key!r} is {v!r}; a chosen class must be a non-empty class name")
    return name
