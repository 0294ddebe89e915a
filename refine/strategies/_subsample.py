"""A cap on the candidates a strategy scores: the published ``subset_size`` made explicit.

The published code runs every single strategy on a uniform random subsample of the unlabeled pool
(``subset_size`` of its dataset configs; docs/protocol.md §3), and so does this package's AL loop
(:class:`refine.loop.TrialSpec` ``subsample``). A practitioner's ``refine select`` hands a
strategy the whole pool instead. Strategies whose cost grows faster than the pool (the herding
kernels are ``n × n``; BAIT re-reads all candidates at every greedy step) therefore take a
``max_candidates`` parameter: above it they score a uniform random subsample of that many
candidates, drawn from the call's generator, and say so in their trace. Below the cap nothing
changes (no random draw is made), so the paper's protocol, whose subsamples are smaller, never
meets it.
"""

from __future__ import annotations

import numpy as np

from refine.errors import check_positive_int


def check_max_candidates(value: object) -> int | None:
    """``max_candidates`` as a positive int, or None (no cap)."""
    return None if value is None else check_positive_int("max_candidates", value)


def capped(
    candidates: np.ndarray, max_candidates: int | None, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """The candidates to score and the trace entry saying whether they were subsampled.

    Returns ``candidates`` unchanged (and an empty dict) when there are at most
    ``max(max_candidates, batch_size)`` of them; otherwise a sorted uniform random subsample of
    that size and ``{"subsampled": {"from": n, "to": m}}``.
    """
    if max_candidates is None or candidates.size <= max(max_candidates, batch_size):
        return candidates, {}
    size = max(max_candidates, batch_size)
    sub = np.sort(rng.choice(candidates, size=size, replace=False))
    return sub, {"subsampled": {"from": int(candidates.size), "to": int(size)}}
