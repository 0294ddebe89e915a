"""Large pools: score a uniform random subsample of the candidates, explicitly and on record.

The published strategies never see a whole large pool: the authors' experiments (and this
package's AL loop, :class:`refine.loop.TrialSpec` ``subsample``) hand every single strategy a
uniform random subsample of the unlabeled pool (dal-toolbox's ``subset_size``, 5000 in the
published runs). A practitioner's ``refine select`` hands the strategy every unlabeled instance
instead, and the sequential parts of several strategies cannot scale to a million of them on a
small machine: k-means with hundreds of clusters (TypiClust), ``b`` sequential passes over all
candidates (BADGE's k-means++ seeding, Coreset's farthest-first traversal; each pass reads the
whole N×D matrix, ≈ 0.3 s in float32 and 1.2 s in float64 at N = 10⁶ here, so 200 passes take
minutes), flagging every candidate by feature mixes or dropout passes (ALFA-Mix, DropQuery:
minutes at N = 10⁶ on a busy 2-core machine).

Above a named threshold of candidates (``large_pool``), these strategies therefore apply the same
rule the published code applies to every pool: they score a uniform random subsample of
``pool_sample`` candidates (drawn first, from the strategy's ``rng``). Below it nothing changes, so
every pool of the paper's size gives the same selections as before. When the subsample is used
the strategy's trace records it under ``"large_pool"``.
"""

from __future__ import annotations

import numpy as np

from refine.errors import ConfigError, check_positive_int

#: Default threshold: more candidates than this switch the large-pool rule on. The paper's pools
#: (5000-instance subsamples, at most 100 000 instances when a whole pool is scored) stay below.
LARGE_POOL = 100_000
#: Default subsample size of the large-pool rule (twice the published ``subset_size``).
POOL_SAMPLE = 10_000


def check_large_pool(large_pool: object, pool_sample: object) -> tuple[int | None, int]:
    """Validate the two parameters; ``large_pool=None`` switches the rule off."""
    sample = check_positive_int("pool_sample", pool_sample)
    if large_pool is None:
        return None, sample
    limit = check_positive_int("large_pool", large_pool)
    if sample > limit:
        raise ConfigError(
            f"pool_sample ({sample}) must not exceed large_pool ({limit}): the subsample of a "
            "large pool must be smaller than the pools scored whole"
        )
    return limit, sample


def large_pool_subsample(
    candidates: np.ndarray,
    large_pool: int | None,
    pool_sample: int,
    rng: np.random.Generator,
    *,
    what: str = "candidates",
) -> tuple[np.ndarray, dict]:
    """``candidates`` unchanged, or (above ``large_pool``) a sorted uniform subsample of them.

    Parameters
    ----------
    candidates : ndarray of int
        Pool indices (or positions) the strategy scores.
    large_pool : int or None
        Threshold: the subsample is drawn only when ``candidates.size > large_pool``; None never.
    pool_sample : int
        Size of the subsample.
    rng : numpy.random.Generator
        Drawn from only when the subsample is taken (so smaller pools see the same stream).
    what : str
        What is subsampled, for the trace (``"candidates"``, ``"flagged candidates"``).

    Returns
    -------
    subset : ndarray of int64
        The candidates scored (ascending when subsampled).
    trace : dict
        ``{}`` below the threshold, else ``{"large_pool": {...}}`` with the counts and the rule.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if large_pool is None or candidates.size <= int(large_pool):
        return candidates, {}
    sub = np.sort(rng.choice(candidates, size=int(pool_sample), replace=False))
    record = {
        "rule": f"uniform random subsample of the {what}",
        "of": what,
        "n": int(candidates.size),
        "threshold": int(large_pool),
        "sample": int(sub.size),
    }
    return sub, {"large_pool": record}
