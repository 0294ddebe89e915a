"""Experiment grids on the local and the Ray engine survive a killed worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from refine.errors import ConfigError
from refine.grid import make_grid, run_grid, run_grids
from refine.head import HeadConfig
from refine.io import read_parquet_with_metadata
from refine.loop import TIMING_COLUMNS
from refine.results import load_results

CYCLES = 2


def tiny_grid(epochs: int):
    # 2 strategies × 2 seeds × 2 cycles; long head training makes each cycle take ~1 s so a
    # worker can be killed in the middle of a trial.
    return make_grid(
        "digits", ["random", "margin"], [1, 2], n_cycles=CYCLES, head=HeadConfig(epochs=epochs)
    )


def kill_a_worker_midway(out, is_worker, timeout=120.0):
    """Wait until some trial has checkpointed a cycle but is unfinished, then SIGKILL a worker."""
    killed = {}

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "pid" not in killed:
            for p in out.rglob("seed*.parquet"):
                try:
                    _, meta = read_parquet_with_metadata(p)
                except Exception:
                    continue
                if not meta.get("complete"):
                    for proc in psutil.process_iter(["pid", "cmdline"]):
                        if is_worker(proc) and proc.pid != os.getpid():
                            os.kill(proc.pid, signal.SIGKILL)
                            killed["pid"] = proc.pid
                            return
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t, killed


def check_complete_and_identical(out, reference):
    files = sorted(out.rglob("seed*.parquet"))
    assert len(files) == 4  # no trial lost, none duplicated
    for f in files:
        df, meta = read_parquet_with_metadata(f)
        assert meta["complete"] and df.cycle.tolist() == list(range(CYCLES + 1))
    got = load_results(out).sort_values(["strategy", "seed", "cycle"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.drop(columns=TIMING_COLUMNS), reference)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    recs = run_grid(tiny_grid(epochs=1500), out)
    assert all(r["ok"] for r in recs)
    return (
        load_results(out)
        .sort_values(["strategy", "seed", "cycle"])
        .reset_index(drop=True)
        .drop(columns=TIMING_COLUMNS)
    )


def test_local_engine_killed_worker_then_rerun(tmp_path, reference):
    me = psutil.Process()

    def is_worker(proc):
        # a pool worker started by spawn, not the resource tracker spawn also starts
        cmd = " ".join(proc.info.get("cmdline") or [])
        children = {c.pid for c in me.children(recursive=True)}
        return proc.pid in children and "spawn_main" in cmd and "resource_tracker" not in cmd

    watcher, killed = kill_a_worker_midway(tmp_path, is_worker)
    recs = run_grid(tiny_grid(epochs=1500), tmp_path, engine="local", n_workers=2)
    watcher.join()
    assert "pid" in killed and not all(r["ok"] for r in recs)
    recs = run_grid(tiny_grid(epochs=1500), tmp_path, engine="local", n_workers=2)
    assert all(r["ok"] for r in recs)
    # each worker's thread pools were capped at cores // workers (trials that had finished
    # before the kill are skipped without a worker)
    cap = max(1, (os.cpu_count() or 1) // 2)
    ran = [r for r in recs if not r.get("skipped")]
    assert ran and {r["threads"] for r in ran} == {cap}
    check_complete_and_identical(tmp_path, reference)


def test_ray_engine_killed_worker_retried_then_rerun(tmp_path, reference):
    def is_worker(proc):
        cmd = " ".join(proc.info.get("cmdline") or [])
        return "ray::run_one" in cmd

    # On a loaded machine Ray's start-up can outlast the trials, so the watcher finds nothing
    # unfinished to kill; then the trials are made longer (in a fresh folder) and it tries again.
    for attempt, epochs in enumerate((1500, 6000, 24000)):
        out = tmp_path / f"attempt{attempt}"
        watcher, killed = kill_a_worker_midway(out, is_worker)
        recs = run_grid(tiny_grid(epochs=epochs), out, engine="ray", n_workers=2)
        watcher.join()
        if "pid" in killed:
            break
    assert "pid" in killed
    # Ray retried the killed task on a fresh worker; rerunning skips everything that finished
    rerun = run_grid(tiny_grid(epochs=epochs), out, engine="ray", n_workers=2)
    assert all(r["ok"] for r in rerun), (recs, rerun)
    if epochs != 1500:  # longer trials than the shared reference: a serial run of the same grid
        ref_out = tmp_path / "reference"
        assert all(r["ok"] for r in run_grid(tiny_grid(epochs=epochs), ref_out))
        reference = (
            load_results(ref_out)
            .sort_values(["strategy", "seed", "cycle"])
            .reset_index(drop=True)
            .drop(columns=TIMING_COLUMNS)
        )
    check_complete_and_identical(out, reference)


def test_grid_validation(tmp_path):
    with pytest.raises(ConfigError, match="engine"):
        run_grid(tiny_grid(10), tmp_path, engine="slurm")
    with pytest.raises(ConfigError, match="duplicate"):
        run_grid(tiny_grid(10) * 2, tmp_path)
    with pytest.raises(ConfigError, match="n_workers"):
        run_grid(tiny_grid(10), tmp_path, n_workers=0)
    with pytest.raises(ConfigError, match="threads_per_worker"):
        run_grid(tiny_grid(10), tmp_path, n_workers=2, threads_per_worker=0)


@pytest.mark.parametrize("torch_first", [True, False], ids=["loaded-before", "loaded-after"])
def test_limit_threads_caps_loaded_pools_and_torch(torch_first):
    # in a fresh interpreter: the cap must hold for pools loaded before and after the call
    import subprocess
    import sys

    load = "import numpy, torch\n"
    code = (
        (load if torch_first else "")
        + "from refine.parallel import limit_threads, max_threads\n"
        + "limit_threads(1)\n"
        + ("" if torch_first else load)
        + "print(max_threads(), torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == ["1", "1"]


# ---------------------------------------------------------------- several grids in one pool
def _short(strategies, seeds, epochs=6):
    return make_grid("digits", strategies, seeds, n_cycles=1, head=HeadConfig(epochs=epochs))


def _rows(out):
    df = load_results(out).drop(columns=TIMING_COLUMNS)
    return df.sort_values(["strategy", "seed", "cycle"]).reset_index(drop=True)


def test_run_grids_runs_each_folder_as_run_grid_does(tmp_path):
    a, b = _short(["random", "margin"], [1]), _short(["random"], [1, 2])
    seen = []
    recs = run_grids([(a, tmp_path / "a"), (b + b[:1], tmp_path / "b")], on_done=seen.append)
    # records in the order of the grids' trials, each naming its folder; the repeated trial ran
    # once and its record is repeated
    assert [(Path(r["out_dir"]).name, r["key"]) for r in recs] == [
        *(("a", t.key()) for t in a),
        *(("b", t.key()) for t in [*b, b[0]]),
    ]
    assert all(r["ok"] for r in recs) and len(seen) == 4
    assert recs[2] is recs[4]
    for trials, name in ((a, "a"), (b, "b")):
        ref = tmp_path / f"ref_{name}"
        assert all(r["ok"] for r in run_grid(trials, ref))
        pd.testing.assert_frame_equal(_rows(tmp_path / name), _rows(ref))
    # a rerun finds everything finished: no trial runs again
    again = run_grids([(a, tmp_path / "a"), (b, tmp_path / "b")])
    assert all(r.get("skipped") for r in again)


def test_run_grids_starts_the_costliest_trial_first(tmp_path):
    a = _short(["random", "margin"], [1, 2])
    b = _short(["random"], [3])
    cost = {"margin": 5.0, "random": 1.0}
    started = []
    recs = run_grids(
        [(a, tmp_path / "a"), (b, tmp_path / "b")],
        cost=lambda t: cost[t.spec.strategy] + (t.spec.seed == 3) * 2.0,
        on_done=lambda rec: started.append(rec["key"]),
    )
    # serial: trials finish in the order they start; equal costs keep the grids' order
    by_key = {t.key(): t for t in [*a, *b]}
    assert [(by_key[k].spec.strategy, by_key[k].spec.seed) for k in started] == [
        ("margin", 1), ("margin", 2), ("random", 3), ("random", 1), ("random", 2),
    ]  # fmt: skip
    # the records still follow the grids, not the start order
    assert [r["key"] for r in recs] == [t.key() for t in [*a, *b]]
