"""Reading what practitioners bring: embeddings, id lists, image folders, annotation CSVs.

Every reader validates completely before anything is written, and its errors name the offending
file and the offending rows / ids, so a command can refuse bad input without touching the project.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from refine.errors import DataError

#: File suffixes taken as images when a project is made from a folder (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _shown(items: list, limit: int = 10) -> str:
    text = ", ".join(repr(x) for x in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def list_images(folder: str | Path) -> list[str]:
    """Relative POSIX paths of the images under ``folder`` (recursive, sorted; hidden skipped).

    Parameters
    ----------
    folder : path
        Image folder. Sub-folders are searched; files and folders whose name starts with a dot
        are skipped.

    Returns
    -------
    list of str
        Paths relative to ``folder`` (these become the pool ids).
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"--images {folder}: no such folder")
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            out.append(rel.as_posix())
    if not out:
        raise DataError(
            f"--images {folder}: no image files found (looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    return sorted(out)


def read_embeddings(
    path: str | Path, feature_column: str | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Embeddings from ``.npy`` or ``.parquet``, and the ids stored with them (Parquet only).

    Parameters
    ----------
    path : path
        ``.npy``: a 2-D numeric array (no pickles). ``.parquet``: either one list/array column
        holding each row's vector (``feature_column``, or the only such column), or numeric
        columns, one per dimension. A string column named ``id`` is returned as the ids.
    feature_column : str, optional
        The Parquet column holding the vectors.

    Returns
    -------
    X : ndarray of shape (N, D), float32
        Validated: finite, 2-D, non-empty.
    ids : list of str or None
        The Parquet file's ``id`` column, if any.
    """
    from refine.data import validate_features

    path = Path(path)
    if not path.is_file():
        raise DataError(f"--features {path}: no such file")
    suffix = path.suffix.lower()
    ids = None
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"--features {path} is not a readable .npy array ({err})") from None
    elif suffix == ".parquet":
        arr, ids = _read_parquet(path, feature_column)
    else:
        raise DataError(
            f"--features {path}: unsupported file type {suffix!r}; use .npy or .parquet"
        )
    try:
        X = validate_features(arr, name=f"embeddings in {path.name}")
    except DataError as err:
        raise DataError(f"--features {path}: {err}") from None
    return X, ids


def _read_parquet(path: Path, feature_column: str | None) -> tuple[np.ndarray, list[str] | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # ArrowInvalid and friends
        raise DataError(f"--features {path} is not a readable Parquet file ({err})") from None
    ids = None
    if "id" in table.column_names:
        ids = [None if v is None else str(v) for v in table.column("id").to_pylist()]
        if any(v is None for v in ids):
            raise DataError(f"--features {path}: the id column has missing values")
        table = table.drop(["id"])
    list_cols = [
        f.name
        for f in table.schema
        if pa.types.is_list(f.type)
        or pa.types.is_large_list(f.type)
        or pa.types.is_fixed_size_list(f.type)
    ]
    if feature_column is not None:
        if feature_column not in table.column_names:
            raise DataError(
                f"--features {path} has no column {feature_column!r}; columns: "
                f"{', '.join(table.column_names)}"
            )
        list_cols = [feature_column]
    if list_cols:
        if len(list_cols) > 1:
            raise DataError(
                f"--features {path} has several vector columns ({', '.join(list_cols)}); "
                "choose one with --feature-column"
            )
        col = table.column(list_cols[0]).combine_chunks()
        if col.null_count:
            raise DataError(f"--features {path}: column {list_cols[0]!r} has missing rows")
        lengths = np.asarray(col.value_lengths()) if hasattr(col, "value_lengths") else None
        if lengths is None:  # fixed-size list
            dim = col.type.list_size
        else:
            if lengths.size and (lengths != lengths[0]).any():
                bad = np.flatnonzero(lengths != lengths[0])[:5].tolist()
                raise DataError(
                    f"--features {path}: vectors of column {list_cols[0]!r} differ in length "
                    f"(row 0 has {lengths[0]}, rows {bad} differ)"
                )
            dim = int(lengths[0]) if lengths.size else 0
        flat = col.flatten().to_numpy(zero_copy_only=False)
        arr = np.asarray(flat, dtype=np.float64 if flat.dtype.kind != "f" else flat.dtype)
        return arr.reshape(len(col), dim), ids
    numeric = [
        f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    ]
    other = [n for n in table.column_names if n not in numeric]
    if not numeric or other:
        raise DataError(
            f"--features {path}: expected one vector column or only numeric columns (plus 'id'); "
            f"non-numeric columns: {', '.join(other) or 'none'}"
        )
    cols = [table.column(n).to_numpy(zero_copy_only=False) for n in numeric]
    return np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=1), ids


def read_ids(path: str | Path) -> list[str]:
    """Pool ids from a file, in row order.

    ``.csv``: a header row and a column named ``id`` (other columns are ignored).
    ``.txt``: one id per line, no header. ``.json``: a list of strings.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--ids {path}: no such file")
    suffix = path.suffix.lower()
    text = _read_text(path, "--ids")
    if suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise DataError(f"--ids {path} is empty")
        header = [h.strip() for h in rows[0]]
        if "id" not in header:
            raise DataError(
                f"--ids {path} needs a header row with a column named 'id'; found columns {header}"
            )
        k = header.index("id")
        ids = []
        for lineno, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if k >= len(row):
                raise DataError(f"--ids {path}, line {lineno}: no value in column 'id'")
            ids.append(row[k].strip())
        return ids
    if suffix == ".txt":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if suffix == ".json":
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"--ids {path} is not valid JSON ({err})") from None
        if not isinstance(data, list):
            raise DataError(f"--ids {path} must hold a JSON list of ids")
        return [str(x) for x in data]
    raise DataError(f"--ids {path}: unsupported file type {suffix!r}; use .csv, .txt or .json")


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{what} {path} is not UTF-8 text ({err})") from None


def read_annotation_csv(path: str | Path) -> list[tuple[str, str]]:
    """``(id, label)`` pairs from a CSV with a header row ``id,label`` (extra columns ignored).

    Rows are returned in file order, whitespace around values stripped, blank lines skipped.
    Validation of the ids against the pool and of conflicting labels happens in
    :func:`check_annotations`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotation file {path}: no such file")
    text = _read_text(path, "annotation file")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"annotation file {path} is empty; expected a header 'id,label' and rows")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("id", "label") if c not in header]
    if missing:
        raise DataError(
            f"annotation file {path} needs columns 'id' and 'label' in its header row; "
            f"missing {missing}, found {rows[0]}"
        )
    ki, kl = header.index("id"), header.index("label")
    pairs = []
    bad_rows = []
    for lineno, row in enumerate(rows[1:], start=2):
        i = row[ki].strip() if ki < len(row) else ""
        lab = row[kl].strip() if kl < len(row) else ""
        if not i or not lab:
            bad_rows.append(lineno)
            continue
        pairs.append((i, lab))
    if bad_rows:
        raise DataError(
            f"annotation file {path}: rows without an id or a label (lines {bad_rows[:10]})"
        )
    if not pairs:
        raise DataError(f"annotation file {path} has a header but no annotations")
    return pairs


def check_annotations(
    pairs: list[tuple[str, str]], pool_ids: set[str] | dict[str, int], source: str
) -> list[tuple[str, str]]:
    """Validate ``(id, label)`` pairs against the pool; drop exact duplicates.

    Raises
    ------
    DataError
        Ids not in the pool (all of them are named, up to ten), or one id with different labels
        in the same file.
    """
    unknown = sorted({i for i, _ in pairs if i not in pool_ids})
    if unknown:
        raise DataError(
            f"{source}: {len(unknown)} id(s) are not in the project's pool: {_shown(unknown)}"
        )
    seen: dict[str, str] = {}
    conflicts: dict[str, set[str]] = {}
    out = []
    for i, lab in pairs:
        if i in seen:
            if seen[i] != lab:
                conflicts.setdefault(i, {seen[i]}).add(lab)
            continue
        seen[i] = lab
        out.append((i, lab))
    if conflicts:
        first = sorted(conflicts)[:10]
        detail = "; ".join(f"{i!r}: {sorted(conflicts[i])}" for i in first)
        more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        raise DataError(
            f"{source}: conflicting labels for {len(conflicts)} id(s) — {detail}{more}; "
            "keep one label per id"
        )
    return out
