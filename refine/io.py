"""Atomic file writes and the results table format.

Every file the package writes goes through a temporary file in the target folder followed by
:func:`os.replace`, which is atomic on POSIX and Windows: a reader (or a resumed run) sees either
the old complete file or the new complete file, never a partial one, even after SIGKILL.

A trial's results are one Parquet file: the tidy per-cycle rows, plus JSON key-value metadata in
the Parquet footer (the trial spec, the strategy state after the last completed cycle, and whether
the trial is complete). Rows and state therefore always agree: they are written in one atomic step.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_PREFIX = "refine."


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path`` is
    left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_parquet_atomic(
    path: str | os.PathLike, df: pd.DataFrame, metadata: dict[str, Any]
) -> None:
    """Write ``df`` to ``path`` atomically with JSON ``metadata`` in the Parquet footer."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    existing = table.schema.metadata or {}
    extra = {
        f"{META_PREFIX}{k}".encode(): json.dumps(v, sort_keys=True, default=_json_default).encode()
        for k, v in metadata.items()
    }
    table = table.replace_schema_metadata({**existing, **extra})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet_with_metadata(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a file written by :func:`write_parquet_atomic`: the rows and the metadata dict."""
    table = pq.read_table(path)
    raw = table.schema.metadata or {}
    meta = {
        k.decode()[len(META_PREFIX) :]: json.loads(v.decode())
        for k, v in raw.items()
        if k.decode().startswith(META_PREFIX)
    }
    return table.to_pandas(), meta


def canonical_json(obj: Any) -> str:
    """Deterministic compact JSON for digests and keys: sorted keys, no whitespace, no NaN.

    Non-ASCII text stays as it is (encode the result as UTF-8), so a digest of ASCII-only data
    is the same as with ``ensure_ascii=True``.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
