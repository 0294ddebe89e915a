"""One Refine selection at CIFAR-10 and Tiny-ImageNet scale: median time, peak memory, breakdown.

Synthetic Gaussian-mixture features (D = 384): CIFAR-10 scale N = 50 000, K = 10, b = 10;
Tiny-ImageNet scale N = 100 000, K = 200, b = 200. The labeled set is the initial pool of b plus
one cycle (2b). Each setting runs serial (n_jobs = 1) and with n_jobs = 2; the per-strategy
breakdown is the time spent inside each strategy's draws (summed over rounds; with n_jobs = 2 the
sum exceeds wall time). Targets on a 2-core machine: < 30 s (CIFAR-10 scale), < 3 min
(Tiny-ImageNet scale), peak memory < 4 GB.

Reference (not rerun here; docs/protocol.md §7): the authors' code takes 68–90 s per query at CIFAR-10
scale and did not finish at Tiny-ImageNet scale (extrapolated 60–90 minutes).

Run: ``python benchmarks/bench_refine.py [--scales cifar10 tiny] [--repeats 1]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakRSS, machine_header

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.head import HeadTrainer
from refine.strategies import make_strategy

SCALES = {"cifar10": (50_000, 10, 10), "tiny": (100_000, 200, 200)}


def run(scale: str, n_jobs: int, repeats: int) -> dict:
    n, k, b = SCALES[scale]
    data = load_dataset(
        "synthetic", n_train=n, n_test=10, n_features=384, n_classes=k, cluster_std=2.0, seed=0
    )
    rng = np.random.default_rng(0)
    labeled = rng.choice(n, size=2 * b, replace=False)
    trainer = HeadTrainer(384, k, init_seed=0)
    head = trainer.fit(data.X_train[labeled], data.y_train[labeled], seed=0)
    times, traces = [], []
    with PeakRSS() as mem:
        for rep in range(repeats + 1):  # the first call warms up library thread pools
            ctx = SelectionContext(
                data.X_train, labeled, data.y_train[labeled], k, trainer, head, seed=rep
            )
            strategy = make_strategy("refine", n_jobs=n_jobs)
            t0 = time.perf_counter()
            batch = strategy.select(ctx, ctx.unlabeled(), b, np.random.default_rng(rep))
            if rep:
                times.append(time.perf_counter() - t0)
                traces.append(strategy.trace_)
            assert np.unique(batch).size == b
    per = {s: float(np.median([t["seconds"][s] for t in traces])) for s in traces[0]["seconds"]}
    return {
        "scale": scale,
        "n_jobs": n_jobs,
        "median_s": float(np.median(times)),
        "peak_rss_mb": mem.peak_mb,
        "pool_sizes": traces[0]["pool_sizes"],
        "per_strategy": per,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=list(SCALES), choices=list(SCALES))
    ap.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    print(machine_header())
    for scale in args.scales:
        serial = None
        for nj in args.jobs:
            r = run(scale, nj, args.repeats)
            n, k, b = SCALES[scale]
            serial = r["median_s"] if nj == 1 else serial
            ratio = (
                f" ({serial / r['median_s']:.2f}x the serial speed)" if nj > 1 and serial else ""
            )
            print(
                f"\n{scale} scale (N={n}, K={k}, b={b}), n_jobs={nj}: median {r['median_s']:.1f} s"
                f"{ratio}, peak RSS {r['peak_rss_mb'] / 1024:.2f} GB, pool sizes {r['pool_sizes']}"
            )
            print(
                "  "
                + "  ".join(
                    f"{s} {v:.2f}s"
                    for s, v in sorted(r["per_strategy"].items(), key=lambda kv: -kv[1])
                )
            )


if __name__ == "__main__":
    main()
