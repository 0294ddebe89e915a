"""Margin sampling (Scheffer et al., 2001): the smallest gap between the two top probabilities."""

from __future__ import annotations

import numpy as np

from refine.strategies.base import Strategy
from refine.strategies.registry import register_strategy


def margins(probas: np.ndarray) -> np.ndarray:
    """``p_(1) − p_(2)`` per row, with a partial sort (O(NK))."""
    top2 = np.partition(probas, probas.shape[1] - 2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


@register_strategy
class MarginSampling(Strategy):
    """Select the candidates with the smallest margin ``p_(1)(x) − p_(2)(x)``.

    Ties are broken by candidate order (stable sort), so the result is deterministic.

    References
    ----------
    T. Scheffer, C. Decomain, S. Wrobel. Active hidden Markov models for information extraction.
    IDA 2001.
    """

    name = "margin"
    direct_rng = True  # ranks by margin only; no random number at all
    requires = frozenset({"probas"})

    def _select(self, ctx, candidates, batch_size, rng):
        m = margins(ctx.probas(candidates))
        return candidates[np.argsort(m, kind="stable")[:batch_size]]

    def rank(self, ctx, candidates, n, rng):
        candidates = np.asarray(candidates, dtype=np.int64)
        m = margins(ctx.probas(candidates))
        return candidates[np.argsort(m, kind="stable")[:n]]
