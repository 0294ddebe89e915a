"""``python -m reproduce.compare``: raw results equal timing aside, and differences caught."""

from __future__ import annotations

import json

import pandas as pd

from reproduce.compare import compare_file, main


def _frame(selected, seconds, trace_seconds, extra=False):
    df = pd.DataFrame(
        {
            "strategy": ["refine", "refine"],
            "accuracy": [0.5, 0.75],
            "selected": selected,
            "selection_seconds": seconds,
            "training_seconds": seconds,
            "trace": [
                json.dumps({"pool_sizes": [3, 2], "seconds": {"random": trace_seconds}}),
                "",
            ],
        }
    )
    if extra:
        df["balanced_accuracy"] = [0.4, 0.7]
    return df


def _write(root, df):
    path = root / "paper_figures" / "fig2" / "results_cpu.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path)
    return path


def test_timings_and_added_columns_are_ignored(tmp_path):
    a = _write(tmp_path / "old", _frame(["[1, 2]", "[3]"], [0.1, 0.2], 1.5))
    b = _write(tmp_path / "new", _frame(["[1, 2]", "[3]"], [9.0, 8.0], 7.25, extra=True))
    assert compare_file(a, b) == ([], ["balanced_accuracy"])
    assert main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0


def test_a_changed_selection_or_trace_is_reported(tmp_path):
    a = _write(tmp_path / "old", _frame(["[1, 2]", "[3]"], [0.1, 0.2], 1.5))
    b = _write(tmp_path / "new", _frame(["[1, 4]", "[3]"], [0.1, 0.2], 1.5))
    assert compare_file(a, b)[0] == ["selected"]
    assert main([str(tmp_path / "old"), str(tmp_path / "new")]) == 1
    df = _frame(["[1, 2]", "[3]"], [0.1, 0.2], 1.5)
    df.loc[0, "trace"] = json.dumps({"pool_sizes": [3, 1], "seconds": {"random": 1.5}})
    c = _write(tmp_path / "other", df)
    assert compare_file(a, c)[0] == ["trace"]


def test_a_missing_file_fails(tmp_path):
    _write(tmp_path / "old", _frame(["[1]", "[3]"], [0.1, 0.2], 1.5))
    (tmp_path / "new").mkdir()
    assert main([str(tmp_path / "old"), str(tmp_path / "new")]) == 1
