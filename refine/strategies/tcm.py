"""TCM (Doucet et al., 2024): TypiClust for the first cycles, then Margin.

A hand-off between a diversity strategy for the cold start and an uncertainty strategy once the
model is good enough to be uncertain about the right instances. The published Refine comparison
(dal-toolbox ``strategies.py::TCM``, docs/ensembles.md) uses TypiClust for the first three queries
after the random initial pool, for every dataset and budget, and Margin from then on.

References
----------
P. Doucet, B. Estermann, T. Aczel, R. Wattenhofer. Bridging Diversity and Uncertainty in Active
Learning with Self-Supervised Pre-Training. PML4LRS workshop at ICLR 2024, arXiv 2403.03728.

D. Huseljic et al. Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep Active
Learning. arXiv 2511.22344 (TCM as an ensemble baseline).
"""

from __future__ import annotations

from collections.abc import Callable

from refine.errors import ConfigError, check_positive_int
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import make_strategy, register_strategy

#: The two phases, in order.
PHASES = ("typiclust", "margin")


@register_strategy
class TCM(Strategy):
    """TypiClust for the first ``typiclust_cycles`` AL cycles, then Margin for good.

    The phase is a function of the cycle number :attr:`SelectionContext.cycle` (1 = the first
    query after the initial pool), not of an internal counter, so the strategy has no state and a
    resumed run takes exactly the decisions of an uninterrupted one.

    Parameters
    ----------
    typiclust_cycles : int, default=3
        Number of cycles that use TypiClust: cycles ``1..typiclust_cycles`` query with TypiClust,
        every later cycle with Margin. 3 is the published Refine comparison's value (dal-toolbox
        ``TCM(typi_steps=3)``), fixed for every dataset and budget. 0 means Margin from the first
        query. A context with ``cycle = 0`` (outside the AL loop) counts as a TypiClust cycle.
    switch_rule : callable, optional
        Replaces the fixed schedule: ``switch_rule(cycle, n_labeled, batch_size, n_classes)``
        returns True while TypiClust should be used. It must be a pure function of its arguments
        (a resumed run re-evaluates it). The TCM paper's own budget-dependent transition rule
        could not be established from its text (docs/ensembles.md), so no such rule is built in;
        this hook lets a user supply one from the Python API.
    typiclust_params, margin_params : dict, optional
        Constructor parameters of the two phases' strategies.

    Attributes
    ----------
    trace_ : dict
        The last call's phase: ``{"tcm_phase": "typiclust" | "margin", "cycle": int}``.

    References
    ----------
    P. Doucet, B. Estermann, T. Aczel, R. Wattenhofer. Bridging Diversity and Uncertainty in
    Active Learning with Self-Supervised Pre-Training. arXiv 2403.03728, 2024.
    """

    name = "tcm"

    def __init__(
        self,
        typiclust_cycles: int = 3,
        switch_rule: Callable[[int, int, int, int], bool] | None = None,
        typiclust_params: dict | None = None,
        margin_params: dict | None = None,
    ):
        self.typiclust_cycles = typiclust_cycles
        self.switch_rule = switch_rule
        self.typiclust_params = typiclust_params
        self.margin_params = margin_params

    def requirements(self) -> frozenset[str]:
        """The needs of both phases' strategies."""
        self._validate_params()
        return frozenset().union(*(self._strategy(p).requirements() for p in PHASES))

    def _validate_params(self) -> None:
        check_positive_int("typiclust_cycles", self.typiclust_cycles, minimum=0)
        if self.switch_rule is not None and not callable(self.switch_rule):
            raise ConfigError(
                "switch_rule must be None or a callable "
                f"(cycle, n_labeled, batch_size, n_classes) -> bool, got {self.switch_rule!r}"
            )
        for param in ("typiclust_params", "margin_params"):
            value = getattr(self, param)
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{param} must be a dict or None, got {value!r}")

    def phase(self, ctx, batch_size: int) -> str:
        """The phase of this cycle: ``"typiclust"`` or ``"margin"``."""
        self._validate_params()
        if self.switch_rule is not None:
            early = bool(self.switch_rule(ctx.cycle, ctx.n_labeled, batch_size, ctx.n_classes))
        else:
            early = ctx.cycle <= self.typiclust_cycles
        return PHASES[0] if early else PHASES[1]

    def _strategy(self, phase: str) -> Strategy:
        params = self.typiclust_params if phase == "typiclust" else self.margin_params
        return make_strategy(phase, **(params or {}))

    def _early_trace(self, ctx, batch_size):
        # each cycle's trace names its phase, also when every candidate was returned
        return {"tcm_phase": self.phase(ctx, batch_size), "cycle": int(ctx.cycle)}

    def _select(self, ctx, candidates, batch_size, rng):
        phase = self.phase(ctx, batch_size)
        batch = self._strategy(phase).select(ctx, candidates, batch_size, rng)
        return Selection(batch, {"tcm_phase": phase, "cycle": int(ctx.cycle)})

    def rank(self, ctx, candidates, n, rng):
        return self._strategy(self.phase(ctx, n)).rank(ctx, candidates, n, rng)
