"""Selected batches as files: a CSV table with provenance, or Label Studio tasks.

``data.image`` of a task is what Label Studio's ``<Image value="$image"/>`` loads in the
annotator's browser, so it must be a URL the browser can fetch: pass ``--url-prefix`` (the id is
appended percent-encoded, ``/`` kept), e.g. Label Studio's local-files serving
``/data/local-files/?d=photos/`` or a static web server's ``https://host/photos/``. Without a
prefix an image project writes the absolute file path (fine for scripts, not for a browser; see
``docs/practitioner.md``) and an embedding project the id itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import refine.project.labelstudio as labelstudio
from refine.errors import ConfigError, DataError
from refine.project.api import nominators_text
from refine.project.store import ProjectMeta, ProjectState

#: Output suffixes of a batch file.
BATCH_SUFFIXES = (".csv", ".json")
CSV_COLUMNS = ["id", "round", "order", "strategy", "final", "nominated_by", "n_nominations"]


def check_url_prefix(url_prefix: str | None) -> str | None:
    """A ``--url-prefix`` must be non-empty text without whitespace or control characters."""
    if url_prefix is None:
        return None
    if not isinstance(url_prefix, str) or not url_prefix.strip():
        raise ConfigError("--url-prefix must be a non-empty URL prefix, e.g. /data/local-files/?d=")
    if any(c.isspace() or ord(c) < 32 for c in url_prefix):
        raise ConfigError(
            f"--url-prefix {url_prefix!r} contains whitespace or control characters; "
            "percent-encode them (a space is %20)"
        )
    return url_prefix


def image_refs(meta: ProjectMeta, ids: list[str], url_prefix: str | None = None) -> dict[str, str]:
    """``id → data.image``: ``url_prefix`` + the percent-encoded id, else a path or the id."""
    if url_prefix is not None:
        return {i: f"{url_prefix}{quote(i, safe='/')}" for i in ids}
    src = meta.source
    if src.get("kind") == "images":
        base = Path(src["images"])
        return {i: str(base / i) for i in ids}
    return {i: i for i in ids}


def round_record(state: ProjectState, number: int | None = None) -> dict:
    """Round ``number`` (default: the latest)."""
    rounds = state.rounds
    if not rounds:
        raise DataError("the project has no selection rounds yet; run `refine select` first")
    if number is None:
        return rounds[-1]
    if not 1 <= number <= len(rounds):
        raise DataError(f"--round {number} does not exist; rounds are 1..{len(rounds)}")
    return rounds[number - 1]


def batch_rows(
    state: ProjectState,
    index: Mapping[str, int],
    record: Mapping[str, Any] | None = None,
    *,
    pending: bool = False,
) -> list[dict]:
    """One row per instance of a round (or of every pending instance), with its provenance."""
    if pending:
        by_round = {r["number"]: r for r in state.rounds}
        wanted = state.pending
        if not wanted:
            raise DataError("no pending instances: every selected instance is labeled")
        recs = [(by_round[state.selected[i]], i) for i in wanted]
    else:
        record = record or round_record(state)
        recs = [(record, i) for i in record["selected"]]
    rows = []
    for rec, i in recs:
        prov = rec.get("provenance", {}).get(i, {})
        rows.append(
            {
                "id": i,
                "index": index[i],
                "round": rec["number"],
                "order": rec["selected"].index(i) + 1,
                "strategy": rec.get("used_strategy", rec.get("strategy")),
                "final": prov.get("final", ""),
                "nominated_by": nominators_text(prov),
                "n_nominations": sum(len(v) for v in (prov.get("rounds") or {}).values()),
                "labeled": state.labels.get(i, ""),
            }
        )
    return rows


def batch_bytes(
    suffix: str, rows: list[dict], refs: Mapping[str, str], *, with_image: bool
) -> bytes:
    """The file contents of a batch: ``.json`` Label Studio tasks or a ``.csv`` table."""
    if suffix == ".json":
        data = json.dumps(labelstudio.make_tasks(rows, dict(refs)), indent=2, ensure_ascii=False)
        return (data + "\n").encode()
    buf = io.StringIO()
    cols = CSV_COLUMNS + (["image"] if with_image else [])
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "image": refs[r["id"]]})
    return buf.getvalue().encode()
