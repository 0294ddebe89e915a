"""Blocked nearest-distance kernel shared by the strategies (Coreset, the herding family)."""

from __future__ import annotations

import numpy as np


def rows_per_block(n_cols: int, budget_bytes: float, bytes_per_entry: int = 8) -> int:
    """Rows of a block of ``n_cols`` columns that fit in ``budget_bytes`` (at least one)."""
    return max(1, int(budget_bytes // (bytes_per_entry * max(n_cols, 1))))


def min_sq_distances(
    A: np.ndarray,
    B: np.ndarray,
    a_sq: np.ndarray | None = None,
    memory_budget_mb: float = 512.0,
) -> np.ndarray:
    """``min_j ‖A_i − B_j‖²`` for every row of ``A``, without an ``|A|×|B|`` matrix beyond the budget.

    Rows of ``A`` are processed in blocks whose distance block fits in ``memory_budget_mb``
    (counted at 8 bytes an entry); within a block the squared distances use the expansion
    ``‖a‖² + ‖b‖² − 2⟨a, b⟩`` (one GEMM), clipped at 0. The arithmetic runs in ``A``'s dtype
    (float32 for the herding family's normalised features, float64 for Coreset).

    Parameters
    ----------
    A : ndarray of shape (n, D)
    B : ndarray of shape (m, D), m >= 1 (cast to ``A``'s dtype)
    a_sq : ndarray of shape (n,), optional
        Precomputed ``‖A_i‖²``.
    memory_budget_mb : float
        Bound on the size of one distance block.

    Returns
    -------
    ndarray of shape (n,), ``A``'s dtype
    """
    A = np.ascontiguousarray(A)
    B = np.ascontiguousarray(B, dtype=A.dtype)
    if a_sq is None:
        a_sq = np.einsum("ij,ij->i", A, A)
    b_sq = np.einsum("ij,ij->i", B, B)
    out = np.empty(A.shape[0], dtype=A.dtype)
    rows = rows_per_block(B.shape[0], memory_budget_mb * 2**20)
    for s in range(0, A.shape[0], rows):
        block = A[s : s + rows] @ B.T
        block *= -2.0
        block += b_sq[None, :]
        out[s : s + rows] = block.min(axis=1)
    out += a_sq
    np.maximum(out, 0.0, out=out)
    return out
