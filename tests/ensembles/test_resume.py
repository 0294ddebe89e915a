"""Resume after SIGKILL: every ensemble continues with the same decisions and results."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from refine.datasets import load_dataset
from refine.head import HeadConfig
from refine.io import read_parquet_with_metadata
from refine.loop import TIMING_COLUMNS, TrialSpec, run_trial
from refine.strategies import available_strategies
from refine.strategies.filtering import DEFAULT_ENSEMBLE

ARMS = [s for s in DEFAULT_ENSEMBLE if s in available_strategies()]
DATA = {"n_train": 600, "n_test": 150, "n_features": 8, "n_classes": 4, "imbalance": 5.0}

KILL_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from refine.datasets import load_dataset
    from refine.head import HeadConfig
    from refine.loop import TrialSpec, run_trial
    out, k, strategy, params, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    spec = TrialSpec("synthetic", "raw", strategy, 2, n_cycles=6, head=HeadConfig(epochs=30),
                     strategy_params=json.loads(params))
    def die(cycle, row):
        if cycle == k:
            os.kill(os.getpid(), signal.SIGKILL)
    run_trial(load_dataset("synthetic", **json.loads(data)), spec, out, on_cycle=die)
    """
)


@pytest.mark.parametrize(
    "strategy, k, params",
    [
        ("tcm", 2, {}),  # killed before the switch at cycle 4: the resumed part switches
        ("selectal", 2, {}),
        ("tailor", 3, {"strategies": ARMS}),  # the posterior comes back from the checkpoint
    ],
)
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, strategy, k, params):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_SCRIPT,
            str(tmp_path),
            str(k),
            strategy,
            json.dumps(params),
            json.dumps(DATA),
        ],
        capture_output=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    spec = TrialSpec(
        "synthetic",
        "raw",
        strategy,
        2,
        n_cycles=6,
        head=HeadConfig(epochs=30),
        strategy_params=params,
    )
    partial, meta = read_parquet_with_metadata(spec.result_path(tmp_path))
    assert len(partial) == k + 1 and not meta["complete"]
    data = load_dataset("synthetic", **DATA)
    resumed = run_trial(data, spec, tmp_path, resume=True)
    fresh = run_trial(data, spec)
    pd.testing.assert_frame_equal(
        resumed.drop(columns=TIMING_COLUMNS), fresh.drop(columns=TIMING_COLUMNS)
    )
    traces = [json.loads(t) for t in fresh.trace[1:]]
    assert all(traces), "every cycle records its decision"
    if strategy == "tailor":
        assert meta["strategy_state"]["alpha"] is not None
        assert all(len(t["tailor_picks"]) == spec.batch_size for t in traces)
    if strategy == "tcm":
        assert [t["tcm_phase"] for t in traces] == ["typiclust"] * 3 + ["margin"] * 3
    if strategy == "selectal":
        assert all(t["selectal_regime"] in ("random", "low", "high") for t in traces)
