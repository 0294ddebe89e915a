"""Running a filtering round's draws: serially, in threads, or in forked processes.

A draw (round r, strategy i, draw j) is a pure function of the pool it subsamples and two child
streams of the filter's root seed (:func:`refine.seeding.child_rng`), so every way of running
the draws gives the same batches; only the speed differs.

``"threads"``
    A thread pool in this process; every library thread pool limited to one thread meanwhile.
    Cheap to start, shares every memoised model output, but the draws' Python code (greedy loops,
    per-step bookkeeping) holds the interpreter lock: at Tiny-ImageNet scale on 2 cores, two
    threads gave 1.08× over the serial query where forked processes gave 1.32× (session 12;
    REPRODUCING.md, "Run times").
``"processes"``
    Worker processes forked once per filtering call, after the selection context is prepared:
    they inherit the pool features and the context's memoised outputs copy-on-write (nothing is
    pickled but the round's pool, the tasks and the selected indices), and each runs one library
    thread. What a strategy memoises on first use (BAIT's Fisher matrices, UHerding's
    temperature, ALFA-Mix's per-row flags) lives in the worker that computed it, for the later
    rounds of the call; so a worker gets the draws of strategies it has run before where it can
    (:func:`affine_pick`), and a strategy's pieces are computed in one worker, not in all. Needs
    the ``fork`` start method (Linux, macOS) and kernels on the CPU: a CUDA context does not
    survive a fork.
``"auto"`` (default)
    Processes on Linux where they can run, threads otherwise (no ``fork``; macOS, where forking
    a process that has used Apple's frameworks is unsafe; kernels on a GPU; inside a daemonic
    process, which may not have children).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from refine.context import SelectionContext
from refine.errors import ConfigError, unknown_choice
from refine.seeding import child_rng
from refine.strategies.base import Strategy

BACKENDS = ("auto", "threads", "processes")

#: (round, strategy position, draw) → (strategy position, batch, seconds, generator untouched)
DrawResult = tuple[int, np.ndarray, float, bool]


@dataclass
class RoundDraws:
    """The draws of one filtering call: what each draw needs besides its (round, task) address.

    Attributes
    ----------
    ctx : SelectionContext
        The cycle's shared context.
    strategies : sequence of Strategy
        The ensemble, in order.
    keys : sequence of str
        ``"position:label"`` of each member: its part of the child streams' address.
    root : SeedSequence
        The filter's root seed.
    batch_size : int
        b.
    candidates : ndarray of int64
        The sorted candidates (the pool of round 1; shipped to forked workers by the fork).
    """

    ctx: SelectionContext
    strategies: Sequence[Strategy]
    keys: Sequence[str]
    root: np.random.SeedSequence
    batch_size: int
    candidates: np.ndarray

    def streams(
        self, r: int, s: int, cur: np.ndarray, task: tuple[int, int]
    ) -> tuple[np.ndarray, np.random.Generator]:
        """The draw's subsample of ``cur`` (sorted) and its selection generator."""
        i, j = task
        address = ("round", r, "strategy", self.keys[i], "draw", j)
        sub_rng = child_rng(self.root, *address, "subsample")
        sel_rng = child_rng(self.root, *address, "select")
        return np.sort(sub_rng.choice(cur, size=s, replace=False)), sel_rng

    def draw(self, r: int, s: int, cur: np.ndarray | None, task: tuple[int, int]) -> DrawResult:
        """Run one draw; ``cur=None`` is round 1's pool, the candidates."""
        subset, sel_rng = self.streams(r, s, self.candidates if cur is None else cur, task)
        before = sel_rng.bit_generator.state
        t0 = time.perf_counter()
        chosen = self.strategies[task[0]].select(self.ctx, subset, self.batch_size, sel_rng)
        untouched = sel_rng.bit_generator.state == before
        return task[0], chosen, time.perf_counter() - t0, untouched

    def draws_of(
        self, r: int, s: int, cur: np.ndarray | None, i: int, group: Sequence[tuple[int, int]]
    ) -> list[DrawResult]:
        """One strategy's draws in one :meth:`Strategy.select_draws` call (the same batches)."""
        pool = self.candidates if cur is None else cur
        subsets, rngs = zip(*(self.streams(r, s, pool, t) for t in group), strict=True)
        before = [g.bit_generator.state for g in rngs]
        t0 = time.perf_counter()
        chosen = self.strategies[i].select_draws(
            self.ctx, list(subsets), self.batch_size, list(rngs)
        )
        secs = (time.perf_counter() - t0) / len(group)
        return [
            (i, c, secs, g.bit_generator.state == b)
            for c, g, b in zip(chosen, rngs, before, strict=True)
        ]


def _forked_worker_init() -> None:
    """One library thread per worker: parallelism comes from the workers."""
    from refine.parallel import limit_threads

    limit_threads(1)


def _worker_loop(conn, draws: RoundDraws) -> None:
    """A forked worker: ``("round", r, s, cur)`` sets the round, ``("draw", i, task)`` runs one
    draw and answers ``("ok", i, result)`` or ``("error", i, exception)``; None ends it."""
    _forked_worker_init()
    r = s = 0
    cur = None
    while True:
        msg = conn.recv()
        if msg is None:
            return
        if msg[0] == "round":
            _, r, s, cur = msg
            continue
        _, i, task = msg
        try:
            conn.send(("ok", i, draws.draw(r, s, cur, task)))
        except BaseException as exc:  # the caller re-raises it
            try:
                conn.send(("error", i, exc))
            except Exception:  # an exception that does not pickle
                conn.send(("error", i, RuntimeError(f"{type(exc).__name__}: {exc}")))


def affine_pick(pending: Sequence[int], owner: Sequence[int], mine: set, taken: set) -> int:
    """Position in ``pending`` of the task a free worker takes next.

    A task of a strategy the worker has run before (``mine``: its memoised per-cycle pieces,
    such as ALFA-Mix's flags, live in that worker), else one of a strategy no worker has run
    yet (``taken``), else the first pending task. ``owner[i]`` is task i's strategy.
    """
    for pos, i in enumerate(pending):
        if owner[i] in mine:
            return pos
    for pos, i in enumerate(pending):
        if owner[i] not in taken:
            return pos
    return 0


class _ForkedWorkers:
    """``n`` worker processes forked from this one, each with its own pipe.

    All are forked at once, before any helper thread exists, so no lock is held across the
    fork. Tasks go out by strategy affinity (:func:`affine_pick`), two in flight per worker.
    """

    IN_FLIGHT = 2

    def __init__(self, draws: RoundDraws, n: int):
        ctx = multiprocessing.get_context("fork")
        self.conns, self.procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_loop, args=(child, draws), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.mine: list[set] = [set() for _ in range(n)]
        self.taken: set = set()

    def run(
        self, r: int, s: int, cur: np.ndarray | None, tasks: Sequence[tuple[int, int]]
    ) -> list[DrawResult]:
        from multiprocessing.connection import wait

        owner = [t[0] for t in tasks]
        pending = list(range(len(tasks)))
        results: list[DrawResult | None] = [None] * len(tasks)
        busy = [0] * len(self.conns)
        for conn in self.conns:
            conn.send(("round", r, s, cur))

        def give(w: int) -> None:
            while pending and busy[w] < self.IN_FLIGHT:
                i = pending.pop(affine_pick(pending, owner, self.mine[w], self.taken))
                self.mine[w].add(owner[i])
                self.taken.add(owner[i])
                self.conns[w].send(("draw", i, tasks[i]))
                busy[w] += 1

        for w in range(len(self.conns)):
            give(w)
        while any(busy):
            for conn in wait([c for c, n in zip(self.conns, busy, strict=True) if n]):
                w = self.conns.index(conn)
                try:
                    status, i, payload = conn.recv()
                except (EOFError, ConnectionError):
                    self.procs[w].join(timeout=5)  # reaped, so that its exit code is known
                    code = self.procs[w].exitcode
                    raise RuntimeError(
                        f"a filtering worker process died (exit code {code})"
                    ) from None
                if status == "error":
                    raise payload
                results[i] = payload
                busy[w] -= 1
                give(w)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
            except (OSError, ValueError):  # a worker that died (or a closed pipe)
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in self.conns:
            conn.close()


def can_fork(ctx: SelectionContext) -> str | None:
    """Why draws cannot run in forked processes here (None: they can)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return "this platform has no 'fork' start method"
    if multiprocessing.current_process().daemon:
        return "a daemonic process may not have children"
    dev = ctx.kernel_device
    if dev is not None and getattr(dev, "type", str(dev)) != "cpu":
        return f"the strategies' kernels run on {dev} (a device context does not survive a fork)"
    return None


def resolve_backend(backend: str, ctx: SelectionContext) -> str:
    """``"threads"`` or ``"processes"`` for ``backend`` (``"auto"`` picks, see the module)."""
    if backend not in BACKENDS:
        raise unknown_choice("parallel_backend", backend, BACKENDS)
    why = can_fork(ctx)
    if backend == "auto":
        return "threads" if why or not sys.platform.startswith("linux") else "processes"
    if backend == "processes" and why:
        raise ConfigError(f"parallel_backend='processes' cannot run here: {why}; use 'threads'")
    return backend


class DrawRunner:
    """Runs a round's draws with ``n_jobs`` workers of ``backend`` (a context manager).

    ``run(r, s, cur, tasks)`` returns one :data:`DrawResult` per task (in task order when
    parallel). Serially, strategies that declare ``batched_draws`` get their draws in one call.
    """

    def __init__(self, draws: RoundDraws, n_jobs: int, backend: str):
        self.draws = draws
        self.n_jobs = n_jobs
        self.backend = resolve_backend(backend, draws.ctx) if n_jobs > 1 else "serial"
        self._stack = contextlib.ExitStack()
        self._executor: Executor | None = None
        self._workers: _ForkedWorkers | None = None

    def __enter__(self) -> DrawRunner:
        if self.backend == "threads":
            self._executor = self._stack.enter_context(ThreadPoolExecutor(self.n_jobs))
            self._stack.enter_context(_single_threaded_libraries())
        elif self.backend == "processes":
            self._workers = _ForkedWorkers(self.draws, self.n_jobs)
            self._stack.callback(self._workers.close)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def run(
        self, r: int, s: int, cur: np.ndarray | None, tasks: Sequence[tuple[int, int]]
    ) -> list[DrawResult]:
        if not tasks:
            return []
        if self.backend == "threads":
            return list(self._executor.map(lambda t: self.draws.draw(r, s, cur, t), tasks))
        if self.backend == "processes":
            return self._workers.run(r, s, cur, tasks)
        out, together = [], {}
        for t in tasks:
            if self.draws.strategies[t[0]].batched_draws:
                together.setdefault(t[0], []).append(t)
            else:
                out.append(self.draws.draw(r, s, cur, t))
        for i, group in together.items():
            out += self.draws.draws_of(r, s, cur, i, group)
        return out


@contextlib.contextmanager
def _single_threaded_libraries() -> Iterator[None]:
    """One BLAS/OpenMP/torch thread per draw while draws run in parallel threads.

    Parallelism then comes from the draws; nested library thread pools would oversubscribe the
    cores (k-means and BLAS slow down by an order of magnitude on 2 busy cores).
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
