"""Reading what practitioners bring: embeddings, id lists, image folders, annotation CSVs.

Every reader validates completely before anything is written, and its errors name the offending
file and the offending rows / ids, so a command can refuse bad input without touching the project.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import numpy as np

from refine.errors import DataError

#: numpy dtype kinds accepted as embedding values: float, signed and unsigned integer (not bool,
#: complex, timedelta, datetime, strings or objects).
NUMERIC_KINDS = "fiu"

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
        except (ValueError, OSError, EOFError) as err:
            raise DataError(f"--features {path} is not a readable .npy array ({err})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in NUMERIC_KINDS:
            kind = getattr(arr, "dtype", type(arr).__name__)
            raise DataError(
                f"--features {path} holds {kind} values; embeddings must be real numbers "
                "(float or integer arrays)"
            )
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
    if table.column_names.count("id") > 1:
        raise DataError(
            f"--features {path} has {table.column_names.count('id')} columns named 'id'"
        )
    if "id" in table.column_names:
        id_type = table.schema.field("id").type
        if not (
            pa.types.is_string(id_type)
            or pa.types.is_large_string(id_type)
            or pa.types.is_integer(id_type)
        ):
            raise DataError(
                f"--features {path}: the id column holds {id_type}; ids must be strings or integers"
            )
        raw_ids = table.column("id").to_pylist()
        missing = [k for k, v in enumerate(raw_ids) if v is None]
        if missing:
            raise DataError(
                f"--features {path}: the id column has missing values (rows {missing[:10]})"
            )
        ids = [str(v) for v in raw_ids]
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
        value_type = col.type.value_type
        if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
            raise DataError(
                f"--features {path}: column {list_cols[0]!r} holds lists of {value_type}; "
                "embedding vectors must be lists of numbers (float or integer)"
            )
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
        flat = col.flatten()
        if flat.null_count:
            raise DataError(f"--features {path}: column {list_cols[0]!r} has missing values")
        flat = flat.to_numpy(zero_copy_only=False)
        arr = np.asarray(flat, dtype=np.float64 if flat.dtype.kind != "f" else flat.dtype)
        return arr.reshape(len(col), dim), ids
    numeric = [
        f.name
        for f in table.schema
        if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
        and not pa.types.is_boolean(f.type)
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
        if header.count("id") > 1:
            raise DataError(f"--ids {path} has {header.count('id')} columns named 'id'")
        k = header.index("id")
        body = rows[1:]
        while body and (not body[-1] or all(not c.strip() for c in body[-1])):
            body.pop()  # trailing blank lines
        ids = []
        for lineno, row in enumerate(body, start=2):
            value = row[k].strip() if k < len(row) else ""
            if not value:
                raise DataError(
                    f"--ids {path}, line {lineno}: empty id; every embedding row needs an id"
                )
            ids.append(value)
        return ids
    if suffix == ".txt":
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()  # trailing blank lines
        empty = [k + 1 for k, line in enumerate(lines) if not line.strip()]
        if empty:
            raise DataError(
                f"--ids {path}: empty id on line(s) {empty[:10]}; every embedding row needs an id"
            )
        return [line.strip() for line in lines]
    if suffix == ".json":
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"--ids {path} is not valid JSON ({err})") from None
        if not isinstance(data, list):
            raise DataError(f"--ids {path} must hold a JSON list of ids")
        bad = [
            k for k, x in enumerate(data) if isinstance(x, bool) or not isinstance(x, (str, int))
        ]
        if bad:
            raise DataError(
                f"--ids {path}: ids must be strings or integers; entries {bad[:10]} are "
                f"{', '.join(sorted({type(data[k]).__name__ for k in bad}))}"
            )
        return [str(x) for x in data]
    raise DataError(f"--ids {path}: unsupported file type {suffix!r}; use .csv, .txt or .json")


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{what} {path} is not UTF-8 text ({err})") from None


def check_class_name(value: object, where: str) -> str | None:
    """A class name from an annotation, or None when the annotation holds no class.

    Empty and whitespace-only strings and ``None`` mean "no class" (the task was not answered);
    anything that is not a string (a number, ``true``, a list, an object) and strings with
    control characters (NUL, line breaks, ...) are refused: they cannot be a class name that
    round-trips through CSV, JSON and a Label Studio labeling configuration (XML).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(
            f"{where}: the class must be a string, got {type(value).__name__} {value!r}"
        )
    text = value.strip()
    if not text:
        return None
    bad = sorted(
        {c for c in text if unicodedata.category(c) in ("Cc", "Cs") or c in "\u2028\u2029"}
    )
    if bad:
        raise DataError(
            f"{where}: class {text!r} contains control characters ({', '.join(map(repr, bad))}); "
            "class names must be printable text"
        )
    return text


def read_annotation_csv(
    path: str | Path, label_column: str | None = None
) -> tuple[list[tuple[str, str]], dict]:
    """``(id, label)`` pairs from a CSV with a header row (extra columns ignored).

    The pool id is the ``refine_id`` column when there is one (a Label Studio CSV export: its
    ``id`` column is Label Studio's own task number, not a pool id), else the ``id`` column. The
    class is the ``label`` column, or ``label_column`` (Label Studio names it after the Choices
    control). Rows are returned in file order, whitespace around values stripped, blank lines
    skipped; rows without a class (tasks not annotated) are counted as skipped. Validation of the
    ids against the pool and of conflicting labels happens in :func:`check_annotations`.

    Returns
    -------
    pairs : list of (str, str)
    info : dict
        ``id_column`` (the column read as the pool id) and ``skipped`` (rows without a class).
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"annotation file {path} is a folder; give the exported file")
    if not path.is_file():
        raise DataError(f"annotation file {path}: no such file")
    text = _read_text(path, "annotation file")
    if "\x00" in text:
        raise DataError(f"annotation file {path} contains NUL bytes; it is not a text CSV")
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as err:
        raise DataError(f"annotation file {path} is not valid CSV ({err})") from None
    if not rows:
        raise DataError(f"annotation file {path} is empty; expected a header 'id,label' and rows")
    header = [h.strip().lower() for h in rows[0]]
    dups = sorted({h for h in header if header.count(h) > 1 and h})
    if dups:
        raise DataError(
            f"annotation file {path} has several columns named {', '.join(map(repr, dups))}; "
            "each column name must appear once"
        )
    id_col = "refine_id" if "refine_id" in header else "id"
    lab_col = (label_column or "label").lower()
    missing = [c for c in (id_col, lab_col) if c not in header]
    if missing:
        raise DataError(
            f"annotation file {path} needs columns {id_col!r} and {lab_col!r} in its header row "
            f"(or 'refine_id' from a Label Studio export); missing {missing}, found {rows[0]}"
        )
    ki, kl = header.index(id_col), header.index(lab_col)
    pairs = []
    no_id = []
    skipped = 0
    for lineno, row in enumerate(rows[1:], start=2):
        i = row[ki].strip() if ki < len(row) else ""
        raw = row[kl] if kl < len(row) else ""
        lab = check_class_name(raw, f"annotation file {path.name}, line {lineno}")
        if not i:
            no_id.append(lineno)
            continue
        if lab is None:
            skipped += 1
            continue
        if lab.startswith("{") and "choices" in lab:  # Label Studio: several choices, as JSON
            raise DataError(
                f"annotation file {path.name}, line {lineno}: several classes chosen ({lab}); "
                "single-label classification needs exactly one"
            )
        pairs.append((i, lab))
    if no_id:
        raise DataError(
            f"annotation file {path}: rows without a value in column {id_col!r} "
            f"(lines {no_id[:10]})"
        )
    if not pairs:
        raise DataError(
            f"annotation file {path} has a header but no annotations"
            + (f" ({skipped} row(s) without a class)" if skipped else "")
        )
    return pairs, {"id_column": id_col, "skipped": skipped}


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
