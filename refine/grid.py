"""Experiment grids (dataset × backbone × strategy × seed) on local processes or Ray.

Each trial writes its own results file atomically after every cycle (:func:`refine.loop.run_trial`),
so a grid is crash-safe by construction: rerunning it skips finished trials and resumes unfinished
ones from their last completed cycle. A crash or a pre-empted node loses at most the cycle that
was running; no trial is lost or duplicated (one file per trial, keyed by its spec).

Engines
-------
``"local"`` (default)
    A :class:`concurrent.futures.ProcessPoolExecutor` with ``n_workers`` processes started with
    ``spawn`` (or in-process when ``n_workers == 1``). As with any spawn-based pool, a script that
    calls :func:`run_grid` must guard its entry point with ``if __name__ == "__main__":``.
    Each worker's BLAS, OpenMP and torch thread pools are limited to
    ``threads_per_worker`` (default: the cores divided among the workers): without the limit
    every worker starts one thread per core, and the oversubscribed, busy-waiting BLAS threads
    made a Refine query 10× slower on 2 cores in our measurements.
``"ray"``
    One Ray task per trial (``ray.init(address=...)`` for an existing cluster, a local instance
    otherwise). Tasks are retried when their worker dies; trials whose ``device`` is CUDA ask for
    a GPU fraction (``gpu_fraction``), CPU trials for none.

Data: trials read cached features only (:func:`refine.trial_data.load_trial_dataset`); a grid
never downloads a dataset or runs a backbone. Each trial's ``spec.device`` is where its head
trains (set it with ``make_grid(..., device="cuda")``; the reproduction scripts pass
``--device``).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from refine.device import resolve_device
from refine.errors import ConfigError, MissingDependencyError, check_positive_int, unknown_choice
from refine.loop import TrialSpec, run_trial
from refine.parallel import default_jobs, limit_threads, max_threads

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class GridTrial:
    """One trial of a grid: its spec and how to load its dataset."""

    spec: TrialSpec
    dataset_params: dict = field(default_factory=dict)

    def key(self) -> str:
        return str(self.spec.result_path("."))


@functools.lru_cache(maxsize=4)
def _load(dataset: str, params_items: tuple) -> object:
    from refine.trial_data import load_trial_dataset

    return load_trial_dataset(dataset, **dict(params_items))


def _freeze(d: dict) -> tuple:
    return tuple(sorted((k, str(v) if isinstance(v, Path) else v) for k, v in d.items()))


def load_trial_data(trial: GridTrial) -> object:
    """The dataset of ``trial`` (cached per process; features only, never extracted)."""
    return _load(trial.spec.dataset, _freeze(trial.dataset_params))


def uses_cuda(trials: Iterable[GridTrial]) -> bool:
    """Whether any trial trains its head on a CUDA device."""
    return any(str(t.spec.device).startswith("cuda") for t in trials)


def run_one(trial: GridTrial, out_dir: str) -> dict:
    """Run (or resume, or skip) one trial; return a small status record (picklable)."""
    try:
        data = load_trial_data(trial)
        df = run_trial(data, trial.spec, out_dir, resume=True)
        return {
            "key": trial.key(),
            "ok": True,
            "aulc": float(df.accuracy.mean()),
            "pid": os.getpid(),
            "threads": max_threads(),
        }
    except Exception as exc:
        return {
            "key": trial.key(),
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "pid": os.getpid(),
        }


def finished_record(trial: GridTrial, out_dir: str) -> dict | None:
    """The status record of ``trial`` if ``out_dir`` holds its complete results, else None.

    Lets a rerun skip finished trials without starting worker processes or a Ray instance;
    results of another configuration are left to :func:`run_one`, which reports the conflict.
    """
    from refine.io import read_parquet_with_metadata
    from refine.results import spec_identity

    path = trial.spec.result_path(out_dir)
    if not path.exists():
        return None
    try:
        df, meta = read_parquet_with_metadata(path)
    except Exception:
        return None
    if not meta.get("complete") or spec_identity(meta.get("spec")) != trial.spec.identity():
        return None
    return {"key": trial.key(), "ok": True, "aulc": float(df.accuracy.mean()), "skipped": True}


def make_grid(
    dataset: str,
    strategies: Iterable[str],
    seeds: Iterable[int],
    backbone: str = "raw",
    dataset_params: dict | None = None,
    strategy_params: dict | None = None,
    **spec_kw,
) -> list[GridTrial]:
    """The full cross product of strategies × seeds for one dataset/backbone.

    ``strategy_params`` maps a strategy spec to its constructor parameters.
    """
    sp = strategy_params or {}
    return [
        GridTrial(
            TrialSpec(
                dataset=dataset,
                backbone=backbone,
                strategy=s,
                seed=seed,
                strategy_params=sp.get(s, {}),
                **spec_kw,
            ),
            dict(dataset_params or {}),
        )
        for s in strategies
        for seed in seeds
    ]


def run_grid(
    trials: list[GridTrial],
    out_dir: str | Path,
    engine: str = "local",
    n_workers: int = 1,
    address: str | None = None,
    gpu_fraction: float | None = None,
    on_done: Callable[[dict], None] | None = None,
    max_retries: int = 2,
    threads_per_worker: int | None = None,
    cost: Callable[[GridTrial], float] | None = None,
) -> list[dict]:
    """Run every trial of ``trials`` into ``out_dir``; return one status record per trial.

    Parameters
    ----------
    trials : list of GridTrial
        The grid. Duplicate trials (same result path) are rejected.
    out_dir : path
        Results folder; finished trials found there are skipped, unfinished ones resumed.
    engine : {"local", "ray"}
        Where trials run.
    n_workers : int
        Processes (local) or CPUs for a local Ray instance.
    address : str, optional
        Address of an existing Ray cluster (``"auto"`` or ``"ray://host:port"``).
    gpu_fraction : float, optional
        GPUs per trial on Ray (default: 1/n_workers when the trials' device is CUDA, else 0:
        CPU trials never hold a GPU).
    on_done : callable, optional
        Called with each status record as trials finish (progress bars).
    max_retries : int
        Ray retries of a trial whose worker died.
    threads_per_worker : int, optional
        BLAS/OpenMP/torch threads of each local worker process (default
        ``max(1, cores // n_workers)``); ignored in-process (``n_workers == 1``) and on Ray,
        which sets ``OMP_NUM_THREADS`` to a task's CPUs itself.
    cost : callable, optional
        An estimate of a trial's run time (any unit); see :func:`run_grids`.
    """
    keys = [t.key() for t in trials]
    if len(set(keys)) != len(keys):
        raise ConfigError(
            "the grid contains duplicate trials (same dataset/backbone/strategy/seed)"
        )
    return run_grids(
        [(trials, out_dir)],
        engine=engine,
        n_workers=n_workers,
        address=address,
        gpu_fraction=gpu_fraction,
        on_done=on_done,
        max_retries=max_retries,
        threads_per_worker=threads_per_worker,
        cost=cost,
    )


def run_grids(
    grids: list[tuple[list[GridTrial], str | Path]],
    engine: str = "local",
    n_workers: int = 1,
    address: str | None = None,
    gpu_fraction: float | None = None,
    on_done: Callable[[dict], None] | None = None,
    max_retries: int = 2,
    threads_per_worker: int | None = None,
    cost: Callable[[GridTrial], float] | None = None,
) -> list[dict]:
    """:func:`run_grid` of several grids ``(trials, out_dir)`` in one pool of workers.

    One pool for all grids saves a pool's start-up per grid and the idle worker at the end of
    each (the last long trial of a grid runs alone while the next grid waits). A trial listed
    twice for the same folder runs once; its record is repeated. Records come in the order of
    the grids' trials; each record's ``"out_dir"`` names its folder.

    ``cost`` (an estimate of a trial's run time, any unit) sets the order in which the trials
    start: the costliest first, so that short trials fill the workers at the end (longest
    processing time first, Graham 1969). Results never depend on it: every trial's randomness
    comes from its own seed (:mod:`refine.seeding`), not from which worker runs it or when.
    Without ``cost`` the trials start in the order given.
    """
    if engine not in ENGINES:
        raise unknown_choice("engine", engine, ENGINES)
    n_workers = check_positive_int("n_workers", n_workers)
    threads_per_worker = (
        max(1, default_jobs() // n_workers)
        if threads_per_worker is None
        else check_positive_int("threads_per_worker", threads_per_worker)
    )
    pairs: list[tuple[GridTrial, str]] = []
    for trials, out_dir in grids:
        out = str(out_dir)
        Path(out).mkdir(parents=True, exist_ok=True)
        pairs += [(t, out) for t in trials]
    all_trials = [t for t, _ in pairs]
    if engine == "local" or address is None:  # a remote cluster's GPUs are not visible here
        for dev in sorted({str(t.spec.device) for t in all_trials}):
            resolve_device(dev)  # an unavailable device fails here, not in every trial
    done_cb = on_done or (lambda rec: None)
    records: dict[tuple[str, str], dict] = {}
    todo: list[tuple[GridTrial, str]] = []
    seen: set[tuple[str, str]] = set()
    for t, out in pairs:
        ident = (out, t.key())
        if ident in seen:
            continue
        seen.add(ident)
        rec = finished_record(t, out)
        if rec is not None:
            rec["out_dir"] = out
            done_cb(rec)
            records[ident] = rec
        else:
            todo.append((t, out))
    if todo:
        if cost is not None:
            # stable: equal estimates keep the grids' order
            todo = sorted(todo, key=lambda pair: -float(cost(pair[0])))
        if engine == "ray":
            recs = _run_ray(todo, n_workers, address, gpu_fraction, done_cb, max_retries)
        else:
            recs = _run_local(todo, n_workers, threads_per_worker, done_cb)
        for (_, out), rec in zip(todo, recs, strict=True):
            records[(out, rec["key"])] = rec
    return [records[(out, t.key())] for t, out in pairs]


def _run_local(pairs, n_workers, threads_per_worker, done_cb):
    """Run ``(trial, out_dir)`` pairs; records in the order of ``pairs``."""
    if n_workers == 1:
        records = []
        for t, out in pairs:
            rec = {**run_one(t, out), "out_dir": out}
            done_cb(rec)
            records.append(rec)
        return records
    records: dict[int, dict] = {}
    # "spawn", not fork: a child forked after torch/OpenMP started its thread pool can deadlock.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=n_workers,
        mp_context=ctx,
        initializer=limit_threads,
        initargs=(threads_per_worker,),
    ) as pool:
        # submitted in order: the pool starts them first come, first served
        futures = {pool.submit(run_one, t, out): i for i, (t, out) in enumerate(pairs)}
        for f in as_completed(futures):
            i = futures[f]
            t, out = pairs[i]
            try:
                rec = f.result()
            except Exception as exc:
                # Its trial keeps the cycles it checkpointed; rerunning the grid resumes it.
                rec = {"key": t.key(), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            rec["out_dir"] = out
            done_cb(rec)
            records[i] = rec
    return [records[i] for i in range(len(pairs))]


def _run_ray(pairs, n_workers, address, gpu_fraction, done_cb, max_retries):
    """Run ``(trial, out_dir)`` pairs as Ray tasks; records in the order of ``pairs``."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is in the dev extras
        raise MissingDependencyError(
            "the Ray engine needs ray: pip install 'refine-al[distributed]'"
        ) from exc
    started = False
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": n_workers}
        ray.init(include_dashboard=False, log_to_driver=False, **kw)
        started = True
    try:
        gpus = (
            gpu_fraction
            if gpu_fraction is not None
            else (1.0 / n_workers if uses_cuda([t for t, _ in pairs]) else 0.0)
        )
        remote = ray.remote(
            num_cpus=1, num_gpus=gpus, max_retries=max_retries, retry_exceptions=False
        )(run_one)
        refs = {remote.remote(t, out): i for i, (t, out) in enumerate(pairs)}
        records: dict[int, dict] = {}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                i = refs[r]
                t, out = pairs[i]
                try:
                    rec = ray.get(r)
                except Exception as exc:
                    rec = {"key": t.key(), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
                rec["out_dir"] = out
                done_cb(rec)
                records[i] = rec
        return [records[i] for i in range(len(pairs))]
    finally:
        if started:
            ray.shutdown()
