"""Median head-training time (200 epochs, paper protocol) for |L| ∈ {10, 1000, 4000}, D=384, K=200.

Baseline in the same process: the same protocol written the usual way, with ``torch.nn.Linear``,
autograd, ``torch.optim.SGD`` and ``CosineAnnealingLR`` (what the published code does inside
Lightning, minus Lightning's overhead). Target on a 2-core machine: under 3 s at |L| = 4000.

Run: ``python benchmarks/bench_head.py [--repeats 3] [--epochs 200]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, measure

from refine.head import HeadConfig, HeadTrainer


def torch_reference(trainer: HeadTrainer, X: np.ndarray, y: np.ndarray, seed: int) -> None:
    cfg = trainer.config
    lin = torch.nn.Linear(X.shape[1], trainer.n_classes)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(trainer.init_weight))
        lin.bias.copy_(torch.from_numpy(trainer.init_bias))
    opt = torch.optim.SGD(
        lin.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
        weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    gen = torch.Generator().manual_seed(seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n, bs = len(X), cfg.batch_size
    stop = n - n % bs if n > bs else n
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, stop, bs):
            idx = perm[s : s + bs]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(Xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 4000])
    args = ap.parse_args()
    print(machine_header())
    D, K = 384, 200
    rng = np.random.default_rng(0)
    print(
        f"head training, {args.epochs} epochs, D={D}, K={K}, torch threads={torch.get_num_threads()}"
    )
    print(f"{'|L|':>6} {'refine (s)':>11} {'torch optim (s)':>16} {'ratio':>7} {'peak RSS MB':>12}")
    for n in args.sizes:
        X = rng.normal(size=(n, D)).astype(np.float32)
        y = rng.integers(0, K, n).astype(np.int64)
        tr = HeadTrainer(D, K, init_seed=0, config=HeadConfig(epochs=args.epochs))
        ours = measure(lambda tr=tr, X=X, y=y: tr.fit(X, y, seed=1), repeats=args.repeats)
        ref = measure(lambda tr=tr, X=X, y=y: torch_reference(tr, X, y, 1), repeats=args.repeats)
        print(
            f"{n:>6} {ours['median_s']:>11.3f} {ref['median_s']:>16.3f} "
            f"{ref['median_s'] / ours['median_s']:>6.2f}x {ours['peak_rss_mb']:>12.0f}"
        )


if __name__ == "__main__":
    main()
