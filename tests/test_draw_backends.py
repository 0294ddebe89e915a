"""Filtering draws in forked processes, threads or serially: the same pools, traces and batches."""

from __future__ import annotations

import multiprocessing
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from refine.errors import ConfigError
from refine.strategies import Strategy, make_strategy
from refine.strategies._draws import BACKENDS, can_fork, resolve_backend
from refine.strategies.filtering import DEFAULT_ENSEMBLE, ProgressiveFilter
from tests.conftest import make_context

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)


class PidRecorder(Strategy):
    """The b smallest candidates; records the process of every call as a file in ``folder``."""

    name = "test-pid-recorder"
    label_free = True

    def __init__(self, folder=None):
        self.folder = folder

    def _select(self, ctx, candidates, batch_size, rng):
        (Path(self.folder) / f"{os.getpid()}-{rng.integers(2**62)}").touch()
        return np.sort(candidates)[:batch_size]


class Failing(Strategy):
    """Raises a ConfigError in its draws (the error must reach the caller)."""

    name = "test-failing"
    label_free = True

    def _select(self, ctx, candidates, batch_size, rng):
        raise ConfigError("failing on purpose")


def _run(ctx, cand, b=8, seed=0, **kw):
    return ProgressiveFilter(**kw).filter(ctx, cand, b, np.random.default_rng(seed))


def _plain(trace):
    d = trace.to_dict()
    d.pop("seconds")
    return d


@needs_fork
def test_parallel_backends_give_the_serial_pools_and_traces():
    """The nine default strategies, subsampled and whole-pool rounds (first_subsample below and
    above the pool): every backend and worker count gives the serial pool and trace."""
    ctx, cand = make_context(n=900, d=6, k=3, seed=11)
    for first in (400, 5000):
        kw = dict(
            strategies=DEFAULT_ENSEMBLE, draws_per_strategy=3, rounds=3, first_subsample=first
        )
        ref_pool, ref_trace = _run(ctx, cand, **kw)
        for n_jobs, backend in ((2, "threads"), (2, "processes"), (3, "processes"), (2, "auto")):
            pool, trace = _run(ctx, cand, n_jobs=n_jobs, parallel_backend=backend, **kw)
            np.testing.assert_array_equal(ref_pool, pool, err_msg=f"{backend}, {n_jobs} jobs")
            assert _plain(trace) == _plain(ref_trace), (backend, n_jobs)
            assert set(trace.seconds) == set(ref_trace.seconds)


@needs_fork
def test_refine_batch_is_the_same_for_every_backend():
    ctx, cand = make_context(n=700, d=6, k=3, seed=12)
    batches = []
    for n_jobs, backend in ((1, "auto"), (2, "threads"), (2, "processes")):
        s = make_strategy("refine", n_jobs=n_jobs, parallel_backend=backend, draws_per_strategy=2)
        batches.append(s.select(ctx, cand, 10, np.random.default_rng(5)))
    for b in batches[1:]:
        np.testing.assert_array_equal(batches[0], b)
    assert np.unique(batches[0]).size == 10 and not ctx.labeled_mask[batches[0]].any()


@needs_fork
def test_processes_run_the_draws_outside_this_process(tmp_path):
    ctx, cand = make_context(n=600, d=6, k=3, seed=13)
    kw = dict(strategies=[PidRecorder(str(tmp_path)), "random"], draws_per_strategy=4, rounds=2)
    _run(ctx, cand, n_jobs=2, parallel_backend="processes", **kw)
    pids = {int(p.name.split("-")[0]) for p in tmp_path.iterdir()}
    assert len(list(tmp_path.iterdir())) == 8  # 4 draws x 2 rounds, none reused (not direct_rng)
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for p in tmp_path.iterdir():
        p.unlink()
    _run(ctx, cand, n_jobs=2, parallel_backend="threads", **kw)
    assert {int(p.name.split("-")[0]) for p in tmp_path.iterdir()} == {os.getpid()}


@needs_fork
@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_an_error_in_a_draw_reaches_the_caller(backend):
    ctx, cand = make_context(n=300, d=6, k=3, seed=14)
    with pytest.raises(ConfigError, match="failing on purpose"):
        _run(ctx, cand, strategies=[Failing(), "random"], n_jobs=2, parallel_backend=backend)


def test_backend_names_are_checked():
    ctx, cand = make_context(n=200, d=6, k=3, seed=15)
    with pytest.raises(ConfigError, match="parallel_backend.*auto, processes, threads"):
        _run(ctx, cand, parallel_backend="greenlets")
    with pytest.raises(ConfigError, match="parallel_backend"):
        resolve_backend("greenlets", ctx)
    assert BACKENDS == ("auto", "threads", "processes")


def test_auto_falls_back_to_threads_where_processes_cannot_run(monkeypatch):
    """No fork, kernels on a GPU, or a daemonic process: auto picks threads, and an explicit
    'processes' is refused with the reason."""
    cpu = types.SimpleNamespace(kernel_device=None)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])
    assert can_fork(cpu) is None and resolve_backend("auto", cpu) == "processes"
    assert resolve_backend("auto", types.SimpleNamespace(kernel_device="cpu")) == "processes"
    gpu = types.SimpleNamespace(kernel_device=types.SimpleNamespace(type="cuda"))
    assert resolve_backend("auto", gpu) == "threads"
    with pytest.raises(ConfigError, match="cuda.*use 'threads'"):
        resolve_backend("processes", gpu)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert resolve_backend("auto", cpu) == "threads"
    with pytest.raises(ConfigError, match="no 'fork'"):
        resolve_backend("processes", cpu)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork"])
    monkeypatch.setattr(sys, "platform", "darwin")  # fork exists there, but auto avoids it
    assert resolve_backend("auto", cpu) == "threads"
    assert resolve_backend("processes", cpu) == "processes"
    monkeypatch.setattr(sys, "platform", "linux")
    daemon = types.SimpleNamespace(daemon=True)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: daemon)
    assert resolve_backend("auto", cpu) == "threads"
    assert resolve_backend("threads", cpu) == "threads"


def test_parallel_backend_is_result_neutral():
    """It is left out of the computation a trial is keyed by, like n_jobs."""
    from refine.parallel import is_result_neutral, with_jobs

    assert is_result_neutral("parallel_backend") and is_result_neutral("filter__parallel_backend")
    a = make_strategy("refine", parallel_backend="threads", n_jobs=2).computation()
    assert a == make_strategy("refine").computation()
    # a backend given without n_jobs still gets the jobs
    assert with_jobs("refine", {"parallel_backend": "threads"}, 2) == {
        "parallel_backend": "threads",
        "n_jobs": 2,
    }


def test_a_free_worker_takes_its_own_strategies_then_unclaimed_ones_then_any():
    from refine.strategies._draws import affine_pick

    owner = [0, 1, 2, 0, 1, 2]  # draw-major: strategies 0, 1, 2, then their second draws
    assert affine_pick([0, 1, 2, 3, 4, 5], owner, mine=set(), taken=set()) == 0
    assert affine_pick([1, 2, 3, 4, 5], owner, mine={0}, taken={0}) == 2  # its strategy 0
    assert affine_pick([1, 2, 4, 5], owner, mine={0}, taken={0, 1}) == 1  # unclaimed 2
    assert affine_pick([1, 4], owner, mine={0, 2}, taken={0, 1, 2}) == 0  # steal the first


@needs_fork
def test_a_worker_that_dies_is_reported():
    class Dies(Strategy):
        name = "test-dies"
        label_free = True

        def _select(self, ctx, candidates, batch_size, rng):
            os._exit(3)

    ctx, cand = make_context(n=300, d=6, k=3, seed=16)
    with pytest.raises(RuntimeError, match="worker process died.*exit code 3"):
        _run(ctx, cand, strategies=[Dies(), "random"], n_jobs=2, parallel_backend="processes")
