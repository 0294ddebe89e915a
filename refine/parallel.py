"""How many cores a run may use, and keeping library thread pools from oversubscribing them.

Two kinds of parallelism meet in this package: Refine's filtering draws run in forked processes
or threads (``n_jobs``, :mod:`refine.strategies._draws`), and experiment grids run trials in processes
(:mod:`refine.grid`). Both give the same results as a serial run; only the speed changes. What
does need care is the BLAS/OpenMP/torch thread pools inside them: by default every process starts
one thread per core, so ``w`` workers on ``c`` cores run ``w·c`` busy-waiting threads. On the
2-core development machine that made one Refine query at Tiny-ImageNet scale take 791 s instead of
47 s.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from refine.errors import check_positive_int

#: Strategy parameters that change the speed of a run, never its result (compared neither on
#: resume nor between runs).
RESULT_NEUTRAL_PARAMS = frozenset({"n_jobs", "parallel_backend"})


def is_result_neutral(key: str) -> bool:
    """Whether a strategy parameter (``n_jobs``, nested ``filter__n_jobs``, ...) cannot change results."""
    return key.rsplit("__", 1)[-1] in RESULT_NEUTRAL_PARAMS


_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cgroup_cpu_limit(root: str | os.PathLike = "/sys/fs/cgroup") -> float | None:
    """The CPU quota of this container in cores (cgroup v2 ``cpu.max`` or v1 CFS), or None.

    Containers often see every core of the host through ``sched_getaffinity`` while their quota
    allows two; one draw thread per visible core would then oversubscribe the quota and multiply
    the memory held by concurrent draws.
    """
    root = Path(root)
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max" and float(period) > 0:
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = float((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def default_jobs() -> int:
    """Number of CPU cores this process may use (the default of ``jobs``).

    The cores this process may run on, capped by the container's CPU quota
    (:func:`cgroup_cpu_limit`, rounded up).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def with_jobs(spec: str, params: Mapping[str, Any] | None, jobs: int | None) -> dict[str, Any]:
    """``params`` plus ``n_jobs`` for strategies that take it (Refine, ``filtered:*``).

    Parallel filtering draws run one BLAS thread each and give the same batch as serial ones
    (:mod:`refine.strategies.filtering`), so ``jobs`` changes the speed, never the result. An ``n_jobs``
    given in ``params`` wins; ``jobs=None`` means :func:`default_jobs`.
    """
    from refine.strategies.registry import parameter_names

    out = dict(params or {})
    if any(k.rsplit("__", 1)[-1] == "n_jobs" for k in out):
        return out
    if "n_jobs" in parameter_names(spec):
        out["n_jobs"] = default_jobs() if jobs is None else check_positive_int("jobs", jobs)
    return out


def limit_threads(n_threads: int) -> None:
    """Cap this process's BLAS/OpenMP thread pools and torch's intra-op threads at ``n_threads``.

    The environment variables cover libraries loaded later (torch, faiss); threadpoolctl caps
    the pools already loaded. The initializer of the local grid engine's workers.
    """
    from threadpoolctl import threadpool_limits

    n_threads = check_positive_int("n_threads", n_threads)
    for var in _THREAD_ENV:
        os.environ[var] = str(n_threads)
    threadpool_limits(limits=n_threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n_threads)


def max_threads() -> int:
    """The largest BLAS/OpenMP thread pool loaded in this process."""
    from threadpoolctl import threadpool_info

    return max((int(i["num_threads"]) for i in threadpool_info()), default=1)
