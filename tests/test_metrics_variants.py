"""Balanced accuracy, the ``metric=`` switch and the evaluate_2 win-rate variant."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import balanced_accuracy_score

from refine.errors import ConfigError, DataError
from refine.metrics import (
    aulc_table,
    balanced_accuracy,
    learning_curves,
    share_beaten,
    summary_table,
    win_rate_matrix,
)


# --------------------------------------------------------------------------- balanced accuracy
def test_balanced_accuracy_by_hand():
    # class 0: 3 of 4 right (0.75); class 1: 1 of 2 right (0.5) → (0.75 + 0.5)/2 = 0.625
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 0]
    assert balanced_accuracy(y_true, y_pred, 2) == pytest.approx(0.625)
    # plain accuracy would be 4/6; a majority-class predictor gets 1/2 balanced
    assert balanced_accuracy(y_true, [0] * 6, 2) == pytest.approx(0.5)


def test_balanced_accuracy_leaves_out_classes_absent_from_y_true():
    # K = 4, class 3 never true: mean over classes 0, 1, 2 only. Predictions of class 3 count as
    # errors of the true class: class 0: 1/2, class 1: 1/1, class 2: 0/1 → 0.5
    y_true = [0, 0, 1, 2]
    y_pred = [0, 3, 1, 3]
    assert balanced_accuracy(y_true, y_pred, 4) == pytest.approx(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns "y_pred contains classes not in y_true"
        assert balanced_accuracy_score(y_true, y_pred) == pytest.approx(0.5)


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(2, 6),
    pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40),
)
def test_balanced_accuracy_equals_sklearn(k, pairs):
    y_true = np.array([t % k for t, _ in pairs])
    y_pred = np.array([p % k for _, p in pairs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = balanced_accuracy_score(y_true, y_pred)
    assert balanced_accuracy(y_true, y_pred, k) == pytest.approx(ref)


def test_balanced_accuracy_rejects_bad_labels():
    with pytest.raises(DataError, match="y_pred"):
        balanced_accuracy([0, 1], [0, 2], 2)
    with pytest.raises(DataError, match="length"):
        balanced_accuracy([0, 1], [0], 2)
    with pytest.raises(ConfigError, match="n_classes"):
        balanced_accuracy([0], [0], 0)


# --------------------------------------------------------------------------- metric=
def _results(with_balanced=True):
    rows = []
    for st_name, accs, bals in (("a", [0.5, 0.7], [0.4, 0.6]), ("b", [0.6, 0.6], [0.5, 0.7])):
        for c, (acc, bal) in enumerate(zip(accs, bals, strict=True)):
            row = dict(
                dataset="d",
                backbone="raw",
                strategy=st_name,
                seed=1,
                cycle=c,
                n_labeled=10 * (c + 1),
                accuracy=acc,
            )
            if with_balanced:
                row["balanced_accuracy"] = bal
            rows.append(row)
    return pd.DataFrame(rows)


def test_metric_switch_uses_the_balanced_accuracy_column():
    df = _results()
    a = aulc_table(df, metric="balanced_accuracy").set_index("strategy")["aulc"]
    assert a.to_dict() == pytest.approx({"a": 0.5, "b": 0.6})
    acc = aulc_table(df).set_index("strategy")["aulc"]
    assert acc.to_dict() == pytest.approx({"a": 0.6, "b": 0.6})
    s = summary_table(df, baseline="b", metric="balanced_accuracy").set_index("strategy")
    assert s.loc["a", "gain_pct"] == pytest.approx((0.5 - 0.6) / 0.6 * 100)
    c = learning_curves(df, metric="balanced_accuracy").set_index(["strategy", "cycle"])
    assert c.loc[("b", 1), "accuracy_mean"] == pytest.approx(0.7)
    # by accuracy a and b tie (no win); by balanced accuracy b wins
    assert win_rate_matrix(df).loc["b", "a"] == 0.0
    assert win_rate_matrix(df, metric="balanced_accuracy").loc["b", "a"] == 1.0


def test_missing_balanced_accuracy_column_is_a_clear_error():
    df = _results(with_balanced=False)
    with pytest.raises(DataError, match="no 'balanced_accuracy' column"):
        aulc_table(df, metric="balanced_accuracy")
    with pytest.raises(ConfigError, match="metric"):
        aulc_table(df, metric="f1")


# --------------------------------------------------------------------------- evaluate_2
def test_evaluate_2_win_rate_by_hand():
    # one setting, two seeds, cycles 0..2 (3 points). a > b at (seed 1, cycle 1), (seed 1, cycle
    # 2), (seed 2, cycle 2); cycle 0 is never counted → 3 / (3 points · 2 seeds) = 0.5; b > a at
    # (seed 2, cycle 1) → 1/6.
    rows = []
    curves = {
        ("a", 1): [0.9, 0.8, 0.8],
        ("b", 1): [0.1, 0.7, 0.7],
        ("a", 2): [0.9, 0.5, 0.9],
        ("b", 2): [0.1, 0.6, 0.8],
    }
    for (s, seed), accs in curves.items():
        for c, a in enumerate(accs):
            rows.append(
                dict(
                    dataset="d",
                    backbone="raw",
                    strategy=s,
                    seed=seed,
                    cycle=c,
                    n_labeled=c,
                    accuracy=a,
                )
            )
    df = pd.DataFrame(rows)
    w = win_rate_matrix(df, variant="evaluate_2")
    assert w.loc["a", "b"] == pytest.approx(3 / 6)
    assert w.loc["b", "a"] == pytest.approx(1 / 6)
    # the paper's variant on AULC: seed 1 a 0.833 > b 0.5; seed 2 a 0.767 > b 0.5 → 1.0
    assert win_rate_matrix(df).loc["a", "b"] == 1.0
    with pytest.raises(ConfigError, match="variant"):
        win_rate_matrix(df, variant="evaluate_3")
    with pytest.raises(ConfigError, match="per-cycle"):
        win_rate_matrix(aulc_table(df), variant="evaluate_2")


def test_evaluate_2_never_reaches_one_with_21_points():
    rows = [
        dict(dataset="d", backbone="raw", strategy=s, seed=1, cycle=c, n_labeled=c, accuracy=a)
        for c in range(21)
        for s, a in (("a", 0.9), ("b", 0.1))
    ]
    w = win_rate_matrix(pd.DataFrame(rows), variant="evaluate_2")
    assert w.loc["a", "b"] == pytest.approx(20 / 21)


def test_share_beaten_by_hand():
    w = pd.DataFrame(
        [[np.nan, 0.6, 0.5], [0.4, np.nan, 0.9], [0.5, 0.1, np.nan]],
        index=list("abc"),
        columns=list("abc"),
    )
    # a beats b (0.6) but not c (0.5 is not more than half); b beats c; c beats nobody
    assert share_beaten(w).to_dict() == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
