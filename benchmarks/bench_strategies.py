"""Per-strategy selection time and peak memory, with scikit-activeml beside us in one process.

Settings: N ∈ {5 000, 50 000} candidates, D = 384, K ∈ {10, 200}, b ∈ {10, 200} on synthetic
Gaussian-mixture features with a trained head and |L| = 2b labeled instances. For every strategy
the median selection time (after one warm-up call) and the peak RSS growth during the calls are
printed; where scikit-activeml implements the same algorithm (BADGE, Coreset, TypiClust,
DropQuery, MaxHerding) its time on the same inputs and the ratio ``skactiveml / ours`` follow.
Baselines whose memory would exceed ``--max-baseline-gb`` (scikit-activeml's N×KD BADGE embedding,
its N×N herding kernel) are skipped and marked.

Targets (issue 3, 2-core machine): every strategy under 2 s at N = 5000, b = 200, K = 200, and
faster than scikit-activeml wherever both exist.

Run: ``python benchmarks/bench_strategies.py [--n 5000 50000] [--k 10 200] [--b 10 200]``

``--vs-previous`` (issue 21): the CIFAR-10-scale draws of Refine's first filtering round (pool
N = 50 000, D = 384, K = 10, b = 10, |L| = 20; 11 draws, each on its own 5000-subsample) for
TypiClust, ALFA-Mix, DropQuery and BADGE: median seconds per round over ``--pairs`` alternating
runs of the current kernels and of their predecessors (``benchmarks/_previous_kernels.py``,
swapped in where a kernel was rewritten), the ratio, and whether every batch is identical. Then
the same draws in two threads (one BLAS thread each, as Refine's ``n_jobs=2`` runs them) against
one thread: the speed-up shows which strategies hold the GIL.

Run: ``python benchmarks/bench_strategies.py --vs-previous [--pairs 3] [--round cifar10|digits]``
(``--round digits``: the first two rounds of a digits query, where the pools are small and
per-call overhead dominates).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, measure

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.head import HeadConfig, HeadTrainer
from refine.strategies import make_strategy
from refine.strategies.filtering import DEFAULT_ENSEMBLE

STRATEGIES = [*DEFAULT_ENSEMBLE, "coreset"]  # the nine of the ensemble, plus Coreset
BASELINE_MODULES = ["_skal_badge_bait_coreset", "_skal_typiclust_dropquery", "_skal_herding"]


def baselines() -> dict:
    out = {}
    for m in BASELINE_MODULES:
        out.update(importlib.import_module(m).BASELINES)
    return out


def baseline_gb(name: str, n: int, k: int, d: int) -> float:
    """Rough peak memory of scikit-activeml's implementation (float64)."""
    if name == "badge":
        return n * k * d * 8 / 2**30 * 2
    if name == "maxherding":
        return n * n * 8 / 2**30 * 2
    return n * d * 8 / 2**30


def setting(n: int, k: int, b: int, seed: int = 0):
    d = 384
    data = load_dataset(
        "synthetic",
        n_train=n + 2 * b,
        n_test=10,
        n_features=d,
        n_classes=k,
        cluster_std=2.0,
        seed=seed,
    )
    labeled = np.arange(n, n + 2 * b)
    trainer = HeadTrainer(d, k, init_seed=0, config=HeadConfig(epochs=50))
    head = trainer.fit(data.X_train[labeled], data.y_train[labeled], seed=0)
    ctx = SelectionContext(data.X_train, labeled, data.y_train[labeled], k, trainer, head, seed=1)
    return ctx, np.arange(n)


#: Rewritten kernels: (module, attribute, previous implementation in _previous_kernels).
_KMEANS = [
    ("refine.strategies._clustering", "kmeans_plusplus", "kmeans_plusplus_before_in_place"),
    ("refine.strategies._clustering", "lloyd", "lloyd_via_estimator"),
]
REWRITTEN = {
    "alfamix": [("refine.strategies.alfamix", "_near_ties", "near_ties_before_blocking"), *_KMEANS],
    "typiclust": _KMEANS,
    "dropquery": _KMEANS,
}


def cifar_round(seed: int = 0):
    """Context and the 11 subsamples of one Refine round at CIFAR-10 scale."""
    n, k, nl, d = 50_000, 10, 20, 384
    data = load_dataset(
        "synthetic", n_train=n, n_test=10, n_features=d, n_classes=k, cluster_std=2.0, seed=seed
    )
    labeled = np.random.default_rng(seed).choice(n, nl, replace=False)
    trainer = HeadTrainer(d, k, init_seed=0, config=HeadConfig(epochs=200))
    head = trainer.fit(data.X_train[labeled], data.y_train[labeled], seed=0)
    ctx = SelectionContext(data.X_train, labeled, data.y_train[labeled], k, trainer, head, seed=1)
    ctx.prepare(frozenset({"probas", "normalized_features", "head"}))
    unl = ctx.unlabeled()
    subs = [np.sort(np.random.default_rng(s).choice(unl, 5000, replace=False)) for s in range(11)]
    return ctx, subs


def digits_round(seed: int = 0):
    """Context and the draws of Refine's first two rounds on digits (the cpu presets' scale).

    |L| = 150 (cycle 14 of b = 10); round 1 scores the whole unlabeled pool in each of its 11
    draws, round 2 subsamples 125 of a 320-instance pool (the sizes of a real digits query).
    """
    from refine.trial_data import load_trial_dataset

    data = load_trial_dataset("digits")
    rng = np.random.default_rng(seed)
    labeled = rng.choice(data.n_train, 150, replace=False)
    trainer = HeadTrainer(data.n_features, data.n_classes, init_seed=0)
    head = trainer.fit(data.X_train[labeled], data.y_train[labeled], seed=0)
    ctx = SelectionContext(
        data.X_train, labeled, data.y_train[labeled], data.n_classes, trainer, head, seed=1
    )
    ctx.prepare(frozenset({"probas", "normalized_features", "head"}))
    unl = ctx.unlabeled()
    pool = np.sort(rng.choice(unl, 320, replace=False))
    later = [np.sort(np.random.default_rng(s).choice(pool, 125, replace=False)) for s in range(11)]
    return ctx, [unl] * 11 + later


def run_round(name: str, ctx, subs, threads: int = 1) -> tuple[float, list[np.ndarray]]:
    """Seconds for the 11 draws (``threads`` at a time, one BLAS thread each) and the batches."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    def draw(i: int) -> np.ndarray:
        return make_strategy(name).select(ctx, subs[i], 10, np.random.default_rng(i))

    with threadpool_limits(1):
        t0 = time.perf_counter()
        strategy = make_strategy(name)
        if threads == 1 and strategy.batched_draws:
            # as the serial filter runs it: the round's draws in one call (same batches)
            # (one call per round: the draws of a round have candidate sets of one size)
            out = []
            for size in dict.fromkeys(len(c) for c in subs):
                ids = [i for i, c in enumerate(subs) if len(c) == size]
                rngs = [np.random.default_rng(i) for i in ids]
                out += strategy.select_draws(ctx, [subs[i] for i in ids], 10, rngs)
        elif threads == 1:
            out = [draw(i) for i in range(len(subs))]
        else:
            with ThreadPoolExecutor(threads) as pool:
                out = list(pool.map(draw, range(len(subs))))
        return time.perf_counter() - t0, out


def swapped(name: str):
    """Context manager: the previous kernels of ``name`` swapped in."""
    import contextlib

    import _previous_kernels

    @contextlib.contextmanager
    def cm():
        saved = []
        if make_strategy(name).batched_draws:  # the previous code ran one draw at a time
            cls = type(make_strategy(name))
            saved.append((cls, "batched_draws", True))
            cls.batched_draws = False
        for mod_name, attr, prev in REWRITTEN.get(name, []):
            mod = importlib.import_module(mod_name)
            saved.append((mod, attr, getattr(mod, attr)))
            setattr(mod, attr, getattr(_previous_kernels, prev))
        try:
            yield
        finally:
            for mod, attr, fn in saved:
                setattr(mod, attr, fn)

    return cm()


def vs_previous(pairs: int, scale: str = "cifar10") -> None:
    import statistics

    if scale == "digits":
        ctx, subs = digits_round()
        print(
            "digits, Refine's first two rounds: 11 draws on the whole unlabeled pool (1197) and "
            "11 on 125-subsamples of a 320 pool, K=10, b=10, |L|=150; one BLAS thread"
        )
    else:
        ctx, subs = cifar_round()
        print(
            "CIFAR-10 scale, one Refine round: 11 draws on 5000-subsamples of N=50000, D=384, "
            "K=10, b=10, |L|=20; one BLAS thread"
        )
    print(
        f"{'strategy':>10} {'before s':>9} {'now s':>8} {'ratio':>6} {'same':>5} "
        f"{'2 threads s':>12} {'speed-up':>9}"
    )
    for name in ("typiclust", "alfamix", "dropquery", "badge"):
        run_round(name, ctx, subs[:2])  # warm-up
        old_t, new_t, same = [], [], True
        for _ in range(pairs):
            with swapped(name):
                t_old, b_old = run_round(name, ctx, subs)
            t_new, b_new = run_round(name, ctx, subs)
            old_t.append(t_old)
            new_t.append(t_new)
            same &= all(np.array_equal(a, b) for a, b in zip(b_old, b_new, strict=True))
        par_t, b_par = run_round(name, ctx, subs, threads=2)
        same &= all(np.array_equal(a, b) for a, b in zip(b_new, b_par, strict=True))
        o, n_ = statistics.median(old_t), statistics.median(new_t)
        print(
            f"{name:>10} {o:>9.3f} {n_:>8.3f} {o / n_:>5.2f}x {str(same):>5} {par_t:>12.3f} "
            f"{n_ / par_t:>8.2f}x",
            flush=True,
        )
    print(f"after: {machine_header()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 200])
    ap.add_argument("--b", type=int, nargs="+", default=[10, 200])
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-baseline-gb", type=float, default=4.0)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument(
        "--vs-previous",
        action="store_true",
        help="CIFAR-scale round: current kernels against their predecessors, and 2 threads",
    )
    ap.add_argument("--pairs", type=int, default=3, help="alternating pairs for --vs-previous")
    ap.add_argument(
        "--round",
        choices=["cifar10", "digits"],
        default="cifar10",
        help="the draws of --vs-previous: CIFAR-10 scale, or digits (the cpu presets)",
    )
    args = ap.parse_args()
    print(machine_header())
    if args.vs_previous:
        vs_previous(args.pairs, args.round)
        return
    base = {} if args.no_baselines else baselines()
    print(
        f"{'N':>6} {'K':>4} {'b':>4} {'strategy':>11} {'ours s':>8} {'ΔRSS MB':>8} "
        f"{'skal s':>8} {'ratio':>7}"
    )
    for n in args.n:
        for k in args.k:
            for b in args.b:
                ctx, cand = setting(n, k, b)
                probas = ctx.probas()
                reps = args.repeats if n <= 5000 else 1
                for name in args.strategies:
                    strat = make_strategy(name)
                    ours = measure(
                        lambda s=strat, ctx=ctx, cand=cand, b=b: s.select(
                            ctx, cand, b, np.random.default_rng(0)
                        ),
                        repeats=reps,
                    )
                    skal = ratio = "—"
                    if name in base:
                        if baseline_gb(name, n, k, 384) > args.max_baseline_gb:
                            skal = "skipped"
                        else:
                            fn = base[name]
                            r = measure(
                                lambda fn=fn, ctx=ctx, probas=probas, cand=cand, b=b: fn(
                                    ctx.X, probas, ctx.labeled, ctx.labels, cand, b, 0
                                ),
                                repeats=reps,
                            )
                            skal = f"{r['median_s']:.3f}"
                            ratio = f"{r['median_s'] / ours['median_s']:.1f}x"
                    print(
                        f"{n:>6} {k:>4} {b:>4} {name:>11} {ours['median_s']:>8.3f} "
                        f"{ours['delta_rss_mb']:>8.0f} {skal:>8} {ratio:>7}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
