"""Wall time and peak memory of ``refine select`` on a large pool of precomputed embeddings.

Setting of the issue: 100 000 synthetic 384-d embeddings
(``load_dataset("synthetic", n_train=100000, n_features=384, n_classes=50)``), 2 000 random
instances labeled (string class names, imported with ``refine label``), budget 200, the default
strategy (Refine with the published configuration: nine strategies, R = 5, m = 11, α = 0.4) and
the paper's head protocol (200 epochs). Target: under 3 minutes and under 4 GB peak RSS.

What is timed is exactly what ``refine select PROJECT --budget 200 --out batch.csv`` does after
start-up: open the project (verify ids and features), train the head, run the strategy, record
the round and write the batch file. The project is built (untimed) in a temporary folder; each
repeat runs on a fresh copy, so every repeat sees the same state.

``refine select`` runs Refine's filtering draws in one thread per CPU core, each with one BLAS
thread (``--jobs``; the batch does not depend on it). ``--jobs 1`` measures the serial path,
where BLAS and torch use their default thread pools.

Run: ``python benchmarks/bench_select.py [--repeats 1] [--n 100000] [--jobs 1]``
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, measure

from refine.cli import parse_params
from refine.datasets import load_dataset
from refine.project import Project


def build_project(root: Path, args: argparse.Namespace) -> Project:
    """Embeddings + ids on disk → ``refine init`` → ``refine label`` with ``args.labels`` labels."""
    data = load_dataset(
        "synthetic",
        n_train=args.n,
        n_test=10,
        n_features=args.dim,
        n_classes=args.classes,
        seed=args.data_seed,
    )
    inputs = root / "inputs"
    inputs.mkdir(parents=True)
    np.save(inputs / "emb.npy", data.X_train)
    ids = [f"img-{i:06d}.jpg" for i in range(args.n)]
    (inputs / "ids.txt").write_text("\n".join(ids) + "\n")
    project = Project.create(
        root / "project", features=inputs / "emb.npy", ids=inputs / "ids.txt", progress=False
    )
    rng = np.random.default_rng(args.data_seed)
    labeled = rng.choice(args.n, args.labels, replace=False)
    rows = "".join(f"{ids[i]},class-{int(data.y_train[i]):03d}\n" for i in labeled)
    (inputs / "labels.csv").write_text("id,label\n" + rows)
    project.add_labels(inputs / "labels.csv")
    return project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="pool size")
    ap.add_argument("--dim", type=int, default=384, help="embedding dimension")
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--labels", type=int, default=2000, help="labeled instances")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--strategy", default="refine")
    ap.add_argument("--param", action="append", help="strategy parameter KEY=VALUE")
    ap.add_argument("--epochs", type=int, default=200, help="head epochs (paper: 200)")
    ap.add_argument("--jobs", type=int, default=None, help="filtering threads (default: cores)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7, help="selection seed")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="where to build (default: tmp)")
    args = ap.parse_args()
    print(machine_header())
    params = parse_params(args.param)

    import torch

    work = Path(tempfile.mkdtemp(prefix="bench_select-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        base = build_project(work / "base", args).root
        setup_s = time.perf_counter() - t0
        gc.collect()
        print(
            f"refine select: N={args.n}, D={args.dim}, K={args.classes}, |L|={args.labels}, "
            f"budget={args.budget}, strategy={args.strategy} {params or ''}, epochs={args.epochs}, "
            f"torch threads={torch.get_num_threads()} (setup {setup_s:.1f}s)",
            flush=True,
        )
        runs: list[dict] = []
        times: list[float] = []
        peaks: list[float] = []

        def one_run() -> None:
            copy = work / f"run-{len(runs)}"
            shutil.copytree(base, copy)
            start = time.perf_counter()
            p = Project.open(copy)
            rec = p.select(
                args.budget,
                strategy=args.strategy,
                strategy_params=params,
                seed=args.seed,
                head_epochs=args.epochs,
                jobs=args.jobs,
            )
            p.write_batch(work / f"batch-{len(runs)}.csv", p.batch_rows(rec))
            times.append(time.perf_counter() - start)
            runs.append(rec)

        for _ in range(args.warmup):
            one_run()
        runs.clear()
        times.clear()
        for _ in range(args.repeats):
            res = measure(one_run, repeats=1, warmup=0)
            peaks.append(res["peak_rss_mb"])
            shutil.rmtree(work / f"run-{len(runs) - 1}")
        rec = runs[-1]
        trace = rec.get("trace") or {}
        print(
            f"median wall time   {statistics.median(times):8.1f} s   (runs: "
            f"{', '.join(f'{t:.1f}' for t in times)})"
        )
        print(f"peak RSS           {max(peaks):8.0f} MB")
        print(
            f"selected           {len(rec['selected'])} ({rec['used_strategy']}, jobs={rec['jobs']})"
        )
        if trace:
            print(f"pool sizes         {trace.get('pool_sizes')}")
            secs = trace.get("seconds") or {}
            print("seconds/strategy   " + ", ".join(f"{k} {v:.1f}" for k, v in secs.items()))
        same = len({json.dumps(r["selected"]) for r in runs}) == 1
        print(f"identical batches across repeats: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
