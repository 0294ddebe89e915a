"""Device plumbing of the strategies' torch path (``SelectionContext(kernel_device=...)``).

The torch kernels (:mod:`refine.strategies._torch_herding`, :mod:`._torch_clustering`,
:mod:`._torch_bait`) mirror the numpy kernels function by function: same inputs, same outputs,
the same random draws from the caller's :class:`numpy.random.Generator`. Their inputs may be numpy
arrays or tensors (converted here at the boundary, float32 unless the numpy code works in
float64); picks and other results come back as numpy arrays.

Transfers are few: the pool features (and their L2-normalised form) are moved to the device once
per selection context and cached in its memo (:func:`pool_tensor`); a strategy call then gathers
its candidates' rows on the device. Every reduction used is deterministic on CUDA (GEMMs,
``sum``, ``cumsum``, ``topk``; no floating-point atomics such as ``index_add_``), so a seed gives
the same batch run after run on one device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from refine.device import resolve_device


def as_device(device: Any) -> torch.device:
    """The :class:`torch.device` of a ``kernel_device`` value (validated by the resolver)."""
    return device if isinstance(device, torch.device) else resolve_device(device)


def float64_device(device: Any) -> torch.device:
    """Where a float64 kernel runs for ``device``: the device itself, or the CPU for MPS.

    Apple's MPS backend has no float64; BAIT's, BADGE's and Coreset's kernels, which the numpy
    path computes in float64, then run in torch on the CPU rather than in a lower precision.
    """
    dev = as_device(device)
    return torch.device("cpu") if dev.type == "mps" else dev


def pool_rows64(ctx, idx: np.ndarray) -> torch.Tensor:
    """Rows ``idx`` of the pool features as float64 on :func:`float64_device`."""
    dev = float64_device(ctx.kernel_device)
    return pool_rows(ctx, idx).to(device=dev, dtype=torch.float64)


def to_tensor(a: Any, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``a`` (numpy array, tensor or sequence) as a tensor of ``dtype`` on ``device``.

    A float32 numpy array on the CPU device is shared, not copied.
    """
    if isinstance(a, torch.Tensor):
        return a.to(device=device, dtype=dtype)
    arr = np.asarray(a)
    if arr.dtype == np.dtype(str(dtype).removeprefix("torch.")) and arr.flags.c_contiguous:
        return torch.from_numpy(arr).to(device)
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device=device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array (copied to the host when on an accelerator)."""
    return t.detach().cpu().numpy()


def index_tensor(idx: Any, device: torch.device) -> torch.Tensor:
    """Row indices as an int64 tensor on ``device``."""
    if isinstance(idx, torch.Tensor):
        return idx.to(device=device, dtype=torch.int64)
    return torch.as_tensor(np.asarray(idx, dtype=np.int64), device=device)


def pool_tensor(ctx, normalized: bool = False) -> torch.Tensor:
    """The context's pool features (float32) on its kernel device, moved there once per context.

    ``normalized=True`` gives the L2-normalised features (``ctx.normalized_features()``). The
    tensors live in the context's memo, so every draw of a cycle shares one device copy.
    """
    device = as_device(ctx.kernel_device)
    if normalized:
        key = ("torch-normalized-features", str(device))
        return ctx.memo(
            key, lambda: to_tensor(ctx.normalized_features(), device, torch.float32).contiguous()
        )
    key = ("torch-features", str(device))
    return ctx.memo(key, lambda: to_tensor(ctx.X, device, torch.float32).contiguous())


def pool_rows(ctx, idx: np.ndarray, normalized: bool = False) -> torch.Tensor:
    """Rows ``idx`` of :func:`pool_tensor` (gathered on the device)."""
    full = pool_tensor(ctx, normalized)
    return full[index_tensor(idx, full.device)]


def sq_norms(F: torch.Tensor) -> torch.Tensor:
    """Squared row norms, in F's dtype."""
    return torch.einsum("ij,ij->i", F, F)


def rows_per_block(n_cols: int, budget_bytes: float, bytes_per_entry: int = 8) -> int:
    """Rows of a block of ``n_cols`` columns that fit in ``budget_bytes`` (at least one)."""
    return max(1, int(budget_bytes // (bytes_per_entry * max(n_cols, 1))))


def min_sq_distances(
    A: Any,
    B: Any,
    a_sq: Any | None = None,
    memory_budget_mb: float = 512.0,
    device: Any = "cpu",
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Torch form of :func:`refine.strategies._distances.min_sq_distances` (a tensor).

    ``min_j ‖A_i − B_j‖²`` in blocks of rows of A whose distance block fits the budget (8 bytes
    an entry), by the expansion ``‖a‖² + ‖b‖² − 2⟨a, b⟩`` clipped at 0, in ``dtype`` (A's dtype
    when A is a tensor, else float32 for float32 arrays and float64 otherwise).
    """
    dev = as_device(device)
    if dtype is None:
        if isinstance(A, torch.Tensor):
            dtype = A.dtype
        else:
            dtype = torch.float32 if np.asarray(A).dtype == np.float32 else torch.float64
    A = to_tensor(A, dev, dtype)
    B = to_tensor(B, dev, dtype)
    if a_sq is None:
        a_sq = sq_norms(A)
    else:
        a_sq = to_tensor(a_sq, dev, dtype)
    b_sq = sq_norms(B)
    out = torch.empty(A.shape[0], dtype=dtype, device=dev)
    rows = rows_per_block(B.shape[0], memory_budget_mb * 2**20)
    for s in range(0, A.shape[0], rows):
        block = A[s : s + rows] @ B.T
        block *= -2.0
        block += b_sq[None, :]
        out[s : s + rows] = block.min(dim=1).values
    out += a_sq
    out.clamp_(min=0.0)
    return out
