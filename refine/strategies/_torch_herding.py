"""Torch form of the herding kernels (:mod:`refine.strategies._herding`) for MaxHerding/UHerding.

The same arithmetic as the numpy path, on the context's kernel device: float32 RBF blocks
``exp(−γ‖a − b‖²)`` from one GEMM (squared distances below ``ZERO_SQ_DISTANCE`` snapped to 0,
``k(x, x) = 1`` exactly), gains summed in float64, the ``n × n`` kernel kept on the device when
it fits in 80 % of ``memory_budget_mb`` and otherwise recomputed by blocks of rows.

The greedy is an exact lazy greedy adapted to an accelerator: instead of a heap popped one
candidate at a time (host work per candidate), each step evaluates the ``B`` largest gain bounds
(``torch.topk``) exactly, then, in one batch, every stale candidate whose bound reaches the best
of those, and takes the maximum of the exact gains. Bounds are valid for the same reason as in
the numpy lazy greedy (both gain forms only decrease as the coverage grows), so the pick is the
exact argmax of the current gains, ties going to the lower candidate position; a step reads from
the device twice. On pools without near-ties the picks are the
numpy path's (``tests/test_torch_path.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from refine.errors import ConfigError
from refine.strategies._herding import GAINS, ZERO_SQ_DISTANCE, check_choice, fill_zero_gains
from refine.strategies._torch_common import (
    as_device,
    min_sq_distances,
    pool_rows,
    rows_per_block,
    sq_norms,
    to_numpy,
    to_tensor,
)

_STORED_SHARE = 0.8
#: Candidates re-evaluated in the first refresh of a step (kept / recomputed kernel rows).
_BATCH_STORED = 16
_BATCH_COMPUTED = 64
#: Rows per pass when all gains are computed from a kept kernel.
_PASS_ROWS = 1024


def _exponent_(G: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor, gamma: float) -> None:
    """In place: the Gram block ``⟨a, b⟩`` becomes ``−γ‖a − b‖²`` (snapped to 0 near 0)."""
    G.mul_(2.0 * gamma)
    G.sub_(gamma * a_sq[:, None])
    G.sub_(gamma * b_sq[None, :])
    G.masked_fill_(G > -gamma * ZERO_SQ_DISTANCE, 0.0)


def rbf_block(A: Any, a_sq: Any, B: Any, b_sq: Any, gamma: float, device: Any = None):
    """``exp(−γ‖a − b‖²)`` for all rows of A and B: :func:`refine.strategies._herding.rbf_block`.

    Inputs are arrays or tensors; the result is a float32 tensor (on ``device``, or A's device).
    """
    dev = as_device(device) if device is not None else _device_of(A)
    A, B = to_tensor(A, dev, torch.float32), to_tensor(B, dev, torch.float32)
    a_sq, b_sq = to_tensor(a_sq, dev, torch.float32), to_tensor(b_sq, dev, torch.float32)
    K = A @ B.T
    _exponent_(K, a_sq, b_sq, float(gamma))
    return K.exp_()


def _device_of(a: Any) -> torch.device:
    return a.device if isinstance(a, torch.Tensor) else torch.device("cpu")


def labeled_coverage(
    F: Any, F_labeled: Any, gamma: float, memory_budget_mb: float = 512.0, device: Any = "cpu"
) -> torch.Tensor:
    """``m(x) = max_{l ∈ L} k(x, l)`` (float32 tensor): :func:`._herding.labeled_coverage`."""
    dev = as_device(device)
    F = to_tensor(F, dev, torch.float32)
    if F_labeled is None or F_labeled.shape[0] == 0:
        return torch.zeros(F.shape[0], dtype=torch.float32, device=dev)
    d2 = min_sq_distances(F, F_labeled, None, memory_budget_mb, dev, torch.float32)
    d2.masked_fill_(d2 < ZERO_SQ_DISTANCE, 0.0)
    d2.mul_(-float(gamma))
    return d2.exp_()


class TorchRBFKernel:
    """Rows of the square RBF kernel of the candidates on the device, kept or recomputed.

    The torch counterpart of :class:`refine.strategies._herding.RBFKernel`: the kernel is kept
    when it fits in 80 % of ``memory_budget_mb``, otherwise rows are recomputed on request in
    blocks that fit in the remaining 20 % (no row cache: recomputing a block is one GEMM).
    """

    def __init__(self, F: torch.Tensor, gamma: float, memory_budget_mb: float = 512.0):
        self.F = F.to(torch.float32).contiguous()
        self.sq = sq_norms(self.F)
        self.gamma = float(gamma)
        self.n = self.F.shape[0]
        self.device = self.F.device
        budget = memory_budget_mb * 2**20
        self.stored = 4.0 * self.n * self.n <= _STORED_SHARE * budget
        self.block_rows = rows_per_block(self.n, (1.0 - _STORED_SHARE) * budget)
        self.K: torch.Tensor | None = None
        if self.stored:
            K = self.F @ self.F.T
            for s in range(0, self.n, _PASS_ROWS):
                blk = K[s : s + _PASS_ROWS]
                _exponent_(blk, self.sq[s : s + _PASS_ROWS], self.sq, self.gamma)
                blk.exp_()
            K.fill_diagonal_(1.0)
            self.K = K

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """``K[idx]`` as a fresh tensor the caller may modify."""
        if self.K is not None:
            return self.K[idx]
        out = torch.empty((idx.numel(), self.n), dtype=torch.float32, device=self.device)
        for s in range(0, idx.numel(), self.block_rows):
            part = idx[s : s + self.block_rows]
            out[s : s + part.numel()] = rbf_block(
                self.F[part], self.sq[part], self.F, self.sq, self.gamma
            )
        out[torch.arange(idx.numel(), device=self.device), idx] = 1.0
        return out

    def row_block(self, start: int, stop: int) -> torch.Tensor:
        """``K[start:stop]`` (a view of the kept kernel, or computed)."""
        if self.K is not None:
            return self.K[start:stop]
        return self.rows(torch.arange(start, stop, device=self.device))


class _TorchGains:
    """The greedy score of candidates for the current coverage m (float64 results)."""

    def __init__(self, kernel: TorchRBFKernel, u: torch.Tensor, gain: str):
        self.kernel, self.u, self.gain = kernel, u, gain
        self.u64 = u.to(torch.float64)
        self.inv_n = 1.0 / kernel.n

    def _score(self, R: torch.Tensor, idx: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        if self.gain == "paper":
            R.sub_(m[None, :]).clamp_(min=0.0).mul_(self.u[None, :])
            return R.sum(dim=1, dtype=torch.float64) * self.inv_n
        R.sub_(m[idx][:, None]).clamp_(min=0.0)
        return self.u64[idx] * (R.sum(dim=1, dtype=torch.float64) * self.inv_n)

    def __call__(self, idx: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self._score(self.kernel.rows(idx), idx, m)

    def all(self, m: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        step = _PASS_ROWS if k.stored else k.block_rows
        out = torch.empty(k.n, dtype=torch.float64, device=k.device)
        for s in range(0, k.n, step):
            e = min(k.n, s + step)
            R = k.row_block(s, e)
            R = R.clone() if k.stored else R
            out[s:e] = self._score(R, torch.arange(s, e, device=k.device), m)
        return out


def _lazy_topk(kernel, gains, m, batch_size, trace) -> list[int]:
    n = kernel.n
    dev = kernel.device
    first_batch = _BATCH_STORED if kernel.stored else _BATCH_COMPUTED
    chunk = _PASS_ROWS if kernel.stored else kernel.block_rows
    pos = torch.arange(n, device=dev)
    bound = gains.all(m)  # exact at the start; later an upper bound of each gain
    fresh = torch.ones(n, dtype=torch.bool, device=dev)
    taken = torch.zeros(n, dtype=torch.bool, device=dev)
    picks: list[int] = []
    while len(picks) < batch_size:
        # 1. the exact gains of the B largest bounds give a lower bound `best` of the maximum
        B = min(first_batch, n - len(picks))
        top_i = torch.topk(bound.masked_fill(taken, -math.inf), B).indices
        vals = torch.where(fresh[top_i], bound[top_i], gains(top_i, m))
        bound[top_i] = vals
        fresh[top_i] = True
        # 2. every stale candidate whose bound reaches `best` may still beat it: evaluate them
        #    all at once (what the heap of the numpy lazy greedy pops, in one batch)
        need = torch.nonzero(~fresh & ~taken & (bound >= vals.max())).flatten()
        for s in range(0, need.numel(), chunk):
            part = need[s : s + chunk]
            bound[part] = gains(part, m)
        fresh[need] = True
        # 3. the remaining stale bounds are below `best`: the maximum over the fresh gains is
        #    the exact argmax (ties: the lower candidate position)
        cand = fresh & ~taken
        best = bound.masked_fill(~cand, -math.inf).max()
        c_t = torch.where(cand & (bound == best), pos, n).min()
        best_v, c = torch.stack([best, c_t.to(best.dtype)]).tolist()
        if best_v <= 0.0:
            break
        c = int(c)
        picks.append(c)
        if trace is not None:
            trace.append((c, best_v))
        taken[c] = True
        krow = kernel.rows(torch.tensor([c], device=dev))[0]
        changed = krow > m
        torch.maximum(m, krow, out=m)
        if gains.gain == "paper":
            fresh.fill_(False)  # any gain may have dropped; the bounds stay valid
        else:
            fresh &= ~changed  # the published score of i depends on m(i) only
    return picks


def herding_greedy(
    F: Any,
    batch_size: int,
    *,
    gamma: float,
    u: Any | None = None,
    m0: Any | None = None,
    gain: str = "paper",
    memory_budget_mb: float = 512.0,
    rng: np.random.Generator | None = None,
    trace: list | None = None,
    device: Any = "cpu",
) -> np.ndarray:
    """Torch form of :func:`refine.strategies._herding.herding_greedy` (lazy method).

    Parameters are those of the numpy function (``method`` is always the exact lazy greedy),
    plus ``device``. Inputs may be arrays or tensors; returns the picks as int64 positions.
    """
    dev = as_device(device)
    F = to_tensor(F, dev, torch.float32)
    n = F.shape[0]
    if not 0 < batch_size <= n:
        raise ConfigError(f"batch_size must lie in [1, {n}], got {batch_size}")
    check_choice("gain", gain, GAINS)
    u = (
        torch.ones(n, dtype=torch.float32, device=dev)
        if u is None
        else to_tensor(u, dev, torch.float32)
    )
    m = (
        torch.zeros(n, dtype=torch.float32, device=dev)
        if m0 is None
        else to_tensor(m0, dev, torch.float32).clone()
    )
    if tuple(u.shape) != (n,) or tuple(m.shape) != (n,):
        raise ConfigError("u and m0 must have one entry per candidate")
    kernel = TorchRBFKernel(F, gamma, memory_budget_mb)
    picks = _lazy_topk(kernel, _TorchGains(kernel, u, gain), m, batch_size, trace)
    return fill_zero_gains(picks, n, batch_size, rng, trace)  # the numpy path's random fill


def herding_select(
    ctx,
    candidates: np.ndarray,
    batch_size: int,
    *,
    gamma: float,
    u: np.ndarray | None,
    gain: str,
    memory_budget_mb: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """MaxHerding/UHerding's selection on ``ctx.kernel_device``: positions among ``candidates``.

    The candidates' and L's normalised features are gathered from the context's device copy.
    """
    dev = as_device(ctx.kernel_device)
    F = pool_rows(ctx, candidates, normalized=True)
    FL = pool_rows(ctx, ctx.labeled, normalized=True)
    m0 = labeled_coverage(F, FL, gamma, memory_budget_mb, dev)
    return herding_greedy(
        F,
        batch_size,
        gamma=gamma,
        u=u,
        m0=m0,
        gain=gain,
        memory_budget_mb=memory_budget_mb,
        rng=rng,
        device=dev,
    )


__all__ = [
    "TorchRBFKernel",
    "herding_greedy",
    "herding_select",
    "labeled_coverage",
    "rbf_block",
    "to_numpy",
]
