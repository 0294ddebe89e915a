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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 200])
    ap.add_argument("--b", type=int, nargs="+", default=[10, 200])
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-baseline-gb", type=float, default=4.0)
    ap.add_argument("--no-baselines", action="store_true")
    args = ap.parse_args()
    print(machine_header())
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
