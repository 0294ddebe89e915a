"""Metrics on small examples worked out by hand (docs/protocol.md §4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from refine.metrics import (
    aulc,
    aulc_table,
    relative_gain,
    relative_learning_curves,
    summary_table,
    win_rate_matrix,
)


def results_from(curves: dict) -> pd.DataFrame:
    """{(dataset, backbone, strategy, seed): [acc_0, acc_1, ...]} → tidy results table."""
    rows = []
    for (ds, bb, st, seed), accs in curves.items():
        for c, a in enumerate(accs):
            rows.append(
                dict(
                    dataset=ds,
                    backbone=bb,
                    strategy=st,
                    seed=seed,
                    cycle=c,
                    n_labeled=10 * (c + 1),
                    accuracy=a,
                )
            )
    return pd.DataFrame(rows)


def test_aulc_is_mean_including_cycle_zero():
    assert aulc([0.5, 0.7, 0.9]) == pytest.approx(0.7)
    assert aulc([0.25]) == 0.25


def test_relative_gain_by_hand():
    # (0.84 - 0.80) / 0.80 * 100 = 5 %
    assert relative_gain(0.84, 0.80) == pytest.approx(5.0)
    assert relative_gain(0.76, 0.80) == pytest.approx(-5.0)
    np.testing.assert_allclose(relative_gain([0.9, 0.8], [0.8, 0.8]), [12.5, 0.0])


def test_summary_and_relative_curves():
    df = results_from(
        {
            ("d", "b", "random", 1): [0.5, 0.6],  # AULC 0.55
            ("d", "b", "random", 2): [0.5, 0.7],  # AULC 0.60  -> mean 0.575
            ("d", "b", "x", 1): [0.6, 0.8],  # AULC 0.70
            ("d", "b", "x", 2): [0.4, 0.8],  # AULC 0.60  -> mean 0.65
        }
    )
    s = summary_table(df).set_index("strategy")
    assert s.loc["x", "aulc_mean"] == pytest.approx(0.65)
    assert s.loc["x", "gain_pct"] == pytest.approx((0.65 - 0.575) / 0.575 * 100)
    assert s.loc["random", "gain_pct"] == pytest.approx(0.0)
    assert s.loc["x", "n_seeds"] == 2
    rel = relative_learning_curves(df).set_index(["strategy", "cycle"])["relative_pp"]
    # cycle 0: mean x 0.5 vs random 0.5 -> 0 pp; cycle 1: 0.8 vs 0.65 -> +15 pp
    assert rel[("x", 0)] == pytest.approx(0.0)
    assert rel[("x", 1)] == pytest.approx(15.0)


def test_win_rates_with_ties_and_averaging_over_settings():
    df = results_from(
        {
            # setting 1: seeds 1..4; a beats b on seeds 1, 2; tie on seed 3; loses on seed 4
            ("d1", "bb", "a", 1): [0.9],
            ("d1", "bb", "b", 1): [0.8],
            ("d1", "bb", "a", 2): [0.7],
            ("d1", "bb", "b", 2): [0.6],
            ("d1", "bb", "a", 3): [0.5],
            ("d1", "bb", "b", 3): [0.5],
            ("d1", "bb", "a", 4): [0.4],
            ("d1", "bb", "b", 4): [0.6],
            # setting 2: a wins both seeds
            ("d2", "bb", "a", 1): [0.9],
            ("d2", "bb", "b", 1): [0.1],
            ("d2", "bb", "a", 2): [0.9],
            ("d2", "bb", "b", 2): [0.1],
        }
    )
    w = win_rate_matrix(df)
    # a over b: setting 1 -> 2/4 (tie is not a win), setting 2 -> 1 => mean 0.75
    assert w.loc["a", "b"] == pytest.approx(0.75)
    # b over a: setting 1 -> 1/4, setting 2 -> 0 => 0.125; ties make W + W^T < 1
    assert w.loc["b", "a"] == pytest.approx(0.125)
    assert np.isnan(w.loc["a", "a"])


def test_win_rates_only_on_common_seeds_and_missing_pairs_nan():
    df = results_from(
        {
            ("d", "bb", "a", 1): [0.9],
            ("d", "bb", "b", 1): [0.8],
            ("d", "bb", "a", 2): [0.1],  # b has no seed 2: not compared
            ("e", "bb", "c", 1): [0.5],  # c never shares a setting with a
        }
    )
    w = win_rate_matrix(df)
    assert w.loc["a", "b"] == 1.0
    assert np.isnan(w.loc["a", "c"])


def test_aulc_table_counts_cycles():
    df = results_from({("d", "b", "s", 1): [0.1, 0.2, 0.3]})
    t = aulc_table(df)
    assert t.loc[0, "aulc"] == pytest.approx(0.2) and t.loc[0, "n_cycles"] == 3
