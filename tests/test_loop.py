"""The AL loop: protocol, determinism, checkpoints and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from refine.data import Dataset
from refine.datasets import load_dataset
from refine.errors import ConfigError, DataError, ResultsConflictError
from refine.head import HeadConfig, HeadTrainer
from refine.io import read_parquet_with_metadata
from refine.loop import (
    RESULT_COLUMNS,
    TIMING_COLUMNS,
    TrialSpec,
    _train_seed,
    run_trial,
)
from refine.results import load_results
from refine.seeding import head_init_seed

FAST = HeadConfig(epochs=30)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def spec(strategy="margin", seed=1, **kw):
    kw.setdefault("n_cycles", 5)
    kw.setdefault("head", FAST)
    return TrialSpec("digits", "raw", strategy, seed, **kw)


def test_protocol_shape(digits):
    df = run_trial(digits, spec(n_cycles=4, batch_size=7))
    assert list(df.columns) == RESULT_COLUMNS
    assert df.cycle.tolist() == [0, 1, 2, 3, 4]
    assert df.n_labeled.tolist() == [7, 14, 21, 28, 35]
    sel = np.concatenate(df.selected.map(np.asarray).to_numpy())
    assert sel.size == 35 and np.unique(sel).size == 35  # never selects an instance twice
    # each cycle's accuracy is that of a head trained on exactly the labels revealed so far
    trainer = HeadTrainer(digits.n_features, digits.n_classes, head_init_seed(1), FAST)
    for cycle in (0, 4):
        labeled = np.concatenate(df.selected[: cycle + 1].map(np.asarray).to_numpy())
        head = trainer.fit(
            digits.X_train[labeled], digits.y_train[labeled], seed=_train_seed(1, cycle)
        )
        pred = head.predict(digits.X_test)
        assert df.accuracy[cycle] == pytest.approx(accuracy_score(digits.y_test, pred), abs=1e-12)
        assert df.balanced_accuracy[cycle] == pytest.approx(
            balanced_accuracy_score(digits.y_test, pred), abs=1e-12
        )


def test_same_seed_identical_and_strategies_share_initial_pool(digits):
    a = run_trial(digits, spec(seed=3))
    b = run_trial(digits, spec(seed=3))
    pd.testing.assert_frame_equal(a.drop(columns=TIMING_COLUMNS), b.drop(columns=TIMING_COLUMNS))
    r = run_trial(digits, spec("random", seed=3))
    assert r.selected[0] == a.selected[0]  # same initial pool
    assert r.accuracy[0] == a.accuracy[0]  # same initial head → same cycle-0 accuracy
    c = run_trial(digits, spec(seed=4))
    assert c.selected[0] != a.selected[0]


def test_subsample_limits_candidates(digits):
    # With a subsample of 20 and b = 10, margin picks the 10 lowest margins among 20 random
    # unlabeled instances; with the whole pool it picks the global lowest. They differ.
    whole = run_trial(digits, spec(n_cycles=1, subsample=None))
    sub = run_trial(digits, spec(n_cycles=1, subsample=20))
    assert whole.selected[1] != sub.selected[1]


def test_checkpoint_written_every_cycle_and_complete_flag(tmp_path, digits):
    seen = []

    def on_cycle(cycle, row):
        df, meta = read_parquet_with_metadata(spec().result_path(tmp_path))
        seen.append((cycle, len(df), meta["complete"]))

    run_trial(digits, spec(), tmp_path, on_cycle=on_cycle)
    assert seen == [(c, c + 1, c == 5) for c in range(6)]
    assert len(load_results(tmp_path)) == 6


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from refine.datasets import load_dataset
    from refine.head import HeadConfig, HeadTrainer
    from refine.loop import TrialSpec, run_trial
    out, k, strategy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    spec = TrialSpec("digits", "raw", strategy, 2, n_cycles=6, head=HeadConfig(epochs=30))
    def die(cycle, row):
        if cycle == k:
            os.kill(os.getpid(), signal.SIGKILL)
    run_trial(load_dataset("digits"), spec, out, on_cycle=die)
    """
)


@pytest.mark.parametrize("strategy,k", [("margin", 2), ("random", 0), ("margin", 5)])
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, digits, strategy, k):
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path), str(k), strategy], capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL
    s = TrialSpec("digits", "raw", strategy, 2, n_cycles=6, head=FAST)
    partial, meta = read_parquet_with_metadata(s.result_path(tmp_path))
    assert len(partial) == k + 1 and not meta["complete"]
    assert not [p for p in os.listdir(s.result_path(tmp_path).parent) if p.startswith(".")]
    with pytest.raises(ResultsConflictError, match="--resume"):
        run_trial(digits, s, tmp_path)
    resumed = run_trial(digits, s, tmp_path, resume=True)
    fresh = run_trial(digits, s)
    pd.testing.assert_frame_equal(
        resumed.drop(columns=TIMING_COLUMNS), fresh.drop(columns=TIMING_COLUMNS)
    )
    stored, meta = read_parquet_with_metadata(s.result_path(tmp_path))
    assert meta["complete"] and len(stored) == 7


def test_complete_trial_is_returned_not_rerun(tmp_path, digits):
    first = run_trial(digits, spec(), tmp_path)
    again = run_trial(digits, spec(), tmp_path)
    pd.testing.assert_frame_equal(first, again)  # timings too: nothing was recomputed


def test_conflicting_configuration_in_out_folder(tmp_path, digits):
    run_trial(digits, spec(), tmp_path)
    with pytest.raises(ResultsConflictError, match="batch_size"):
        run_trial(digits, spec(batch_size=12), tmp_path)


def test_budget_errors(digits):
    with pytest.raises(ConfigError, match="larger than the pool"):
        run_trial(digits, spec(batch_size=5000))
    with pytest.raises(ConfigError, match="exceeds the pool"):
        run_trial(digits, spec(batch_size=100, n_cycles=20))
    with pytest.raises(ConfigError, match="batch_size"):
        spec(batch_size=0)
    with pytest.raises(ConfigError, match="unknown strategy"):
        run_trial(digits, spec("nonsense"))


def test_bad_features_and_labels_rejected():
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(DataError, match="NaN or inf"):
        Dataset("x", np.array([[0, np.nan]] * 5), np.zeros(5, int), X, np.zeros(5, int), 2, 1)
    with pytest.raises(DataError, match="NaN or inf"):
        Dataset("x", X, np.zeros(5, int), np.array([[np.inf, 0]] * 5), np.zeros(5, int), 2, 1)
    with pytest.raises(DataError, match="different lengths"):
        Dataset("x", X, np.zeros(4, int), X, np.zeros(5, int), 2, 1)
    with pytest.raises(DataError, match="class 3"):
        Dataset("x", X, np.full(5, 3), X, np.zeros(5, int), 2, 1)


def test_synthetic_dataset_parameters():
    a = load_dataset("synthetic", n_train=300, n_features=5, n_classes=3, imbalance=10.0, seed=1)
    b = load_dataset("synthetic", n_train=300, n_features=5, n_classes=3, imbalance=10.0, seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    counts = np.bincount(a.y_train, minlength=3)
    assert counts[0] > 4 * counts[2]  # geometric imbalance 10:1 between first and last class
    with pytest.raises(ConfigError, match="imbalance"):
        load_dataset("synthetic", imbalance=0.5)


def test_invalid_parameter_value_refused_before_anything_is_written(digits, tmp_path):
    # make_strategy only stores values (scikit-learn style): run_trial checks them before the
    # initial pool is recorded, so a bad value never leaves a one-cycle results file behind
    with pytest.raises(ConfigError, match="rounds"):
        run_trial(digits, spec("refine", strategy_params={"rounds": 0}), out_dir=tmp_path)
    assert not any(tmp_path.rglob("*.parquet"))


def test_results_record_the_environment_and_a_resume_on_another_keeps_both(
    tmp_path, digits, monkeypatch
):
    """Every results file says what its cycles were computed on (refine.environment); a trial
    resumed in another environment lists both, in the order they wrote."""
    from refine import environment, loop

    here = environment.fingerprint()
    assert here["packages"]["numpy"] == np.__version__ and here["blas"]
    assert here["cpu"] and here["python"] == sys.version.split()[0]
    s = spec("random", n_cycles=3)

    def stop(cycle, row):
        if cycle == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trial(digits, s, tmp_path, on_cycle=stop)
    _, meta = read_parquet_with_metadata(s.result_path(tmp_path))
    assert meta["environments"] == [here] and not meta["complete"]
    other = {**here, "cpu": "another CPU"}
    monkeypatch.setattr(loop, "fingerprint", lambda: other)
    run_trial(digits, s, tmp_path, resume=True)
    _, meta = read_parquet_with_metadata(s.result_path(tmp_path))
    assert meta["complete"] and meta["environments"] == [here, other]
