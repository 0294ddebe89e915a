"""Refine (progressive filtering + coverage-based selection) and filtering before any strategy.

Both strategies hold a :class:`~refine.strategies.filtering.ProgressiveFilter` as a nested
estimator parameter ``filter``, so every filtering parameter and its documentation exist once (in
the filter). Nested parameters follow scikit-learn's convention: ``filter__rounds``, and
:func:`~refine.strategies.registry.make_strategy` also accepts the short name (``rounds``) when it
names exactly one nested parameter, so ``refine run --param refine.rounds=3`` works.
"""

from __future__ import annotations

from sklearn.base import clone

from refine.errors import ConfigError
from refine.parallel import is_result_neutral
from refine.seeding import child_rng, rng_seed_sequence
from refine.strategies.base import Selection, Strategy
from refine.strategies.filtering import ProgressiveFilter
from refine.strategies.registry import make_strategy, register_prefix, register_strategy

#: The filter a Refine or Filtered strategy uses when none is given (never mutated: a nested
#: ``set_params`` replaces it by a clone first).
DEFAULT_FILTER = ProgressiveFilter()


def _resolve(strategy: str | Strategy, params: dict | None) -> Strategy:
    """A registered name (built with ``params``) or a user's Strategy instance (cloned)."""
    if isinstance(strategy, Strategy):
        return clone(strategy)
    return make_strategy(strategy, **(params or {}))


class _FilteredBase(Strategy):
    """Shared machinery: filter the pool, then let a final strategy select from it."""

    manages_pool = True

    def _final(self) -> Strategy:
        raise NotImplementedError

    def set_params(self, **params):
        # scikit-learn sets nested parameters on the nested object in place; the default filter
        # is shared by every instance, so work on a private copy
        if any(key.startswith("filter__") for key in params) and isinstance(
            self.filter, ProgressiveFilter
        ):
            self.filter = clone(self.filter)
        return super().set_params(**params)

    def check_params(self) -> None:
        """The filter's parameters and members, and the final strategy's parameters."""
        self._check_filter()._validate()
        self._final().check_params()

    def requirements(self) -> frozenset[str]:
        """The filter members' needs, the final strategy's and the class's own."""
        return (
            frozenset(self.requires)
            | self._check_filter().requirements()
            | self._final().requirements()
        )

    def computation(self) -> dict:
        """What this instance computes, whatever it is called: the filter and the final strategy.

        ``Refine(final=X)`` and ``filtered:X`` run the same code (:meth:`_select`) with the same
        random streams, so two instances with equal descriptions give the same batches (tests);
        the claims ledger runs such trials once. Result-neutral parameters (``n_jobs``) are left
        out. Strategy instances as members or final strategy are described by their parameters.
        """

        def params(est) -> dict:
            return {k: v for k, v in est.get_params(deep=False).items() if not is_result_neutral(k)}

        final = self._final()
        return {
            "filter": params(self._check_filter()),
            "final": final.name or type(final).__name__,
            "final_params": params(final),
        }

    def _check_filter(self) -> ProgressiveFilter:
        if not isinstance(self.filter, ProgressiveFilter):
            raise ConfigError(
                f"filter must be a ProgressiveFilter, got {type(self.filter).__name__}"
            )
        return self.filter

    def _select(self, ctx, candidates, batch_size, rng):
        root = rng_seed_sequence(rng)
        pool, trace = self._check_filter().filter(
            ctx, candidates, batch_size, child_rng(root, "filter")
        )
        final = self._final()
        batch = final.select(ctx, pool, batch_size, child_rng(root, "final"))
        out = trace.to_dict()
        nominators = out.pop("nominators")
        out["final_strategy"] = final.name
        out["batch_nominators"] = {str(int(x)): nominators.get(str(int(x)), {}) for x in batch}
        return Selection(batch, out)


@register_strategy
class Refine(_FilteredBase):
    """Refine: progressive filtering by an ensemble, then coverage-based selection.

    Parameters
    ----------
    filter : ProgressiveFilter
        The filtering stage (its parameters: ``filter__rounds``, ``filter__sample_ratio``, ...;
        defaults are the published code's, see :class:`ProgressiveFilter`).
    final : str or Strategy
        Coverage strategy selecting the batch from the refined pool (``"uherding"``; any
        registered strategy or Strategy instance is allowed).
    final_params : dict, optional
        Parameters of the final strategy.

    Attributes
    ----------
    trace_ : dict
        The last call's pool trace (pool sizes, contributions, overlaps, seconds, and for each
        selected instance the strategies that nominated it in each round).

    References
    ----------
    D. Huseljic, P. Herde, L. Rauch, P. Hahn, B. Sick. Cleaning the Pool: Progressive Filtering of
    Unlabeled Pools in Deep Active Learning. arXiv 2511.22344.
    """

    name = "refine"

    def __init__(
        self,
        filter: ProgressiveFilter = DEFAULT_FILTER,
        final: str | Strategy = "uherding",
        final_params: dict | None = None,
    ):
        self.filter = filter
        self.final = final
        self.final_params = final_params

    def _final(self) -> Strategy:
        return _resolve(self.final, self.final_params)


class Filtered(_FilteredBase):
    """Any strategy applied to the progressively filtered pool (``filtered:<strategy>``).

    The paper's "filtered pool + strategy X" (e.g. ``random+filter`` = ``filtered:random``):
    progressive filtering as a preprocessing step, then ``strategy`` selects the batch from P_R.

    Parameters
    ----------
    strategy : str or Strategy
        The registered strategy (or a Strategy instance) that selects from the refined pool.
    strategy_kwargs : dict, optional
        Its parameters.
    filter : ProgressiveFilter
        The filtering stage, as for :class:`Refine`.
    """

    name = "filtered"

    def __init__(
        self,
        strategy: str | Strategy = "random",
        strategy_kwargs: dict | None = None,
        filter: ProgressiveFilter = DEFAULT_FILTER,
    ):
        self.strategy = strategy
        self.strategy_kwargs = strategy_kwargs
        self.filter = filter

    def _final(self) -> Strategy:
        return _resolve(self.strategy, self.strategy_kwargs)


def _make_filtered(inner: str, **params) -> Filtered:
    return Filtered(strategy=inner, **params)


register_prefix("filtered", _make_filtered)
