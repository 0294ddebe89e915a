"""Progressive filtering (Algorithm 1 of the paper, stage 1) and its pool trace.

Each round r, every strategy a of the ensemble makes m draws; draw j scores a fresh uniform
subsample (without replacement) of the current pool P_{r−1} and selects b instances; the union of
all draws becomes P_r. Two variants (docs/protocol.md, "Progressive filtering"):

``variant="published"`` (default; the authors' code, which produced the paper's numbers)
    round 1 subsamples ``min(max(b, first_subsample), |U|)`` instances (5000); later rounds
    ``max(b, ⌊α·|P|⌋)``; after each round the pool is cut at random to ``max_pool`` (10 000).
``variant="paper"``
    every round subsamples ``max(b, ⌊α·|P|⌋)`` (round 1: α·|U|) and there is no cap.

The pool never drops below b: every draw selects b distinct instances of a pool of at least b.

The draws of one round are independent given the pool. Each draw's randomness comes from a child
seed addressed by (round, strategy position, draw), so running them in parallel (``n_jobs > 1``,
in forked processes or threads: :mod:`refine.strategies._draws`) gives results identical to the
serial run. When a round's subsample is its whole pool (round 1
of the published variant on a pool of at most 5000), the draws of a strategy differ only in their
generators; a strategy that declares :attr:`~refine.strategies.base.Strategy.direct_rng` and left
its generator untouched in the first draw (Margin, BAIT, MaxHerding, UHerding below their
large-pool thresholds) then gets that batch for its other draws without recomputing it: the same
batches as m computations, and a tenth of the work. Run serially, a strategy that declares
:attr:`~refine.strategies.base.Strategy.batched_draws` (TypiClust) gets all its draws of a round
in one :meth:`~refine.strategies.base.Strategy.select_draws` call, again with the same batches.
All draws share one :class:`~refine.context.SelectionContext`, so model outputs (probabilities, UHerding's temperature
and bandwidth, ...) are computed once per cycle, not once per draw.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, clone

from refine.context import SelectionContext
from refine.errors import ConfigError, check_fraction, check_positive_int, unknown_choice
from refine.seeding import child_rng, rng_seed_sequence
from refine.strategies._draws import BACKENDS, DrawRunner, RoundDraws
from refine.strategies.base import Strategy
from refine.strategies.registry import make_strategy

VARIANTS = ("published", "paper")

#: Refine's default ensemble: the nine strategies of the published configuration (dal-toolbox's
#: ``build_al_strategies``); Random is a member.
DEFAULT_ENSEMBLE = (
    "random",
    "margin",
    "badge",
    "bait",
    "typiclust",
    "alfamix",
    "dropquery",
    "maxherding",
    "uherding",
)


@dataclass
class FilterTrace:
    """What happened in one filtering call (the data behind the paper's Fig. 1).

    Attributes
    ----------
    strategies : list of str
        Strategy labels in ensemble order.
    subsample_sizes : list of int
        Subsample size s_r used in each round.
    union_sizes : list of int
        |union of the round's batches| before the cap.
    pool_sizes : list of int
        |P_r| after each round (after the cap).
    contributions : list of dict
        Per round: strategy → number of distinct instances it selected (over its m draws).
    exclusive : list of dict
        Per round: strategy → instances of P_r that only this strategy selected.
    overlaps : list of dict
        Per round: ``"a|b"`` → instances of the union selected by both a and b.
    seconds : dict
        Strategy → total seconds spent in its draws (all rounds).
    nominators : dict
        Pool index → {round: [strategies that selected it in that round]} for the members of the
        final pool P_R (filled for every round it survived).
    """

    strategies: list[str]
    subsample_sizes: list[int] = field(default_factory=list)
    union_sizes: list[int] = field(default_factory=list)
    pool_sizes: list[int] = field(default_factory=list)
    contributions: list[dict] = field(default_factory=list)
    exclusive: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    nominators: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-able copy (what ``dataclasses.asdict`` gives, nominators keyed by str).

        Built by hand: ``asdict`` deep-copies the nominators entry by entry, 0.6 s for the
        10 000-instance pools of a million-instance query.
        """
        d = {
            "strategies": list(self.strategies),
            "subsample_sizes": list(self.subsample_sizes),
            "union_sizes": list(self.union_sizes),
            "pool_sizes": list(self.pool_sizes),
            "contributions": [dict(c) for c in self.contributions],
            "exclusive": [dict(c) for c in self.exclusive],
            "overlaps": [dict(c) for c in self.overlaps],
            "seconds": dict(self.seconds),
        }
        d["nominators"] = {
            str(k): {r: list(who) for r, who in v.items()} for k, v in self.nominators.items()
        }
        return d


def _label(strategy: Strategy | str) -> str:
    return strategy if isinstance(strategy, str) else (strategy.name or type(strategy).__name__)


class ProgressiveFilter(BaseEstimator):
    """Progressive filtering of an unlabeled pool by an ensemble of strategies.

    Parameters
    ----------
    strategies : sequence of str or Strategy, or a comma-separated str
        The ensemble A (default: :data:`DEFAULT_ENSEMBLE`, the nine strategies of the published
        code).
    rounds : int
        Number of rounds R (5).
    draws_per_strategy : int
        Draws m per strategy and round (11 = the published ``num_batches=100`` split over nine
        strategies).
    sample_ratio : float
        α in (0, 1] (0.4): later rounds subsample ``max(b, ⌊α·|P|⌋)`` instances.
    first_subsample : int
        Round-1 subsample size of the published variant (5000; raised to b when smaller, so
        every draw can select b).
    max_pool : int or None
        Random cap on the pool after each round in the published variant (10 000); None = no cap.
    variant : {"published", "paper"}
        See the module docstring.
    strategy_params : dict, optional
        ``{strategy name: {param: value}}`` for strategies given by name.
    n_jobs : int
        Workers for the draws of a round (1 = serial). Results do not depend on it.
    parallel_backend : {"auto", "threads", "processes"}
        How ``n_jobs > 1`` workers run (:mod:`refine.strategies._draws`): forked processes that
        share the features copy-on-write (``"auto"`` where the platform forks and the kernels
        run on the CPU) or threads. Results do not depend on it.

    References
    ----------
    D. Huseljic et al. Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep Active
    Learning. arXiv 2511.22344, Algorithm 1.
    """

    def __init__(
        self,
        strategies=DEFAULT_ENSEMBLE,
        rounds: int = 5,
        draws_per_strategy: int = 11,
        sample_ratio: float = 0.4,
        first_subsample: int = 5000,
        max_pool: int | None = 10000,
        variant: str = "published",
        strategy_params: dict | None = None,
        n_jobs: int = 1,
        parallel_backend: str = "auto",
    ):
        self.strategies = strategies
        self.rounds = rounds
        self.draws_per_strategy = draws_per_strategy
        self.sample_ratio = sample_ratio
        self.first_subsample = first_subsample
        self.max_pool = max_pool
        self.variant = variant
        self.strategy_params = strategy_params
        self.n_jobs = n_jobs
        self.parallel_backend = parallel_backend

    # ------------------------------------------------------------------ validation
    def _validate(self) -> list[Strategy]:
        check_positive_int("rounds", self.rounds)
        check_positive_int("draws_per_strategy", self.draws_per_strategy)
        check_fraction("sample_ratio", self.sample_ratio)
        check_positive_int("first_subsample", self.first_subsample)
        if self.max_pool is not None:
            check_positive_int("max_pool", self.max_pool)
        check_positive_int("n_jobs", self.n_jobs)
        if self.parallel_backend not in BACKENDS:
            raise unknown_choice("parallel_backend", self.parallel_backend, BACKENDS)
        if self.variant not in VARIANTS:
            raise unknown_choice("variant", self.variant, VARIANTS)
        members = self.strategies
        if isinstance(members, str):  # "random,margin" from the command line
            members = [m.strip() for m in members.split(",") if m.strip()]
        if not members:
            raise ConfigError("strategies must name at least one strategy")
        params = self.strategy_params or {}
        built = []
        for s in members:
            if isinstance(s, str):
                built.append(make_strategy(s, **params.get(s, {})))
            elif isinstance(s, Strategy):
                built.append(clone(s))
            else:
                raise ConfigError(f"strategies must be names or Strategy instances, got {s!r}")
            built[-1].check_params()
        return built

    def requirements(self) -> frozenset[str]:
        """The union of the members' :meth:`Strategy.requirements`."""
        return frozenset().union(*(s.requirements() for s in self._validate()))

    def subsample_size(self, round_: int, pool_size: int, n_unlabeled: int, batch_size: int) -> int:
        """s_r: the subsample size of round ``round_`` (1-based) for a pool of ``pool_size``."""
        if round_ == 1 and self.variant == "published":
            # never below b, so that every draw can select b (the published 5000 always is)
            s = max(batch_size, self.first_subsample)
        else:
            base = n_unlabeled if round_ == 1 else pool_size
            s = max(batch_size, int(np.floor(self.sample_ratio * base)))
        return int(min(s, pool_size))

    # ------------------------------------------------------------------ the filter
    def filter(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, FilterTrace]:
        """Run R filtering rounds on ``candidates``.

        Returns
        -------
        pool : ndarray of int64
            The refined pool P_R (sorted pool indices, a subset of ``candidates``).
        trace : FilterTrace
            Pool sizes, contributions, overlaps, timings and nominators.
        """
        strategies = self._validate()
        batch_size = check_positive_int("batch_size", batch_size)
        labels = [_label(s) for s in strategies]
        keys = [f"{i}:{lab}" for i, lab in enumerate(labels)]
        root = rng_seed_sequence(rng)
        pool = np.sort(np.asarray(candidates, dtype=np.int64))
        n_unlabeled = pool.size
        trace = FilterTrace(strategies=labels, seconds={lab: 0.0 for lab in labels})
        m = self.draws_per_strategy
        history: list[dict[int, list[str]]] = []
        # the members' model outputs now, once: draws then never race for them, and forked
        # workers inherit them instead of each computing its own
        ctx.prepare(frozenset().union(*(st.requirements() for st in strategies)))
        draws = RoundDraws(ctx, strategies, keys, root, batch_size, pool)
        with DrawRunner(draws, self.n_jobs, self.parallel_backend) as runner:
            for r in range(1, self.rounds + 1):
                s = self.subsample_size(r, pool.size, n_unlabeled, batch_size)
                cur = pool
                # round 1's pool is the runner's candidates (forked workers have them already)
                shipped = None if r == 1 else cur

                def run(tasks, r=r, s=s, shipped=shipped):
                    return runner.run(r, s, shipped, tasks)

                # interleaved (draw-major) so that parallel threads mostly run different
                # strategies at once: memory-bound (BAIT) beside compute-bound (k-means) work
                tasks = [(i, j) for j in range(m) for i in range(len(strategies))]
                # When a round's subsample is its whole pool (s = |P|: round 1 on a pool of at
                # most 5000), every draw of a strategy sees the same candidates. A draw of a
                # direct_rng strategy that drew no random number then fixes the batch of all
                # its draws: run the first draw alone and reuse it (same batches, same pool).
                whole = s == cur.size and m > 1
                shared = [i for i, st in enumerate(strategies) if whole and st.direct_rng]
                later = [t for t in tasks if t[0] in shared and t[1] > 0]
                first = [t for t in tasks if t not in later]
                results = run(first)
                reusable = {i: res for i, *res in results if i in shared and res[2]}
                redo = [t for t in later if t[0] not in reusable]
                results += run(redo)
                results += [(i, reusable[i][0], 0.0, True) for i, j in later if i in reusable]
                picked: dict[int, set[int]] = defaultdict(set)
                # in strategy order, whichever order the draws ran in (the nominators' lists)
                for i, chosen, secs, _ in sorted(results, key=lambda res: res[0]):
                    picked[i].update(chosen.tolist())
                    trace.seconds[labels[i]] += secs
                union = np.array(sorted(set().union(*picked.values())), dtype=np.int64)
                trace.subsample_sizes.append(s)
                trace.union_sizes.append(int(union.size))
                if (
                    self.variant == "published"
                    and self.max_pool is not None
                    and union.size > self.max_pool
                ):
                    cap_rng = child_rng(root, "round", r, "cap")
                    union = np.sort(cap_rng.choice(union, size=self.max_pool, replace=False))
                # Exact-batch strategies keep |P_r| >= min(b, |P_{r-1}|) by construction; synthetic
                # variable-size strategies (theory module) may empty the pool, which ends filtering.
                pool = union
                members = set(pool.tolist())
                who: dict[int, list[str]] = defaultdict(list)
                for i, idx in picked.items():
                    for x in idx:
                        if x in members:
                            who[x].append(labels[i])
                history.append(who)
                trace.pool_sizes.append(int(pool.size))
                trace.contributions.append(
                    {labels[i]: len(picked.get(i, ())) for i in range(len(labels))}
                )
                trace.exclusive.append(
                    {lab: sum(1 for v in who.values() if v == [lab]) for lab in labels}
                )
                ov = {}
                for a in range(len(labels)):
                    for c in range(a + 1, len(labels)):
                        ov[f"{labels[a]}|{labels[c]}"] = len(
                            picked.get(a, set()) & picked.get(c, set())
                        )
                trace.overlaps.append(ov)
                if pool.size == 0:
                    break
        trace.nominators = {
            int(x): {str(r + 1): history[r].get(int(x), []) for r in range(len(history))}
            for x in pool.tolist()
        }
        return pool, trace
