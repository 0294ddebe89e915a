"""Grids: the device reaches every trial, Ray holds GPUs only for CUDA trials, reruns are cheap."""

from __future__ import annotations

import pytest

from refine.errors import ConfigError
from refine.grid import GridTrial, finished_record, run_grid, uses_cuda
from refine.head import HeadConfig
from refine.loop import TrialSpec


def _trials(device: str) -> list[GridTrial]:
    return [
        GridTrial(TrialSpec("digits", "raw", "random", s, n_cycles=1, device=device))
        for s in (1, 2)
    ]


def test_grid_rejects_an_unavailable_device_before_any_trial(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the check is for machines without it")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        run_grid(_trials("cuda"), tmp_path)
    assert not any(tmp_path.rglob("*.parquet"))


def test_ray_reserves_gpus_only_for_cuda_trials():
    assert uses_cuda(_trials("cuda")) and uses_cuda(_trials("cuda:1"))
    assert not uses_cuda(_trials("cpu"))


def test_rerun_of_a_finished_grid_skips_every_trial_without_workers(tmp_path, monkeypatch):
    trials = [
        GridTrial(TrialSpec("digits", "raw", s, 1, n_cycles=1, head=HeadConfig(epochs=5)))
        for s in ("random", "margin")
    ]
    first = run_grid(trials, tmp_path)
    assert all(r["ok"] and "skipped" not in r for r in first)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}

    import refine.grid as grid

    def no_workers(*args, **kwargs):
        raise AssertionError("a finished grid must not start workers")

    monkeypatch.setattr(grid, "_run_local", no_workers)
    monkeypatch.setattr(grid, "_run_ray", no_workers)
    again = run_grid(trials, tmp_path, n_workers=2)
    assert [r["key"] for r in again] == [t.key() for t in trials]
    assert all(r["skipped"] for r in again)
    assert [r["aulc"] for r in again] == pytest.approx([r["aulc"] for r in first])
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == mtimes
    # a finished file of another configuration is not skipped: run_one reports the conflict
    other = GridTrial(
        TrialSpec("digits", "raw", "random", 1, n_cycles=1, head=HeadConfig(epochs=6))
    )
    assert finished_record(other, str(tmp_path)) is None
    monkeypatch.undo()
    (rec,) = run_grid([other], tmp_path)
    assert not rec["ok"] and "different configuration" in rec["error"]
