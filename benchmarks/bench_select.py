"""Wall time and peak memory of ``refine select`` on a large pool of precomputed embeddings.

Setting of the issue: 100 000 synthetic 384-d embeddings
(``load_dataset("synthetic", n_train=100000, n_features=384, n_classes=50)``), 2 000 random
instances labeled (string class names, imported with ``refine label``), budget 200, the default
strategy (Refine with the published configuration: nine strategies, R = 5, m = 11, α = 0.4) and
the paper's head protocol (200 epochs). Target: under 3 minutes and under 4 GB peak RSS.

What is timed is exactly what ``refine select PROJECT --budget 200 --out batch.csv`` does after
start-up: open the project (verify ids and features), train the head, run the strategy, record
the round and write the batch file. The project is built (untimed) once in a temporary folder;
each run works on a fresh copy (hard links: the project folder is append-only and written
atomically), so every run sees the same state.

Two modes:

- ``--strategy NAME`` (default ``refine``): repeats in this process, as before.
- ``--strategies all`` or ``--strategies a,b,c``: every strategy in a fresh subprocess, so that
  its peak memory is its own: the larger of ``VmHWM`` (the process's high-water mark, features
  and head included) and the peak summed PSS of the process and its forked draw workers
  (``_common.TreePSS``: shared pages counted once); a table of time and peak RSS per strategy, marked against ``--max-seconds`` and
  ``--max-gb`` (issue 21 at N = 1 000 000: 60 s and 8 GB). A strategy still running after
  ``--timeout`` seconds is stopped and reported as such.

``refine select`` runs Refine's filtering draws in one worker per CPU core (forked processes on
Linux, ``parallel_backend``), each with one BLAS thread (``--jobs``; the batch does not depend on it). ``--jobs 1`` measures the serial path,
where BLAS and torch use their default thread pools.

Each line also says whether the strategy used its large-pool rule (``trace["large_pool"]``: a
uniform subsample of the candidates above a threshold, see ``refine/strategies/_large_pool.py``).

Run: ``python benchmarks/bench_select.py [--repeats 1] [--n 100000] [--jobs 1]``
     ``python benchmarks/bench_select.py --n 1000000 --labels 1000 --strategies all``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TreePSS, machine_header, measure

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
    ids = [f"img-{i:07d}.jpg" for i in range(args.n)]
    (inputs / "ids.txt").write_text("\n".join(ids) + "\n")
    labeled = np.random.default_rng(args.data_seed).choice(args.n, args.labels, replace=False)
    y = data.y_train[labeled]
    del data
    project = Project.create(root / "project", features=inputs / "emb.npy", ids=inputs / "ids.txt")
    rows = "".join(f"{ids[i]},class-{int(c):03d}\n" for i, c in zip(labeled, y, strict=True))
    (inputs / "labels.csv").write_text("id,label\n" + rows)
    project.add_labels(inputs / "labels.csv")
    (inputs / "emb.npy").unlink()  # the project holds its own copy
    return project


def link_copy(src: Path, dst: Path) -> None:
    """A copy of the project folder made of hard links (falls back to copying)."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


def select_once(base: Path, copy: Path, args: argparse.Namespace, strategy: str, params) -> dict:
    """One ``refine select`` on a fresh copy of ``base``; returns the record and the seconds."""
    link_copy(base, copy)
    start = time.perf_counter()
    p = Project.open(copy)
    rec = p.select(
        args.budget,
        strategy=strategy,
        strategy_params=params,
        seed=args.seed,
        head_epochs=args.epochs,
        jobs=args.jobs,
    )
    p.write_batch(copy.parent / f"{copy.name}-batch.csv", p.batch_rows(rec))
    return {"seconds": time.perf_counter() - start, "record": rec}


def parse_strategies(text: str) -> list[str]:
    from refine.strategies import available_strategies

    names = available_strategies() if text == "all" else [s.strip() for s in text.split(",")]
    known = set(available_strategies())
    bad = [s for s in names if s not in known]
    if bad:
        raise SystemExit(f"--strategies: unknown {bad}; choose from all or {sorted(known)}")
    return names


def peak_rss_kb() -> float:
    """This process's peak RSS in kB: ``VmHWM`` of its address space.

    Not ``ru_maxrss``: that survives ``fork`` + ``exec``, so a child started by a parent that
    holds the generated pool would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # an upper bound (see above)


def child_main(args: argparse.Namespace) -> None:
    """``--child``: one strategy, one run; prints one JSON line (seconds, peak RSS, trace keys)."""
    params = parse_params(args.param)
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    with TreePSS() as tree:  # the forked draw workers' own memory too
        out = select_once(args.base, args.copy, args, args.strategy, params)
    rec = out["record"]
    trace = rec.get("trace") or {}
    large = trace.get("large_pool")
    peak_kb = max(peak_rss_kb(), tree.peak / 1024)
    print(
        "RESULT "
        + json.dumps(
            {
                "seconds": out["seconds"],
                "select_s": rec["seconds"],
                "peak_rss_mb": peak_kb / 1024,
                "selected": len(rec["selected"]),
                "large_pool": large and f"{large['sample']} of {large['n']} {large['of']}",
            }
        ),
        flush=True,
    )


def run_all(args: argparse.Namespace, base: Path, work: Path) -> None:
    names = parse_strategies(args.strategies)
    print(
        f"{'strategy':>16} {'seconds':>9} {'selection':>10} {'peak RSS MB':>12}  verdict "
        f"(≤ {args.max_seconds:.0f} s and ≤ {args.max_gb:.0f} GB)",
        flush=True,
    )
    print(
        "  (seconds: open + verify + select + record, as `refine select`; selection: head "
        "training and the strategy)"
    )
    ok_all = True
    for name in names:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--base",
            str(base),
            "--copy",
            str(work / f"run-{name}"),
            "--strategy",
            name,
            "--budget",
            str(args.budget),
            "--epochs",
            str(args.epochs),
            "--seed",
            str(args.seed),
        ]
        if args.jobs is not None:
            cmd += ["--jobs", str(args.jobs)]
        if args.torch_threads is not None:
            cmd += ["--torch-threads", str(args.torch_threads)]
        for p in args.param or []:
            cmd += ["--param", p]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(
                f"{name:>16} {'>' + str(int(args.timeout)):>9} {'—':>10} {'—':>12}  OVER (stopped)"
            )
            ok_all = False
            shutil.rmtree(work / f"run-{name}", ignore_errors=True)
            continue
        wall = time.perf_counter() - t0
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        shutil.rmtree(work / f"run-{name}", ignore_errors=True)
        if proc.returncode != 0 or line is None:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name:>16} {'failed':>9} {'—':>10} {'—':>12}  rc={proc.returncode}: {tail}")
            ok_all = False
            continue
        res = json.loads(line[len("RESULT ") :])
        ok = res["seconds"] <= args.max_seconds and res["peak_rss_mb"] <= args.max_gb * 1024
        ok_all &= ok
        note = f"  large-pool rule: {res['large_pool']}" if res.get("large_pool") else ""
        print(
            f"{name:>16} {res['seconds']:>9.1f} {res['select_s']:>10.1f} "
            f"{res['peak_rss_mb']:>12.0f}  "
            f"{'ok' if ok else 'OVER'}   (process {wall:.0f} s){note}",
            flush=True,
        )
    print(f"all within the limits: {ok_all}   (after: {machine_header()})")


def run_repeats(args: argparse.Namespace, base: Path, work: Path) -> None:
    params = parse_params(args.param)
    runs: list[dict] = []
    times: list[float] = []
    peaks: list[float] = []

    def one_run() -> None:
        out = select_once(base, work / f"run-{len(runs)}", args, args.strategy, params)
        times.append(out["seconds"])
        runs.append(out["record"])

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
    print(f"selected           {len(rec['selected'])} ({rec['used_strategy']}, jobs={rec['jobs']})")
    if trace:
        print(f"pool sizes         {trace.get('pool_sizes')}")
        secs = trace.get("seconds") or {}
        print("seconds/strategy   " + ", ".join(f"{k} {v:.1f}" for k, v in secs.items()))
    same = len({json.dumps(r["selected"]) for r in runs}) == 1
    print(f"identical batches across repeats: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="pool size")
    ap.add_argument("--dim", type=int, default=384, help="embedding dimension")
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--labels", type=int, default=2000, help="labeled instances")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--strategy", default="refine", help="the strategy of the repeats mode")
    ap.add_argument(
        "--strategies",
        default=None,
        help="'all' or a comma-separated list: each strategy once, in a fresh subprocess",
    )
    ap.add_argument("--param", action="append", help="strategy parameter KEY=VALUE")
    ap.add_argument("--epochs", type=int, default=200, help="head epochs (paper: 200)")
    ap.add_argument("--jobs", type=int, default=None, help="filtering workers (default: cores)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7, help="selection seed")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="where to build (default: tmp)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per strategy run")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time limit for the verdict")
    ap.add_argument("--max-gb", type=float, default=8.0, help="peak-RSS limit for the verdict")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads in each strategy's process (--strategies mode; default: "
        "torch's). On a busy machine the head's tiny operations wait on spinning threads: "
        "training it on 1000 labels took 44-73 s with 2 threads and 4 s with 1 here.",
    )
    ap.add_argument(
        "--base-project",
        type=Path,
        default=None,
        help="an already built project folder to copy instead of building one (its N, |L| "
        "and K are what they are; --n/--labels/--classes then only label the output)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--copy", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return
    print(machine_header(), flush=True)

    import torch

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_select-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        if args.base_project is not None:
            base = args.base_project.resolve()  # reused as is: the runs work on copies
        else:
            base = build_project(work / "base", args).root
        setup_s = time.perf_counter() - t0
        gc.collect()
        what = args.strategies or f"{args.strategy} {parse_params(args.param) or ''}"
        print(
            f"refine select: N={args.n}, D={args.dim}, K={args.classes}, |L|={args.labels}, "
            f"budget={args.budget}, strategy={what}, epochs={args.epochs}, "
            f"torch threads={args.torch_threads or torch.get_num_threads()} "
            f"(setup {setup_s:.1f}s)",
            flush=True,
        )
        if args.strategies:
            run_all(args, base, work)
        else:
            run_repeats(args, base, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
