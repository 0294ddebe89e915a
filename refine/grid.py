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
    """
    if engine not in ENGINES:
        raise unknown_choice("engine", engine, ENGINES)
    n_workers = check_positive_int("n_workers", n_workers)
    threads_per_worker = (
        max(1, default_jobs() // n_workers)
        if threads_per_worker is None
        else check_positive_int("threads_per_worker", threads_per_worker)
    )
    keys = [t.key() for t in trials]
    if len(set(keys)) != len(keys):
        raise ConfigError(
            "the grid contains duplicate trials (same dataset/backbone/strategy/seed)"
        )
    if engine == "local" or address is None:  # a remote cluster's GPUs are not visible here
        for dev in sorted({str(t.spec.device) for t in trials}):
            resolve_device(dev)  # an unavailable device fails here, not in every trial
    out = str(out_dir)
    Path(out).mkdir(parents=True, exist_ok=True)
    done_cb = on_done or (lambda rec: None)
    finished = {}
    for t in trials:
        rec = finished_record(t, out)
        if rec is not None:
            done_cb(rec)
            finished[rec["key"]] = rec
    todo = [t for t in trials if t.key() not in finished]
    if not todo:
        return [finished[k] for k in keys]
    if engine == "ray":
        recs = _run_ray(todo, out, n_workers, address, gpu_fraction, done_cb, max_retries)
    else:
        recs = _run_local(todo, out, n_workers, threads_per_worker, done_cb)
    by_key = {**finished, **{r["key"]: r for r in recs}}
    return [by_key[k] for k in keys]


def _run_local(trials, out, n_workers, threads_per_worker, done_cb):
    if n_workers == 1:
        records = []
        for t in trials:
            rec = run_one(t, out)
            done_cb(rec)
            records.append(rec)
        return records
    records = []
    # "spawn", not fork: a child forked after torch/OpenMP started its thread pool can deadlock.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=n_workers,
        mp_context=ctx,
        initializer=limit_threads,
        initargs=(threads_per_worker,),
    ) as pool:
        futures = {pool.submit(run_one, t, out): t for t in trials}
        for f in as_completed(futures):
            try:
                rec = f.result()
            except Exception as exc:
                # Its trial keeps the cycles it checkpointed; rerunning the grid resumes it.
                rec = {
                    "key": futures[f].key(),
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            done_cb(rec)
            records.append(rec)
    return records  # run_grid puts them in the order of the grid


def _run_ray(trials, out, n_workers, address, gpu_fraction, done_cb, max_retries):
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
            else (1.0 / n_workers if uses_cuda(trials) else 0.0)
        )
        remote = ray.remote(
            num_cpus=1, num_gpus=gpus, max_retries=max_retries, retry_exceptions=False
        )(run_one)
        refs = {remote.remote(t, out): t for t in trials}
        records = []
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                try:
                    rec = ray.get(r)
                except Exception as exc:
                    rec = {
                        "key": refs[r].key(),
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                done_cb(rec)
                records.append(rec)
        order = {t.key(): i for i, t in enumerate(trials)}
        return sorted(records, key=lambda r: order[r["key"]])
    finally:
        if started:
            ray.shutdown()
