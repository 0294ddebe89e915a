"""Shared benchmark helpers: median wall time and peak memory of a callable."""

from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections.abc import Callable

import psutil


class PeakRSS:
    """Sample the process RSS in a background thread; ``peak_mb`` is the maximum seen."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def __enter__(self) -> PeakRSS:
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def delta_mb(self) -> float:
        """Peak RSS above the RSS at entry (what this call added)."""
        return (self.peak - self.base) / 2**20


class TreePSS:
    """Peak of the summed PSS of this process and its children (forked draw workers).

    PSS shares each page among the processes mapping it, so the sum is the memory the process
    tree holds: the pool features a parent shares copy-on-write with its workers count once.
    ``VmHWM`` of the parent alone misses the workers' own arrays.
    """

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _sample(self) -> int:
        total = 0
        for p in [self._proc, *self._proc.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except (psutil.Error, AttributeError):  # gone, or no PSS on this platform
                pass
        return total

    def __enter__(self) -> TreePSS:
        self.peak = self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._sample())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def measure(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> dict:
    """Median seconds over ``repeats`` calls (after ``warmup``) and peak RSS during them."""
    for _ in range(warmup):
        fn()
    gc.collect()
    times = []
    with PeakRSS() as mem:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "peak_rss_mb": mem.peak_mb,
        "delta_rss_mb": mem.delta_mb,
    }


def machine_header() -> str:
    """One line on the conditions of a measurement: cores, BLAS threads, load average.

    Timings taken while other processes share the cores are upper bounds; the line says so when
    the 1-minute load average exceeds half the cores at the start of the benchmark.
    """
    import numpy  # noqa: F401  (loads the BLAS whose thread pool is reported)
    from threadpoolctl import threadpool_info

    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    blas = sorted({f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()})
    line = f"machine: {cores} cores, load average {load:.2f}, thread pools {', '.join(blas)}"
    if load > cores / 2:
        line += "  [busy machine: timings are upper bounds]"
    return line
