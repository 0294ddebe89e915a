"""AutoAL's query time and peak memory next to UHerding, on digits and a CIFAR-10-sized pool.

Settings: scikit-learn's digits (1347 pool instances, D = 64, K = 10) and a synthetic
Gaussian-mixture pool of CIFAR-10's size with DINOv2-small's feature width (N = 50 000, D = 384,
K = 10), b = 10, |L| ∈ {20, 110} (an early and a middle cycle of the protocol's 20). The candidates are the
loop's random subset of 5000 of the unlabeled pool, as for every single strategy and
the published baselines' ``subset_size`` (``--subset 0``: the whole pool). For
each strategy (``autoal``, ``autoal-original``, ``uherding``) the median seconds of one query
(after one warm-up query on the same instance, so AutoAL's networks exist and the original
variant's three-fold first cycle is past) and the peak RSS growth are printed, with the ratio
to UHerding in the same process.

The authors' notebook (``evaluate_autoal.ipynb``, their cluster, CIFAR-10 with DINOv2, mean over
20 cycles): UHerding 0.68 s, AutoAL efficient 170 s, original 922 s per query.

Run: ``python benchmarks/bench_autoal.py [--settings digits cifar10-sized] [--labeled 20 110]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, measure

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.head import HeadTrainer
from refine.strategies import make_strategy

STRATEGIES = ("uherding", "autoal", "autoal-original")
AUTHORS = {"uherding": 0.68, "autoal": 170.0, "autoal-original": 922.0}


def setting(name: str, n_labeled: int, seed: int = 0):
    if name == "digits":
        data = load_dataset("digits")
    else:
        data = load_dataset(
            "synthetic",
            n_train=50_000,
            n_test=10,
            n_features=384,
            n_classes=10,
            cluster_std=2.0,
            seed=seed,
        )
    X, y = data.X_train, data.y_train
    rng = np.random.default_rng(seed)
    labeled = rng.choice(X.shape[0], n_labeled, replace=False)
    trainer = HeadTrainer(X.shape[1], data.n_classes, init_seed=0)  # the 200-epoch protocol
    head = trainer.fit(X[labeled], y[labeled], seed=0)
    ctx = SelectionContext(X, labeled, y[labeled], data.n_classes, trainer, head, seed=1)
    return ctx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=["digits", "cifar10-sized"])
    ap.add_argument("--labeled", type=int, nargs="+", default=[20, 110])
    ap.add_argument("--b", type=int, default=10)
    ap.add_argument(
        "--subset",
        type=int,
        default=5000,
        help="random candidate subset (the loop's default; 0: all)",
    )
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(machine_header())
    print(
        f"{'setting':>14} {'|L|':>4} {'cand':>6} {'strategy':>16} {'median s':>9} "
        f"{'peak ΔRSS MB':>12} {'× UHerding':>10} {'authors s':>9}",
        flush=True,
    )
    for name in args.settings:
        for n_lab in args.labeled:
            ctx = setting(name, n_lab)
            cand = ctx.unlabeled()
            if args.subset and cand.size > args.subset:
                cand = np.sort(np.random.default_rng(2).choice(cand, args.subset, replace=False))
            ctx.probas()
            base = None
            for strat_name in args.strategies:
                strat = make_strategy(strat_name)
                calls = iter(range(1000))
                r = measure(
                    lambda s=strat, c=cand, x=ctx, it=calls: s.select(
                        x, c, args.b, np.random.default_rng(next(it))
                    ),
                    repeats=args.repeats,
                )
                if strat_name == "uherding":
                    base = r["median_s"]
                ratio = f"{r['median_s'] / base:.0f}x" if base else "—"
                print(
                    f"{name:>14} {n_lab:>4} {cand.size:>6} {strat_name:>16} "
                    f"{r['median_s']:>9.2f} {r['delta_rss_mb']:>12.0f} {ratio:>10} "
                    f"{AUTHORS[strat_name]:>9.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
