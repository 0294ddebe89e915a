"""Torch form of BAIT's algebra (:mod:`refine.strategies.bait`), in float64 like the numpy path.

:func:`fisher_matrix`, :func:`quad_forms`, :func:`embed_products` and :class:`TorchFisherGreedy`
mirror the numpy functions and :class:`~refine.strategies.bait.FisherGreedy` operation by
operation (the same Woodbury / Sherman–Morrison updates, first maximum / minimum on ties), on the
context's kernel device. The per-cycle pieces that do not depend on the candidates (``F_L`` and
``M₀⁻¹``) stay the numpy path's memoised arrays and are moved to the device once per context.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from refine.strategies._torch_common import (
    as_device,
    float64_device,
    pool_rows64,
    to_numpy,
    to_tensor,
)

_F64 = torch.float64


def fisher_matrix(H: Any, R: Any, weights: Any, max_rows: int, device: Any = "cpu"):
    """``Σ_j weights_j (R_jᵀR_j) ⊗ (h_j h_jᵀ)`` (float64 tensor): :func:`.bait.fisher_matrix`."""
    dev = as_device(device)
    H, R, w = (to_tensor(a, dev, _F64) for a in (H, R, weights))
    n, D = H.shape
    Kp = R.shape[2]
    if n == 0:
        return torch.zeros((Kp * D, Kp * D), dtype=_F64, device=dev)
    if Kp == 1:
        G = H * torch.sqrt(w * R[:, 0, 0] ** 2)[:, None]
        out = G.T @ G
        return torch.triu(out) + torch.triu(out, 1).T  # exactly symmetric, as the syrk mirror
    out = torch.zeros((Kp * D, Kp * D), dtype=_F64, device=dev)
    for s in range(0, n, max_rows):
        h = H[s : s + max_rows]
        r = R[s : s + max_rows]
        W = (r.transpose(1, 2) @ r) * w[s : s + max_rows, None, None]
        for c in range(Kp):
            wc = W[:, c, c:]
            right = (wc[:, :, None] * h[:, None, :]).reshape(h.shape[0], (Kp - c) * D)
            out[c * D : (c + 1) * D, c * D :] += h.T @ right
    for c in range(1, Kp):
        out[c * D : (c + 1) * D, : c * D] = out[: c * D, c * D : (c + 1) * D].T
    return out


def quad_forms(H: Any, R: Any, mat: Any, scale: float, max_rows: int, device: Any = "cpu"):
    """``scale · V_x mat V_xᵀ`` per row (``n×k×k`` float64 tensor): :func:`.bait.quad_forms`."""
    dev = as_device(device)
    H, R, mat = (to_tensor(a, dev, _F64) for a in (H, R, mat))
    n, D = H.shape
    k, Kp = R.shape[1], R.shape[2]
    out = torch.empty((n, k, k), dtype=_F64, device=dev)
    for s in range(0, n, max_rows):
        h = H[s : s + max_rows]
        m = h.shape[0]
        B = torch.empty((m, Kp, Kp), dtype=_F64, device=dev)
        for c in range(Kp):
            U = (h @ mat[c * D : (c + 1) * D, c * D :]).reshape(m, Kp - c, D)
            B[:, c, c:] = torch.einsum("xed,xd->xe", U, h)
            B[:, c:, c] = B[:, c, c:]
        r = R[s : s + max_rows]
        out[s : s + max_rows] = r @ B @ r.transpose(1, 2)
    out *= scale
    return out


def embed_products(H: torch.Tensor, R: torch.Tensor, cols: torch.Tensor, scale: float):
    """``√scale · V_x cols`` for every row, shape (n, k, m): :func:`.bait.embed_products`."""
    Kp = R.shape[2]
    D = H.shape[1]
    m = cols.shape[1]
    T = (H @ cols.T.reshape(m * Kp, D).T).reshape(H.shape[0], m, Kp).to(R.dtype)
    out = torch.einsum("xic,xjc->xij", R, T)
    out *= math.sqrt(scale)
    return out


class TorchFisherGreedy:
    """:class:`refine.strategies.bait.FisherGreedy` on a torch device (float64).

    ``rows_dtype`` (``torch.float64`` or ``torch.float32``): the dtype of the copy of H that the
    greedy steps multiply with, as ``FisherGreedy``'s ``rows_dtype``.
    """

    def __init__(self, H, R, F, Minv0, rho, max_rows, rows_dtype=_F64):
        self.H, self.R, self.F, self.rho = H, R, F, float(rho)
        self.H_rows = H if rows_dtype == _F64 else H.to(rows_dtype)
        self.k = R.shape[1]
        self.dev = H.device
        self.S = quad_forms(H, R, Minv0, self.rho, max_rows, self.dev)
        A0 = Minv0 @ F @ Minv0
        self.T = quad_forms(H, R, A0, self.rho, max_rows, self.dev)
        del A0
        self.Minv = Minv0.clone()
        self.rank1 = tuple(R.shape[1:]) == (1, 1)
        if self.rank1:
            # the binary approximation: S_x, T_x and V_x are scalars / rows; views into S and T
            self.s, self.t = self.S[:, 0, 0], self.T[:, 0, 0]
            self.r = R[:, 0, 0] * math.sqrt(self.rho)

    def scores(self, sign: float, rows: Any = slice(None)) -> torch.Tensor:
        if self.rank1:
            return self.t[rows] / (1.0 + sign * self.s[rows])
        S, T = self.S[rows], self.T[rows]
        if self.k == 1:
            return T[:, 0, 0] / (1.0 + sign * S[:, 0, 0])
        eye = torch.eye(self.k, dtype=_F64, device=self.dev)
        # solve_ex: no singularity check, so no read back from the device
        X = torch.linalg.solve_ex(eye + sign * S, T)[0]
        return torch.diagonal(X, dim1=1, dim2=2).sum(dim=1)

    def update(self, i: torch.Tensor, sign: float, rows: Any = slice(None)) -> None:
        """Add / remove candidate ``i`` (a one-element index tensor); update ``rows``' S, T."""
        if self.rank1:
            self._update_rank1(i, sign, rows)
            return
        Vi = self._embedding(i)
        Y = self.Minv @ Vi.T
        inner = sign * (Vi @ Y)
        inner.diagonal().add_(1.0)
        if self.k == 1:
            C = sign / inner  # the 1×1 solve, exactly
        else:
            eye = torch.eye(self.k, dtype=_F64, device=self.dev)
            C = sign * torch.linalg.solve_ex(inner, eye)[0]
            C = (C + C.T) / 2
        FY = self.F @ Y
        Z = self.Minv @ FY
        E = Y.T @ FY
        E = (E + E.T) / 2
        H = self.H_rows[rows]
        both = embed_products(H, self.R[rows], torch.hstack([Y, Z]).to(H.dtype), self.rho)
        a, z = both[:, :, : self.k], both[:, :, self.k :]
        aC = a @ C
        cross = (z @ C) @ a.transpose(1, 2)
        self.S[rows] -= aC @ a.transpose(1, 2)
        self.T[rows] += aC @ E @ aC.transpose(1, 2) - cross - cross.transpose(1, 2)
        self.Minv -= (Y @ C) @ Y.T

    def _update_rank1(self, i: torch.Tensor, sign: float, rows: Any) -> None:
        """The k = K' = 1 update with vectors and 0-d tensors (a third fewer device kernels)."""
        v = math.sqrt(self.rho) * (self.R[i][0, 0, 0] * self.H[i][0])  # √ρ V_i as a D-vector
        y = self.Minv @ v
        fy = self.F @ y
        z = self.Minv @ fy
        c = sign / (1.0 + sign * torch.dot(v, y))  # the 1×1 solve of the general update
        e = torch.dot(y, fy)
        H = self.H_rows[rows]
        # both products over the rows, one GEMM (back in float64 before they accumulate)
        az = (H @ torch.stack([y, z], dim=1).to(H.dtype)).to(_F64)
        r = self.r[rows]
        a, zz = r * az[:, 0], r * az[:, 1]
        a2 = a * a
        self.s[rows] -= c * a2
        self.t[rows] += (c * c * e) * a2 - (2.0 * c) * (zz * a)
        self.Minv -= torch.outer(c * y, y)

    def _embedding(self, i: torch.Tensor) -> torch.Tensor:
        R, h = self.R[i][0], self.H[i][0]
        return math.sqrt(self.rho) * (R[:, :, None] * h[None, None, :]).reshape(R.shape[0], -1)

    def run(self, batch_size: int, n_forward: int) -> np.ndarray:
        """Forward ``n_forward`` additions, then backward removals down to ``batch_size``.

        Nothing is read back from the device until the end: the picks stay index tensors, and
        the backward pass masks removed points (their S and T rows are updated but never read).
        """
        n = self.H.shape[0]
        taken = torch.zeros(n, dtype=torch.bool, device=self.dev)
        selected = []
        for step in range(n_forward):
            sc = self.scores(+1.0).masked_fill(taken, -math.inf)
            i = torch.argmax(sc).view(1)  # first maximum: ties broken by candidate order
            selected.append(i)
            taken[i] = True
            if step + 1 < n_forward or n_forward > batch_size:
                self.update(i, +1.0)
        kept = torch.cat(selected)
        alive = torch.ones(n_forward, dtype=torch.bool, device=self.dev)
        for n_alive in range(n_forward, batch_size, -1):
            sc = self.scores(-1.0, kept).masked_fill(~alive, math.inf)
            j = torch.argmin(sc).view(1)  # first minimum among the remaining, in added order
            alive[j] = False
            if n_alive - 1 > batch_size:
                self.update(kept[j], -1.0, kept)
        return to_numpy(kept)[to_numpy(alive)]


def bait_select(
    strategy, ctx, candidates: np.ndarray, batch_size: int, row_weights, row_dtype
) -> np.ndarray:
    """:class:`~refine.strategies.bait.Bait`'s selection on ``ctx.kernel_device`` (positions).

    The candidates' features come from the context's device copy; ``F_L`` and ``M₀⁻¹`` are the
    strategy's memoised numpy arrays, moved to the device once per context and variant.
    ``row_weights`` and ``row_dtype`` are :func:`refine.strategies.bait.row_weights` and
    :func:`refine.strategies.bait.row_dtype` (passed in: this module does not import the
    strategy's).
    """
    dev = float64_device(ctx.kernel_device)
    strategy._validate_params(ctx.n_classes, ctx.n_features, len(candidates) + ctx.n_labeled)
    H = pool_rows64(ctx, candidates)
    R_np = strategy._factors(ctx.probas(candidates))
    R = to_tensor(R_np, dev, _F64)
    Kp = R.shape[2]
    max_rows = strategy._max_rows(Kp, H.shape[1])
    n, nL = H.shape[0], ctx.n_labeled
    key = strategy._variant_key()

    def on_device(name: str, arr_fn) -> torch.Tensor:
        return ctx.memo(key + (name, str(dev)), lambda: to_tensor(arr_fn(), dev, _F64))

    if strategy.fisher_scaling == "mean":
        F = fisher_matrix(H, R, torch.ones(n, dtype=_F64, device=dev), max_rows, dev)
        if nL:
            F += nL * on_device("F_L-torch", lambda: strategy._labeled_fisher(ctx))
        F /= n + nL
    else:
        w = to_tensor(row_weights(n + nL, "dal", int(strategy.fisher_batch_size)), dev, _F64)
        F = fisher_matrix(H, R, w[:n], max_rows, dev)
        if nL:
            HL = pool_rows64(ctx, ctx.labeled)
            RL = strategy._factors(ctx.probas(ctx.labeled))
            F += fisher_matrix(HL, RL, w[n:], max_rows, dev)
    Minv0 = ctx.memo(
        key + ("M0inv-torch", float(strategy.lmb), int(batch_size), str(dev)),
        lambda: to_tensor(strategy._m0_inverse(ctx, batch_size), dev, _F64),
    )
    rho = batch_size / (nL + batch_size)
    rows = torch.float32 if row_dtype(strategy.precision, n, H.shape[1]) == np.float32 else _F64
    engine = TorchFisherGreedy(H, R, F, Minv0, rho, max_rows, rows)
    n_forward = min(n, max(batch_size, int(strategy.oversampling * batch_size)))
    return engine.run(batch_size, n_forward)


__all__ = [
    "TorchFisherGreedy",
    "bait_select",
    "embed_products",
    "fisher_matrix",
    "quad_forms",
    "to_numpy",
]
