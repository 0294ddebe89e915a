"""Compare two reproductions' raw results, timing aside: ``python -m reproduce.compare OLD NEW``.

OLD and NEW are checkouts (or folders) holding ``paper_figures/**/*.parquet`` from
``python -m reproduce all``. Every raw-results file of OLD is read beside NEW's file of the same
path; the columns both have are compared value by value, except the timing columns
(``selection_seconds``, ``training_seconds``) and the ``seconds`` entries inside the traces.
Columns only one side has (e.g. a metric added later) are listed, not compared. This is how a
refactoring is shown not to change results: the selections, accuracies and traces of every
trial must be equal. Exit status 1 when any file differs or is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from refine.loop import TIMING_COLUMNS

#: Timing entries inside a trace (Refine's per-strategy ``seconds``) and the columns themselves.
TIMING_KEYS = ("seconds", *TIMING_COLUMNS)


def _strip_timings(value):
    if isinstance(value, dict):
        return {k: _strip_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip_timings(v) for v in value]
    return value


def _trace_key(text: str | None) -> str | None:
    if not text:
        return text
    return json.dumps(_strip_timings(json.loads(text)), sort_keys=True)


def compare_file(old: Path, new: Path) -> tuple[list[str], list[str]]:
    """(columns that differ, columns only one side has) of two raw-results files."""
    a = pd.read_parquet(old).reset_index(drop=True)
    b = pd.read_parquet(new).reset_index(drop=True)
    one_sided = sorted((set(a.columns) ^ set(b.columns)) - set(TIMING_COLUMNS))
    if len(a) != len(b):
        return ["<row count>"], one_sided
    differ = []
    for col in a.columns:
        if col in TIMING_COLUMNS or col not in b.columns:
            continue
        x, y = a[col], b[col]
        if col == "trace":
            x, y = x.map(_trace_key), y.map(_trace_key)
        if not x.astype(str).equals(y.astype(str)):
            differ.append(col)
    return differ, one_sided


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    files = sorted((args.old / "paper_figures").glob("**/*.parquet"))
    if not files:
        print(f"no paper_figures/**/*.parquet under {args.old}", file=sys.stderr)
        return 1
    ok = True
    for f in files:
        rel = f.relative_to(args.old)
        other = args.new / rel
        if not other.exists():
            print(f"MISSING {rel}")
            ok = False
            continue
        differ, one_sided = compare_file(f, other)
        ok &= not differ
        extra = f" (only one side: {', '.join(one_sided)})" if one_sided else ""
        rows = len(pd.read_parquet(f, columns=[]))
        print(f"{'DIFF ' + ','.join(differ) if differ else 'same'}  {rel}  {rows} rows{extra}")
    print("all raw results equal, timing aside" if ok else "some raw results differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
