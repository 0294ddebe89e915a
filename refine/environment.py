"""The software and hardware a result was computed on (recorded with every trial).

Runs of the same code with the same seeds give the same selections bit for bit on one machine,
but not necessarily on another: the BLAS library picks its kernels by CPU (OpenBLAS's
``DYNAMIC_ARCH``), torch picks its own, and a newer numpy, SciPy or scikit-learn may sum in
another order. A last-bit change moves a D²-sampling boundary or a near-tie somewhere in the
thousands of draws of a filtered trial, and the trial then parts from the other run (REPRODUCING.md,
"Result-neutral means bit for bit"). Each trial's results file therefore records
:func:`fingerprint`, so that two runs that disagree can be told apart by what they ran on.
"""

from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata

#: Distributions whose versions can change a result.
PACKAGES = ("refine-al", "numpy", "scipy", "scikit-learn", "torch", "threadpoolctl")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _blas() -> list[str]:
    """The loaded BLAS/OpenMP libraries as ``"api library version architecture"`` strings."""
    from threadpoolctl import threadpool_info

    out = []
    for info in threadpool_info():
        parts = [info.get("internal_api"), info.get("version"), info.get("architecture")]
        out.append(" ".join(str(p) for p in parts if p))
    return sorted(set(out))


@functools.lru_cache(maxsize=1)
def fingerprint() -> dict:
    """This process's environment: Python, CPU, package versions and BLAS kernels.

    Returns
    -------
    dict
        JSON-able; the same for every call of a process (computed once).

    Examples
    --------
    >>> from refine.environment import fingerprint
    >>> sorted(fingerprint())
    ['blas', 'cpu', 'machine', 'packages', 'python', 'torch_cpu_capability']
    """
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl reports)
    import torch

    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # pragma: no cover - a torch without the query
        capability = None
    return {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "torch_cpu_capability": capability,
        "packages": {p: _version(p) for p in PACKAGES},
        "blas": _blas(),
    }
