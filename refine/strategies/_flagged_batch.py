"""The batch of the strategies that flag candidates and then cluster them (ALFA-Mix, DropQuery).

Both flag candidates (ALFA-Mix: a mix flips the prediction; DropQuery: dropout disagrees), then
take the point nearest each k-means centre of the flagged points and fill any shortfall at
random; this module holds that shared second step, with its numpy/torch dispatch.
"""

from __future__ import annotations

import numpy as np

from refine.strategies._clustering import fill_at_random, nearest_to_centres


def batch_from_flagged(
    ctx,
    candidates: np.ndarray,
    scored: np.ndarray,
    pos: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    take_all_at_most: int,
    subsampled: bool,
) -> np.ndarray:
    """The batch of ALFA-Mix and DropQuery from the flagged positions ``pos`` of ``scored``.

    At most ``take_all_at_most`` flagged points are all taken; otherwise the point nearest each
    centre of a k-means (k = b) of their normalised embeddings (torch kernels on
    ``ctx.kernel_device``, :mod:`refine.strategies._torch_clustering`). Any shortfall is filled
    at random without replacement: the other flagged points first, then the scored subsample
    (when ``subsampled``: the large-pool rule drew ``scored`` from ``candidates``), then every
    candidate.
    """
    if pos.size <= take_all_at_most:
        chosen = scored[pos]
    else:
        if ctx.kernel_device is not None:
            from refine.strategies._torch_clustering import nearest_centres_of

            picks = nearest_centres_of(ctx, scored[pos], batch_size, rng)
        else:
            picks = nearest_to_centres(ctx.normalized_features(scored[pos]), batch_size, rng)
        chosen = scored[pos[picks]]
    if not subsampled:
        return fill_at_random(chosen, [candidates[pos], candidates], batch_size, rng)
    return fill_at_random(chosen, [scored[pos], scored, candidates], batch_size, rng)
