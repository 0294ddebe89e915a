"""Hypothesis properties of the win-rate matrix (docs/protocol.md §4) on random AULC tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from refine.metrics import win_rate_matrix

tables = st.fixed_dictionaries(
    {
        "settings": st.integers(1, 3),
        "strategies": st.integers(2, 5),
        "seeds": st.integers(1, 6),
        "levels": st.one_of(st.none(), st.integers(1, 3)),  # None: continuous (no ties)
        "missing": st.floats(0.0, 0.4),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def make_table(c) -> pd.DataFrame:
    rng = np.random.default_rng(c["seed"])
    rows = []
    for s in range(c["settings"]):
        for a in range(c["strategies"]):
            for seed in range(c["seeds"]):
                if rng.random() < c["missing"]:
                    continue  # a trial that was not run
                v = rng.random() if c["levels"] is None else rng.integers(c["levels"]) / 4
                rows.append(
                    dict(dataset=f"d{s}", backbone="raw", strategy=f"s{a}", seed=seed, aulc=v)
                )
    return pd.DataFrame(rows, columns=["dataset", "backbone", "strategy", "seed", "aulc"])


def brute_force(df: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The definition, literally: per setting the fraction of common seeds won, then the mean."""
    out = np.full((len(names), len(names)), np.nan)
    for a, i in enumerate(names):
        for c, j in enumerate(names):
            if a == c:
                continue
            fractions = []
            for _, g in df.groupby(["dataset", "backbone"]):
                vi = dict(zip(g[g.strategy == i].seed, g[g.strategy == i].aulc, strict=True))
                vj = dict(zip(g[g.strategy == j].seed, g[g.strategy == j].aulc, strict=True))
                common = sorted(set(vi) & set(vj))
                if common:
                    fractions.append(np.mean([vi[s] > vj[s] for s in common]))
            if fractions:
                out[a, c] = np.mean(fractions)
    return out


@settings(max_examples=60, deadline=None)
@given(tables)
def test_win_rates_match_the_definition_and_are_consistent(c):
    df = make_table(c)
    if df.empty:
        return
    W = win_rate_matrix(df)
    names = list(W.index)
    M = W.to_numpy()
    np.testing.assert_allclose(M, brute_force(df, names), equal_nan=True)
    finite = np.isfinite(M)
    assert ((M[finite] >= 0) & (M[finite] <= 1)).all()
    assert np.isnan(np.diag(M)).all()
    both = finite & finite.T
    # i beats j and j beats i in disjoint trials: W + Wᵀ <= 1, with equality when no ties
    S = (M + M.T)[both]
    assert (S <= 1 + 1e-12).all()
    if c["levels"] is None:
        np.testing.assert_allclose(S, 1.0)


@settings(max_examples=30, deadline=None)
@given(tables)
def test_a_strategy_best_in_every_trial_wins_always(c):
    df = make_table(c)
    if df.empty:
        return
    trials = df[["dataset", "backbone", "seed"]].drop_duplicates()
    best = trials.assign(strategy="best", aulc=2.0)  # above every AULC in [0, 1]
    W = win_rate_matrix(pd.concat([df, best], ignore_index=True))
    row = W.loc["best"].drop("best")
    assert (row == 1.0).all()
    assert (W["best"].drop("best") == 0.0).all()
