"""Cores per run: affinity capped by the container's CPU quota."""

from __future__ import annotations

import os

import pytest

from refine import parallel
from refine.errors import ConfigError


@pytest.mark.parametrize(
    "files,expected",
    [
        ({"cpu.max": "200000 100000\n"}, 2.0),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert parallel.cgroup_cpu_limit(tmp_path) == expected


def test_default_jobs_capped_by_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(parallel, "cgroup_cpu_limit", lambda: 1.5)
    assert parallel.default_jobs() == 2
    monkeypatch.setattr(parallel, "cgroup_cpu_limit", lambda: None)
    assert parallel.default_jobs() == 64


def test_with_jobs_only_for_strategies_that_take_it():
    assert parallel.with_jobs("margin", {}, 4) == {}
    assert parallel.with_jobs("refine", {"rounds": 2}, 3) == {"rounds": 2, "n_jobs": 3}
    assert parallel.with_jobs("filtered:bait", {"n_jobs": 1}, 3) == {"n_jobs": 1}
    with pytest.raises(ConfigError, match="jobs"):
        parallel.with_jobs("refine", {}, 0)


def test_limit_threads_rejects_bad_counts():
    with pytest.raises(ConfigError, match="n_threads"):
        parallel.limit_threads(0)
