"""Median selection time per cycle of the ensemble baselines (TCM, SelectAL, TAILOR).

Setting of the issue: N = 50 000 pool instances, D = 384, K = 10, b = 10, synthetic features
(``load_dataset("synthetic", n_train=50000, n_features=384, n_classes=10)``), labeled sets of
10 and 100 random instances, and the candidates the AL loop hands a strategy: a random subsample
of 5000 unlabeled instances (the published single strategies' ``subset_size``), and optionally the whole
unlabeled pool.

Each measured call gets a fresh :class:`~refine.context.SelectionContext` holding the head
already trained on L (as in the loop, where the head is trained before selection and not counted
in ``selection_seconds``), so memoised model outputs are recomputed in every call, as they are
once per cycle in a run. TCM is timed in both phases (a cycle ≤ 3 uses TypiClust, later cycles
Margin; the median cycle of a 20-cycle run is a Margin cycle). TAILOR's arms are the nine of
Refine's ensemble (those registered, listed in the header).

TAILOR on the whole pool is skipped unless asked for: its MaxHerding and UHerding arms score every
candidate against every other (an n × n RBF kernel, 10 GB at n = 50 000, recomputed by blocks).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_ensembles.py [--repeats 3] [--whole-pool]
[--per-pick] [--whole-pool-tailor]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, measure

from refine.context import SelectionContext
from refine.datasets import load_dataset
from refine.head import HeadConfig, HeadTrainer
from refine.strategies import available_strategies, make_strategy
from refine.strategies.filtering import DEFAULT_ENSEMBLE

#: (label, strategy name, parameters, cycle of the context)
CASES = [
    ("tcm (cycle 1-3: TypiClust)", "tcm", {}, 1),
    ("tcm (cycle 4+: Margin)", "tcm", {}, 4),
    ("selectal", "selectal", {}, 1),
    ("tailor", "tailor", {}, 1),
    ("tailor per_pick", "tailor", {"mode": "per_pick"}, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--labeled", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--subsample", type=int, default=5000)
    ap.add_argument("--whole-pool", action="store_true", help="also time on all unlabeled")
    ap.add_argument("--per-pick", action="store_true", help="also time TAILOR's per_pick mode")
    ap.add_argument(
        "--whole-pool-tailor",
        action="store_true",
        help="also time TAILOR on the whole pool (its herding arms build a 50 000² kernel)",
    )
    ap.add_argument("--cases", nargs="+", default=None, help="labels' first word to keep")
    args = ap.parse_args()
    print(machine_header())

    n, d, k, b = 50_000, 384, 10, 10
    data = load_dataset("synthetic", n_train=n, n_test=10, n_features=d, n_classes=k)
    X, y = data.X_train, data.y_train
    arms = [s for s in DEFAULT_ENSEMBLE if s in available_strategies()]
    missing = [s for s in DEFAULT_ENSEMBLE if s not in arms]
    print(
        f"N={n} D={d} K={k} b={b}, torch threads={torch.get_num_threads()}, "
        f"repeats={args.repeats}; TAILOR arms: {', '.join(arms)}"
        + (f" (not registered yet: {', '.join(missing)})" if missing else "")
    )
    trainer = HeadTrainer(d, k, init_seed=0, config=HeadConfig())
    cases = [c for c in CASES if args.per_pick or "per_pick" not in c[0]]
    if args.cases:
        cases = [c for c in cases if c[0].split()[0] in args.cases]
    sizes = [args.subsample] + ([None] if args.whole_pool else [])
    print(f"{'strategy':<28} {'|L|':>5} {'candidates':>10} {'median s':>9} {'peak RSS MB':>12}")
    for n_lab in args.labeled:
        rng = np.random.default_rng(n_lab)
        labeled = rng.choice(n, n_lab, replace=False)
        t0 = time.perf_counter()
        head = trainer.fit(X[labeled], y[labeled], seed=0)
        print(f"# head for |L|={n_lab}: {time.perf_counter() - t0:.2f} s (not counted)")
        unlabeled = np.setdiff1d(np.arange(n), labeled)
        for size in sizes:
            cand = (
                unlabeled if size is None else np.sort(rng.choice(unlabeled, size, replace=False))
            )
            for label, name, params, cycle in cases:
                if size is None and name == "tailor" and not args.whole_pool_tailor:
                    # MaxHerding/UHerding score every candidate against every other: an
                    # n × n RBF kernel, 10 GB at n = 50 000, recomputed by blocks (O(n²·D)).
                    print(
                        f"{label:<28} {n_lab:>5} {cand.size:>10} {'skipped (--whole-pool-tailor)':>22}"
                    )
                    continue
                params = dict(params)
                if name == "tailor":
                    params["strategies"] = arms

                def call(
                    name=name, params=params, cycle=cycle, cand=cand, lab=labeled, h=head
                ) -> None:
                    ctx = SelectionContext(X, lab, y[lab], k, trainer, h, seed=1, cycle=cycle)
                    make_strategy(name, **params).select(ctx, cand, b, np.random.default_rng(0))

                try:
                    res = measure(call, repeats=args.repeats, warmup=args.warmup)
                except MemoryError:
                    print(f"{label:<28} {n_lab:>5} {cand.size:>10} {'out of memory':>22}")
                    continue
                print(
                    f"{label:<28} {n_lab:>5} {cand.size:>10} {res['median_s']:>9.3f} "
                    f"{res['peak_rss_mb']:>12.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
