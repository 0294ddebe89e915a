"""One Refine selection at CIFAR-10 and Tiny-ImageNet scale: median time, peak memory, breakdown.

Synthetic Gaussian-mixture features (D = 384): CIFAR-10 scale N = 50 000, K = 10, b = 10;
Tiny-ImageNet scale N = 100 000, K = 200, b = 200. The labeled set is the initial pool of b plus
one cycle (2b). Each setting runs serial (n_jobs = 1) and with n_jobs = 2; the per-strategy
breakdown is the time spent inside each strategy's draws (summed over rounds; with n_jobs = 2 the
sum exceeds wall time). A third setting (``--one-thread``, on by default) runs the serial query
with one BLAS/OpenMP/torch thread: a plain serial run already lets BLAS use both cores, so the
speed-up of ``n_jobs=2`` over it is bounded by what BLAS threads gained, while the speed-up over
the one-thread run measures how well the draws themselves run in parallel. Targets on a 2-core
machine: < 30 s (CIFAR-10 scale), < 3 min (Tiny-ImageNet scale), peak memory < 4 GB.

``--vs-authors`` puts the authors' published Refine (dal-toolbox, driven by
``../shared/tools/anchor_dal.sh refine-query``, which runs their code from a mirror of their
repository in a venv of its own) beside ours on the same dumped data (features, labels and the
labeled set): ``--pairs`` alternating runs (their query, then ours serial and with ``n_jobs=2``;
the order flips every pair), the load average printed before every run, the median of each side
and the ratios theirs/ours. Their query includes what their code does per query (training aside:
the driver times ``refine.query`` only); ours is ``Refine.select`` on a trained head. It needs
``DAL_MIRROR`` (the git dir of a mirror of ``github:dhuseljic/dal-toolbox``) the first time, and
is never run in CI.

``--bait-precision float64 auto`` runs every setting with each precision of Refine's BAIT member
(alternating), and prints the speed-up over the first and the instances the batches share.

Run: ``python benchmarks/bench_refine.py [--scales cifar10 tiny] [--repeats 1]``
     ``python benchmarks/bench_refine.py --scales tiny --jobs 2 --no-one-thread --bait-precision float64 auto``
     ``python benchmarks/bench_refine.py --vs-authors [--pairs 3] [--anchor PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakRSS, machine_header

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.head import HeadTrainer
from refine.strategies import make_strategy

#: N, K, b. "small" is a quick check of the plumbing (e.g. of --vs-authors), not a paper scale.
SCALES = {"cifar10": (50_000, 10, 10), "tiny": (100_000, 200, 200), "small": (1_000, 10, 10)}


def problem(scale: str):
    """The synthetic pool, the labeled set (the initial b plus one cycle), the trainer and head."""
    n, k, b = SCALES[scale]
    data = load_dataset(
        "synthetic", n_train=n, n_test=10, n_features=384, n_classes=k, cluster_std=2.0, seed=0
    )
    rng = np.random.default_rng(0)
    labeled = rng.choice(n, size=2 * b, replace=False)
    trainer = HeadTrainer(384, k, init_seed=0)
    head = trainer.fit(data.X_train[labeled], data.y_train[labeled], seed=0)
    return data, labeled, trainer, head


def one_query(
    prob,
    scale: str,
    n_jobs: int,
    seed: int,
    one_thread: bool = False,
    bait_precision: str = "auto",
    backend: str = "auto",
) -> tuple[float, dict, np.ndarray]:
    """Seconds, trace and batch of one Refine selection.

    ``one_thread``: BLAS, OpenMP and torch limited to one thread (the single-core baseline of
    the draws' parallelism; a plain serial run lets BLAS use every core). ``bait_precision``:
    the ``precision`` of Refine's BAIT member (``"auto"``, the default, or ``"float64"`` /
    ``"float32"``). ``backend``: the filter's ``parallel_backend`` for ``n_jobs > 1``.
    """
    import contextlib

    import torch
    from threadpoolctl import threadpool_limits

    data, labeled, trainer, head = prob
    n, k, b = SCALES[scale]
    ctx = SelectionContext(
        data.X_train, labeled, data.y_train[labeled], k, trainer, head, seed=seed
    )
    strategy = make_strategy(
        "refine",
        n_jobs=n_jobs,
        parallel_backend=backend,
        filter__strategy_params={"bait": {"precision": bait_precision}},
    )
    threads = torch.get_num_threads()
    with threadpool_limits(limits=1) if one_thread else contextlib.nullcontext():
        if one_thread:
            torch.set_num_threads(1)
        try:
            t0 = time.perf_counter()
            batch = strategy.select(ctx, ctx.unlabeled(), b, np.random.default_rng(seed))
            seconds = time.perf_counter() - t0
        finally:
            torch.set_num_threads(threads)
    assert np.unique(batch).size == b
    return seconds, strategy.trace_, batch


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def vs_authors(args: argparse.Namespace) -> None:
    """Alternating pairs: the authors' Refine query vs ours (serial and n_jobs=2), same data."""
    scale = args.scales[0]
    n, k, b = SCALES[scale]
    prob = problem(scale)
    data, labeled, _, _ = prob
    work = Path(tempfile.mkdtemp(prefix="bench_refine-authors-"))
    np.save(work / "X.npy", data.X_train)
    np.save(work / "y.npy", data.y_train.astype(np.int64))
    np.save(work / "labeled.npy", labeled.astype(np.int64))
    theirs, ours = [], {1: [], 2: []}
    one_query(prob, scale, 1, 0)  # warm-up (thread pools, memoised pieces are per context)

    def run_theirs(pair: int) -> None:
        cmd = [
            "bash", str(args.anchor), "refine-query", "--features", str(work / "X.npy"),
            "--labels", str(work / "y.npy"), "--labeled-idx", str(work / "labeled.npy"),
            "--b", str(b), "--seed", str(pair), "--eval-test", "none",
        ]  # fmt: skip
        print(f"  [{load()}] authors' code, seed {pair} ...", flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"anchor_dal.sh failed ({out.returncode}):\n{out.stderr[-3000:]}")
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        theirs.append(float(rec["query_total_s"]))
        print(f"    {theirs[-1]:.1f} s, pool sizes {rec.get('pool_sizes', '?')}", flush=True)

    def run_ours(pair: int) -> None:
        for nj in (1, 2):
            print(f"  [{load()}] ours, n_jobs={nj}, seed {pair} ...", flush=True)
            seconds, trace, _ = one_query(prob, scale, nj, pair)
            ours[nj].append(seconds)
            print(f"    {seconds:.2f} s, pool sizes {trace['pool_sizes']}", flush=True)

    print(
        f"{scale} scale (N={n}, K={k}, b={b}, |L|={labeled.size}), {args.pairs} alternating pairs"
    )
    for pair in range(1, args.pairs + 1):
        first, second = (run_theirs, run_ours) if pair % 2 else (run_ours, run_theirs)
        first(pair)
        second(pair)
    t = float(np.median(theirs))
    for nj in (1, 2):
        o = float(np.median(ours[nj]))
        print(
            f"n_jobs={nj}: authors' median {t:.1f} s, ours {o:.2f} s, ratio {t / o:.1f}x "
            f"(theirs {', '.join(f'{x:.1f}' for x in theirs)}; "
            f"ours {', '.join(f'{x:.2f}' for x in ours[nj])})"
        )
    print(machine_header())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=["cifar10", "tiny"], choices=list(SCALES))
    ap.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--one-thread",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the serial query with one BLAS/OpenMP/torch thread (the single-core "
        "baseline of the draws' parallelism)",
    )
    ap.add_argument(
        "--vs-authors", action="store_true", help="alternate with the authors' code (anchor_dal.sh)"
    )
    ap.add_argument("--pairs", type=int, default=3, help="alternating pairs for --vs-authors")
    ap.add_argument(
        "--anchor",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared/tools/anchor_dal.sh",
        help="the driver of the authors' code (default: ../shared/tools/anchor_dal.sh)",
    )
    ap.add_argument(
        "--backends",
        nargs="+",
        default=["processes", "threads"],
        choices=["auto", "processes", "threads"],
        help="parallel_backend of the n_jobs > 1 settings (each one a setting of its own)",
    )
    ap.add_argument(
        "--bait-precision",
        nargs="+",
        default=["auto"],
        choices=["auto", "float64", "float32"],
        help="BAIT's precision in Refine's ensemble; several: every setting runs with each "
        "(alternating), with the speed-up over the first and the instances the batches share",
    )
    args = ap.parse_args()
    print(machine_header())
    if args.vs_authors:
        if args.scales == ["cifar10", "tiny"]:
            args.scales = ["cifar10"]
        vs_authors(args)
        return
    # (label, n_jobs, one thread): a plain serial run lets BLAS use every core, so the speed-up of
    # n_jobs=2 over it is bounded by what BLAS threads already gained; the one-thread serial run
    # is the baseline of the draws' own parallelism
    backend_of: dict[str, str] = {}
    settings = []
    for nj in args.jobs:
        for be in args.backends if nj > 1 else ["auto"]:
            lab = f"n_jobs={nj}" + (f" {be}" if nj > 1 else "")
            backend_of[lab] = be
            settings.append((lab, nj, False))
    if args.one_thread:
        settings.insert(0, ("n_jobs=1, one thread", 1, True))
    precisions = args.bait_precision
    if len(precisions) > 1:  # every setting once per precision, labelled with it
        backend_of.update(
            {
                f"{lab}, bait {p}": backend_of.get(lab, "auto")
                for lab, *_ in settings
                for p in precisions
            }
        )
        settings = [
            (f"{lab}, bait {p}", nj, one, p) for lab, nj, one in settings for p in precisions
        ]
    else:
        settings = [(lab, nj, one, precisions[0]) for lab, nj, one in settings]
    for scale in args.scales:
        n, k, b = SCALES[scale]
        prob = problem(scale)
        one_query(prob, scale, 1, 0)  # warm-up: library thread pools
        times = {lab: [] for lab, *_ in settings}
        per = {lab: [] for lab, *_ in settings}
        batches = {lab: [] for lab, *_ in settings}
        with PeakRSS() as mem:
            for rep in range(1, args.repeats + 1):
                # alternate the order, so that a drifting load favours neither setting
                for lab, nj, one, prec in settings if rep % 2 else settings[::-1]:
                    print(f"  [{load()}] {scale}, {lab}, repeat {rep} ...", flush=True)
                    be = backend_of.get(lab, "auto")
                    seconds, trace, batch = one_query(prob, scale, nj, rep, one, prec, be)
                    times[lab].append(seconds)
                    per[lab].append(trace["seconds"])
                    batches[lab].append(batch.tolist())
                    pools = trace["pool_sizes"]
        medians = {lab: float(np.median(times[lab])) for lab in times}

        def bases(prec: str) -> list[str]:
            # the first setting and (with --one-thread) the plain n_jobs=jobs[0] one, same precision
            same = [(lab, nj, one) for lab, nj, one, q in settings if q == prec]
            out = [same[0][0]]
            if args.one_thread:
                out += [lab for lab, nj, one in same if nj == args.jobs[0] and not one][:1]
            return out

        print(
            f"\n{scale} scale (N={n}, K={k}, b={b}), {args.repeats} repeats, peak RSS "
            f"{mem.peak_mb / 1024:.2f} GB, pool sizes {pools}"
        )
        for lab, nj, _, prec in settings:
            med = medians[lab]
            ratio = ", ".join(
                f"{medians[base] / med:.2f}x {base}"
                for base in bases(prec)
                if base != lab and nj > 1
            )
            if prec != precisions[0]:  # the same setting with the first precision
                first = lab.replace(f"bait {prec}", f"bait {precisions[0]}")
                ratio += (", " if ratio else "") + f"{medians[first] / med:.2f}x {first}"
            ratio = f" ({ratio})" if ratio else ""
            print(f"  {lab}: median {med:.2f} s{ratio}  runs {[round(t, 2) for t in times[lab]]}")
            strat = {s: float(np.median([d[s] for d in per[lab]])) for s in per[lab][0]}
            print(
                "    "
                + "  ".join(
                    f"{s} {v:.2f}s" for s, v in sorted(strat.items(), key=lambda kv: -kv[1])
                )
            )
        for p in precisions:
            labs = [lab for lab, *_, q in settings if q == p]
            same = all(batches[lab] == batches[labs[0]] for lab in labs)
            what = f" (bait {p})" if len(precisions) > 1 else ""
            print(f"  identical batches for every setting{what}: {same}")
        for p in precisions[1:]:
            a = next(lab for lab, *_, q in settings if q == precisions[0])
            c = next(lab for lab, *_, q in settings if q == p)
            shared = [len(set(x) & set(y)) for x, y in zip(batches[a], batches[c], strict=True)]
            print(f"  instances shared by bait {precisions[0]} and {p} per repeat: {shared} of {b}")
    print(machine_header())


if __name__ == "__main__":
    main()
