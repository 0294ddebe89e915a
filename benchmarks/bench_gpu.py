"""One Refine query with the strategies' numpy kernels vs their torch kernels on ``--device``.

Settings (synthetic Gaussian-mixture features, D = 384, the labeled set is 2b as in
``bench_refine.py``): CIFAR-10 scale N = 50 000, K = 10, b = 10, |L| = 20; Tiny-ImageNet scale
N = 100 000, K = 200, b = 200, |L| = 400. Each path runs one warm-up query and ``--repeats``
timed ones (seeds 1..repeats, a fresh selection context each, so moving the pool features to the
device is part of every timed query); the numpy path runs on the CPU, the torch path with
``SelectionContext(kernel_device=DEVICE)`` and the UHerding temperature head trained on
``DEVICE``. Printed per scale and path: median and minimum seconds, the seconds inside each
ensemble member's draws (median over repeats; ``final+rest`` is the remainder: the final
UHerding and the filter's bookkeeping), and whether both paths selected the same batch.

The two paths do the same arithmetic in the same precision but with different summation orders
(numpy's BLAS, torch's CPU or CUDA kernels), so they agree to float round-off (~1e-7 relative
in float32), not bit for bit. On small pools that gives the same batches
(``tests/test_torch_path.py``); at these scales a Refine query runs ~165 k-means fits on
5 000 × 384 points, where one point nearly equidistant (within round-off) from two centres in
some Lloyd iteration is likely, and from there the clusters, the filtered pool and the batch may
differ — as scikit-learn's own k-means differs between thread counts. The last line therefore
also counts the instances both batches share.

Goal on one H200 (issue 21): CIFAR-10 scale under 1 s, Tiny-ImageNet scale under 5 s. With
``--device cpu`` the torch path runs the same code on the CPU (a check that it works and selects
what numpy selects, not a speed result).

Expected output (the numbers depend on the machine; the shape does not). With ``--device cpu
--scales cifar10 --repeats 1`` on the 2-core development machine under load it printed::

    machine: 2 cores, load average 10.70, thread pools openblas=1, openmp=1  [busy machine: ...]
    torch 2.14.1+cu130, torch path on cpu (CPU), numpy path on the CPU
    cifar10 scale (N=50000, D=384, K=10, b=10, |L|=20), 1 repeat(s)
      numpy  median 20.85 s  min 20.85 s | maxherding 5.03  uherding 4.91  bait 4.54 ... final+rest 0.20
      torch  median 31.56 s  min 31.56 s | maxherding 9.40  uherding 9.09  bait 4.57 ... final+rest 0.29
      torch/numpy time 1.513; same batch in 0/1 repeats (8/10 instances in common)

Run: ``python benchmarks/bench_gpu.py --device cuda [--scales cifar10 tiny] [--repeats 3]``.
On a GPU machine lent for a short time, one check covers both the tests on CUDA and the
figures: ``python -m pytest tests/test_torch_path.py -q && python benchmarks/bench_gpu.py
--device cuda --repeats 3`` (the CUDA cases of the tests run only where CUDA is present).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.device import resolve_device
from refine.head import HeadTrainer
from refine.strategies import make_strategy

#: scale → (N, K, b); |L| = 2b
SCALES = {"cifar10": (50_000, 10, 10), "tiny": (100_000, 200, 200)}


def _sync(device: str | None) -> None:
    if device is not None and device.startswith("cuda"):
        torch.cuda.synchronize()


def run_path(data, labeled, head, k: int, b: int, device: str | None, repeats: int) -> dict:
    """Time ``repeats`` Refine queries (after one warm-up); ``device=None`` is the numpy path."""
    trainer = HeadTrainer(384, k, init_seed=0, device=device or "cpu")
    times, traces, batches = [], [], []
    for rep in range(repeats + 1):
        ctx = SelectionContext(
            data.X_train,
            labeled,
            data.y_train[labeled],
            k,
            trainer,
            head,
            seed=rep,
            kernel_device=device,
        )
        strategy = make_strategy("refine", n_jobs=1)
        _sync(device)
        t0 = time.perf_counter()
        batch = strategy.select(ctx, ctx.unlabeled(), b, np.random.default_rng(rep))
        _sync(device)
        elapsed = time.perf_counter() - t0
        if rep:  # rep 0 warms up thread pools, CUDA context and kernels
            times.append(elapsed)
            traces.append(strategy.trace_)
            batches.append(np.sort(batch))
    per = {s: statistics.median(t["seconds"][s] for t in traces) for s in traces[0]["seconds"]}
    rest = statistics.median(
        t - sum(tr["seconds"].values()) for t, tr in zip(times, traces, strict=True)
    )
    per["final+rest"] = rest
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "per": per,
        "batches": batches,
    }


def _line(name: str, r: dict) -> str:
    members = "  ".join(
        f"{s} {v:.2f}"
        for s, v in sorted(r["per"].items(), key=lambda kv: (kv[0] == "final+rest", -kv[1]))
    )
    return f"  {name:<6} median {r['median_s']:.2f} s  min {r['min_s']:.2f} s | {members}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--device", default="cuda", help="torch device of the torch path: cuda, cuda:N, cpu, mps"
    )
    ap.add_argument("--scales", nargs="+", default=list(SCALES), choices=list(SCALES))
    ap.add_argument("--repeats", type=int, default=3, help="timed queries per path (median)")
    ap.add_argument(
        "--paths",
        nargs="+",
        default=["numpy", "torch"],
        choices=["numpy", "torch"],
        help="which paths to run (both by default)",
    )
    args = ap.parse_args(argv)
    device = str(resolve_device(args.device))
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else device.upper()
    print(machine_header())
    print(f"torch {torch.__version__}, torch path on {device} ({name}), numpy path on the CPU")
    for scale in args.scales:
        n, k, b = SCALES[scale]
        data = load_dataset(
            "synthetic", n_train=n, n_test=10, n_features=384, n_classes=k, cluster_std=2.0, seed=0
        )
        labeled = np.random.default_rng(0).choice(n, size=2 * b, replace=False)
        head = HeadTrainer(384, k, init_seed=0).fit(
            data.X_train[labeled], data.y_train[labeled], seed=0
        )
        print(f"{scale} scale (N={n}, D=384, K={k}, b={b}, |L|={2 * b}), {args.repeats} repeat(s)")
        results = {}
        for path in args.paths:
            dev = None if path == "numpy" else device
            results[path] = run_path(data, labeled, head, k, b, dev, args.repeats)
            print(_line(path, results[path]), flush=True)
        if len(results) == 2:
            pairs = list(zip(results["numpy"]["batches"], results["torch"]["batches"], strict=True))
            same = sum(np.array_equal(x, y) for x, y in pairs)
            shared = sum(np.intersect1d(x, y).size for x, y in pairs)
            ratio = results["torch"]["median_s"] / results["numpy"]["median_s"]
            print(
                f"  torch/numpy time {ratio:.3f}; same batch in {same}/{args.repeats} repeats "
                f"({shared}/{b * args.repeats} instances in common)"
            )


if __name__ == "__main__":
    main()
