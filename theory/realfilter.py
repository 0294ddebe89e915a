"""Theorems 1-2 checked against the library's real :class:`refine.strategies.filtering.ProgressiveFilter`.

Reference: Huseljic et al., arXiv 2511.22344, Algorithm 1, Theorems 1-2; the published code's
deviations from Algorithm 1 (a fixed first subsample, a random pool cap) are the filter's
``variant="published"`` (see the docstring of :class:`ProgressiveFilter`).

Synthetic strategies with known selection probabilities are plugged into the filter users run
(not a copy of it):

* :class:`BernoulliStrategy` includes each subsample member ``x`` independently with probability
  ``probs[x]`` -- exactly the ``p_{x,a}`` of the theorems, whatever the subsample;
* :class:`NoisyTopBStrategy` keeps the ``b`` members with the highest ``score + noise * Z`` --
  a realistic strategy whose ``p_{x,a}`` depends on the competitors and must be estimated
  (:func:`theory.simulate.estimate_topb_inclusion`).

Per instance, one round of the filter keeps ``x`` with probability
``1 - prod_a (1 - q_r p_{x,a})^m``, ``q_r = s_r / |P_{r-1}|`` (exact when no cap binds). The two
variants differ in ``q_1``: ``floor(alpha |U|) / |U| ~ alpha`` in the paper's text,
``min(5000, |U|) / |U|`` in the published code (e.g. 0.1 on a CIFAR-10-sized pool), and the
published code's random cap keeps a survivor with probability ``max_pool / |union|`` when the
union of the round's batches exceeds ``max_pool``.

Survival is measured as the per-trial *fraction* of a group of exchangeable instances (same
probabilities); the fractions are i.i.d. across trials with expectation equal to the
per-instance survival probability, so empirical-Bernstein intervals apply (see
:mod:`theory.stats`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from refine.context import SelectionContext
from refine.seeding import child_rng
from refine.strategies.base import SmallPoolWarning, Strategy
from refine.strategies.filtering import ProgressiveFilter
from theory.bounds import theorem1_exact_np, theorem1_lower_np, theorem2_round_np
from theory.stats import kl_interval, normal_interval

__all__ = [
    "BernoulliStrategy",
    "Group",
    "NoisyTopBStrategy",
    "RealFilterResult",
    "Scenario",
    "default_scenarios",
    "make_scenario",
    "run_real_filter",
]


class BernoulliStrategy(Strategy):
    """Include each candidate ``x`` independently with probability ``probs[x]`` (theory only).

    Parameters
    ----------
    probs : ndarray of shape (N,)
        Selection probability of every pool instance given it is in the subsample.
    """

    name = "bernoulli"
    label_free = True
    exact_batch = False  # batches of random size: the theorems' p_{x,a} without competition

    def __init__(self, probs=None):
        self.probs = probs

    def _select(self, ctx, candidates, batch_size, rng):
        return candidates[rng.random(candidates.size) < self.probs[candidates]]


class NoisyTopBStrategy(Strategy):
    """Keep the ``batch_size`` candidates with the largest ``scores[x] + noise * Z`` (theory only).

    Parameters
    ----------
    scores : ndarray of shape (N,)
        A fixed score per pool instance (e.g. an uncertainty).
    noise : float
        Standard deviation of the Gaussian noise added in every draw (0 = deterministic).
    """

    name = "noisy_topb"
    label_free = True

    def __init__(self, scores=None, noise=1.0):
        self.scores = scores
        self.noise = noise

    def _select(self, ctx, candidates, batch_size, rng):
        s = self.scores[candidates]
        if self.noise > 0:
            s = s + self.noise * rng.standard_normal(candidates.size)
        return candidates[np.argpartition(-s, batch_size - 1)[:batch_size]]


@dataclass(frozen=True)
class Group:
    """Instances sharing the same probability for each strategy.

    Attributes
    ----------
    name
        Label in the report.
    size
        Number of instances.
    probs
        ``p_a`` for every strategy (length ``n_A``).
    """

    name: str
    size: int
    probs: tuple[float, ...]


@dataclass(frozen=True)
class Scenario:
    """One configuration of the real filter with Bernoulli strategies.

    ``groups`` occupy the first pool indices in order; the remaining instances are background
    with probability ``background`` for every strategy (they set the pool's size dynamics).
    """

    name: str
    variant: str
    n_pool: int
    b: int
    rounds: int
    m: int
    alpha: float
    groups: tuple[Group, ...]
    background: float
    first_subsample: int = 5000
    max_pool: int | None = 10000
    n_a: int = 9

    def probs(self) -> np.ndarray:
        """The ``(n_A, N)`` probability matrix."""
        p = np.full((self.n_a, self.n_pool), self.background)
        start = 0
        for g in self.groups:
            p[:, start : start + g.size] = np.asarray(g.probs)[:, None]
            start += g.size
        return p

    def group_slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for g in self.groups:
            out[g.name] = slice(start, start + g.size)
            start += g.size
        return out

    def make_filter(self, rounds: int | None = None) -> ProgressiveFilter:
        return ProgressiveFilter(
            [BernoulliStrategy(p) for p in self.probs()],
            rounds=self.rounds if rounds is None else rounds,
            draws_per_strategy=self.m,
            sample_ratio=self.alpha,
            first_subsample=self.first_subsample,
            max_pool=self.max_pool,
            variant=self.variant,
        )

    def q1(self) -> float:
        """Round-1 subsample inclusion probability ``s_1 / |U|`` of this variant."""
        return self.make_filter().subsample_size(1, self.n_pool, self.n_pool, self.b) / self.n_pool


def make_scenario(
    name: str,
    variant: str,
    n_pool: int,
    b: int = 10,
    rounds: int = 5,
    m: int = 11,
    alpha: float = 0.4,
    n_a: int = 9,
    p_high: float = 0.5,
    p_low: float = 0.01,
    eps: tuple[float, ...] = (1e-3, 2e-2),
    background: float = 2e-3,
    group_size: int = 1000,
    **kwargs,
) -> Scenario:
    """A scenario with a *valuable* group (strategy 0 selects with ``p_high``, the others with
    ``p_low``: the Margin-versus-TypiClust situation of Theorem 1's example) and one
    *eps-uninformative* group per ``eps`` (every strategy at ``eps``: Definition 1)."""
    groups = [Group("valuable", group_size, (p_high,) + (p_low,) * (n_a - 1))]
    for e in eps:
        groups.append(Group(f"eps={e:g}", group_size, (e,) * n_a))
    return Scenario(
        name, variant, n_pool, b, rounds, m, alpha, tuple(groups), background, n_a=n_a, **kwargs
    )


def default_scenarios() -> list[Scenario]:
    """The report's three settings, all with the defaults ``n_A=9, m=11, alpha=0.4, R=5``.

    * ``paper``: the paper's idealisation on a CIFAR-10-sized pool (|U| = 50 000, b = 10);
    * ``published``: the published code on the same pool (5000 first subsample, 10 000 cap);
    * ``published-cap``: the published code on a Tiny-ImageNet-sized pool (|U| = 100 000,
      b = 200) with background probability ``b / 5000``, where the round-1 union exceeds the
      10 000 cap.
    """
    return [
        make_scenario("paper", "paper", 50_000),
        make_scenario("published", "published", 50_000),
        make_scenario("published-cap", "published", 100_000, b=200, background=200 / 5000),
    ]


@dataclass
class RealFilterResult:
    """Survival through the real filter, per group and trial.

    Attributes
    ----------
    scenario
        The configuration.
    round1, final
        ``{group: (n_trials,) fractions of the group in P_1 / in P_R}``.
    subsample_sizes, union_sizes, pool_sizes
        ``(n_trials, R)`` arrays from :class:`refine.strategies.filtering.FilterTrace`.
    seconds
        Wall time of all trials.
    """

    scenario: Scenario
    round1: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    subsample_sizes: np.ndarray
    union_sizes: np.ndarray
    pool_sizes: np.ndarray
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return int(self.pool_sizes.shape[0])

    def q_rounds(self) -> np.ndarray:
        """Realised ``q_r = s_r / |P_{r-1}|`` per trial and round, ``(n_trials, R)``."""
        prev = np.concatenate(
            [np.full((self.n_trials, 1), self.scenario.n_pool), self.pool_sizes[:, :-1]], axis=1
        )
        return self.subsample_sizes / prev

    def cap_keep(self) -> np.ndarray:
        """Probability that the random cap keeps a survivor, ``min(1, max_pool / |union_r|)``,
        per trial and round, ``(n_trials, R)`` (all 1 in the paper variant)."""
        cap = self.scenario.max_pool
        if self.scenario.variant != "published" or cap is None:
            return np.ones(self.union_sizes.shape)
        return np.minimum(1.0, cap / self.union_sizes)

    def group_probs(self, name: str) -> np.ndarray:
        return np.asarray(next(g.probs for g in self.scenario.groups if g.name == name))

    def predicted_round1(self, name: str) -> float:
        """Theorem 1's exact one-round survival at ``q_1``, times the mean cap factor."""
        exact = float(
            theorem1_exact_np(self.group_probs(name), self.scenario.q1(), self.scenario.m)
        )
        return exact * float(self.cap_keep()[:, 0].mean())

    def exact_round1_no_cap(self, name: str) -> float:
        return float(theorem1_exact_np(self.group_probs(name), self.scenario.q1(), self.scenario.m))

    def theorem1_round1(self, name: str) -> float:
        """Theorem 1's lower bound ``1 - (1 - q_1 p*)^m`` for round 1."""
        p = self.group_probs(name)
        return float(theorem1_lower_np(p.max(), self.scenario.q1(), self.scenario.m))

    def theorem1_final(self, name: str) -> float:
        """Theorem 1 compounded over the rounds with the *smallest* realised ``q_r`` per round
        (the bound is non-decreasing in ``q``, so this is conservative for every trial)."""
        p = self.group_probs(name)
        q_lo = self.q_rounds().min(axis=0)
        return float(np.prod(theorem1_lower_np(p.max(), q_lo, self.scenario.m)))

    def predicted_final(self, name: str) -> float:
        """Exact per-round survival times the cap factor, compounded with each trial's realised
        ``q_r`` and union sizes, averaged over trials (approximate: it ignores the weak
        dependence between one instance's survival and the pool sizes)."""
        p = self.group_probs(name)
        q = self.q_rounds()
        per = theorem1_exact_np(np.broadcast_to(p, q.shape + p.shape), q, self.scenario.m)
        return float(np.mean(np.prod(per * self.cap_keep(), axis=1)))

    def theorem2_final(self, name: str) -> float:
        """Theorem 2 with the *largest* realised ``q_r`` per round (conservative upper bound)."""
        eps = float(self.group_probs(name).max())
        q_hi = self.q_rounds().max(axis=0)
        sc = self.scenario
        return float(np.prod(theorem2_round_np(eps, q_hi, sc.m, sc.n_a)))

    def group_size(self, name: str) -> int:
        return next(g.size for g in self.scenario.groups if g.name == name)

    def interval(self, which: str, name: str, delta: float = 1e-6) -> tuple[float, float]:
        """Confidence interval for a group's survival probability.

        ``which="round1"``: Chernoff-Hoeffding interval on the counts pooled over the group's
        instances and all trials -- rigorous when no cap binds, because the survival indicators
        of one round are negatively associated (:func:`theory.stats.kl_interval`).
        ``which="final"``: approximate -- the union of that interval and a normal interval over
        the per-trial fractions.
        """
        size = self.group_size(name)
        data = self.round1 if which == "round1" else self.final
        k = int(round(float(np.sum(data[name])) * size))
        pooled = kl_interval(k, size * self.n_trials, delta)
        if which == "round1":
            return pooled
        # Over several rounds the instances of a trial share the pool sizes (and the cap), so
        # pooling is not justified; take the wider of the pooled and the per-trial interval.
        lo, hi = normal_interval(data[name], delta)
        return min(lo, pooled[0]), max(hi, pooled[1])


def run_real_filter(
    scenario: Scenario,
    n_trials: int,
    seed: int = 0,
    final: bool = True,
) -> RealFilterResult:
    """Run ``n_trials`` independent filter calls (``rounds=1`` and, if ``final``, ``rounds=R``).

    Trial ``t`` uses the generator ``child_rng(seed, "trial", t)`` for both calls. The filter
    derives every draw's stream from (round, strategy, draw), so round 1 of the ``R``-round call
    is identical to the 1-round call: both runs see the same ``P_1``.
    """
    n = scenario.n_pool
    ctx = SelectionContext.from_arrays(
        np.zeros((n, 1), dtype=np.float32),
        labeled_idx=np.array([], dtype=np.int64),
        labels=np.array([], dtype=np.int64),
        n_classes=2,
        seed=seed,
    )
    slices = scenario.group_slices()
    one = scenario.make_filter(rounds=1)
    full = scenario.make_filter()
    r1 = {g: np.empty(n_trials) for g in slices}
    fin = {g: np.empty(n_trials) for g in slices}
    R = scenario.rounds if final else 1
    sub = np.empty((n_trials, R), dtype=np.int64)
    uni = np.empty((n_trials, R), dtype=np.int64)
    pools = np.empty((n_trials, R), dtype=np.int64)
    cand = np.arange(n)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # Once the pool is smaller than b the strategies warn and the filter returns all
        # candidates; with the scenarios used here that happens only in degenerate corners.
        warnings.simplefilter("ignore", SmallPoolWarning)
        for t in range(n_trials):
            p1, tr1 = one.filter(ctx, cand, scenario.b, child_rng(seed, "trial", t))
            member = np.zeros(n, dtype=bool)
            member[p1] = True
            for g, sl in slices.items():
                r1[g][t] = member[sl].mean()
            if final:
                pr, tr = full.filter(ctx, cand, scenario.b, child_rng(seed, "trial", t))
                # Round 1 of the R-round call must replay the 1-round call (same child streams).
                if tr.union_sizes[0] != tr1.union_sizes[0]:  # pragma: no cover - filter contract
                    raise RuntimeError(
                        "round 1 of the R-round filter differs from the 1-round call"
                    )
                member[:] = False
                member[pr] = True
                for g, sl in slices.items():
                    fin[g][t] = member[sl].mean()
            else:
                tr = tr1
            sub[t], uni[t], pools[t] = tr.subsample_sizes, tr.union_sizes, tr.pool_sizes
    return RealFilterResult(
        scenario=scenario,
        round1=r1,
        final=fin if final else {},
        subsample_sizes=sub,
        union_sizes=uni,
        pool_sizes=pools,
        seconds=time.perf_counter() - t0,
    )
