"""Random sampling: the baseline every relative gain is measured against."""

from __future__ import annotations

from refine.strategies.base import Strategy
from refine.strategies.registry import register_strategy


@register_strategy
class RandomSampling(Strategy):
    """Select ``batch_size`` candidates uniformly at random without replacement."""

    name = "random"
    label_free = True

    def _select(self, ctx, candidates, batch_size, rng):
        return rng.choice(candidates, size=batch_size, replace=False)
