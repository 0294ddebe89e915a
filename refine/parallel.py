"""How many cores a run may use, and keeping library thread pools from oversubscribing them.

Two kinds of parallelism meet in this package: Refine's filtering draws run in threads
(``n_jobs``, :mod:`refine.filtering`), and experiment grids run trials in processes
(:mod:`refine.grid`). Both give the same results as a serial run; only the speed changes. What
does need care is the BLAS/OpenMP/torch thread pools inside them: by default every process starts
one thread per core, so ``w`` workers on ``c`` cores run ``w·c`` busy-waiting threads. On the
2-core development machine that made one Refine query at Tiny-ImageNet scale take 791 s instead of
47 s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from refine.errors import check_positive_int

#: Strategy parameters that change the speed of a run, never its result (compared neither on
#: resume nor between runs).
RESULT_NEUTRAL_PARAMS = frozenset({"n_jobs"})

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_jobs() -> int:
    """Number of CPU cores this process may use (the default of ``jobs``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def with_jobs(spec: str, params: Mapping[str, Any] | None, jobs: int | None) -> dict[str, Any]:
    """``params`` plus ``n_jobs`` for strategies that take it (Refine, ``filtered:*``).

    Parallel filtering draws run one BLAS thread each and give the same batch as serial ones
    (:mod:`refine.filtering`), so ``jobs`` changes the speed, never the result. An ``n_jobs``
    given in ``params`` wins; ``jobs=None`` means :func:`default_jobs`.
    """
    from refine.strategies import make_strategy

    out = dict(params or {})
    if "n_jobs" in out:
        return out
    if "n_jobs" in make_strategy(spec, **out).get_params(deep=False):
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
