"""Monte Carlo of progressive filtering with synthetic strategies of known selection probability.

Reference: Huseljic et al., arXiv 2511.22344, Algorithm 1 and Theorems 1-2 (Appendix A).

Two families of simulators live here; the second mode, which drives the library's real
``refine.strategies.filtering.ProgressiveFilter`` with the same synthetic strategies, is
:func:`simulate_real_filter` (implemented in :mod:`theory.realfilter`):

* :func:`simulate_focal` -- one focal instance followed through ``R`` rounds of Algorithm 1 under
  the *Bernoulli strategy* model: in every draw the instance is in the subsample with probability
  ``q_r`` and, if so, strategy ``a`` puts it in its batch with probability ``p_a``. Subsample
  membership and selection are drawn as two separate events (not as one ``q p`` coin) so that
  the product structure the theorems rely on is simulated, not assumed. Vectorised over trials;
  10^6 trials of the default setting (9 strategies x 11 draws x 5 rounds) take a few seconds.
* :func:`simulate_topb_round` -- a whole finite pool with *noisy top-b strategies* (each draw
  takes a uniform subsample of size ``s`` without replacement and keeps the ``b`` members with
  the highest noisy score). Their inclusion probabilities ``p_{x,a}`` depend on the rest of the
  subsample and are not known in closed form; :func:`estimate_topb_inclusion` estimates them
  from independent draws, with confidence intervals, so Theorem 1's exact formula can be
  checked against a strategy the formula was not written for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.stats import clopper_pearson

__all__ = [
    "FocalResult",
    "TopBInclusion",
    "estimate_topb_inclusion",
    "simulate_focal",
    "simulate_pool_round",
    "simulate_real_filter",
    "simulate_topb_round",
]

#: Trials simulated at once; bounds memory at about chunk * n_A * m * 9 bytes per round.
_CHUNK = 50_000


@dataclass(frozen=True)
class FocalResult:
    """Survivors of a focal-instance simulation.

    Attributes
    ----------
    alive
        ``alive[r]`` = number of trials in which the instance is still in ``P_r``
        (``alive[0] = n_trials``).
    n_trials
        Number of independent trials.
    """

    alive: np.ndarray
    n_trials: int

    @property
    def survival(self) -> np.ndarray:
        """Empirical ``P(x in P_r)`` for ``r = 0..R``."""
        return self.alive / self.n_trials

    def interval(self, delta: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Clopper-Pearson interval for every round (failure probability ``delta`` each)."""
        return clopper_pearson(self.alive, self.n_trials, delta)


def _per_round(x: np.ndarray | float, rounds: int, n_a: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if n_a is None:  # scalar per round
        return np.broadcast_to(x, (rounds,)).copy()
    if x.ndim <= 1:
        return np.broadcast_to(x, (rounds, n_a)).copy()
    return x


def simulate_focal(
    p: np.ndarray,
    q: float | np.ndarray,
    m: int,
    rounds: int,
    n_trials: int,
    rng: np.random.Generator,
) -> FocalResult:
    """Follow one instance through ``rounds`` rounds of progressive filtering.

    Parameters
    ----------
    p
        Selection probabilities: shape ``(n_A,)`` (same every round) or ``(rounds, n_A)``.
    q
        Subsample inclusion probability: scalar or one per round (``q_r = s_r / |P_{r-1}|``).
    m
        Draws per strategy and round.
    rounds
        Number of rounds ``R``.
    n_trials
        Independent repetitions.
    rng
        The only source of randomness.

    Returns
    -------
    FocalResult
        Survivor counts after every round.
    """
    p = np.asarray(p, dtype=float)
    n_a = p.shape[-1]
    p_r = _per_round(p, rounds, n_a)
    q_r = _per_round(q, rounds)
    alive = np.empty(rounds + 1, dtype=np.int64)
    alive[0] = n_items = int(n_trials)
    for r in range(rounds):
        survivors = 0
        remaining = n_items
        while remaining > 0:
            c = min(remaining, _CHUNK)
            remaining -= c
            # Event 1: the instance is in the draw's uniform subsample (fresh for every draw).
            in_sub = rng.random((c, n_a, m)) < q_r[r]
            # Event 2: the strategy puts it in its batch, given it is in the subsample.
            chosen = rng.random((c, n_a, m)) < p_r[r][None, :, None]
            survivors += int(np.count_nonzero((in_sub & chosen).any(axis=(1, 2))))
        alive[r + 1] = n_items = survivors
    return FocalResult(alive=alive, n_trials=int(n_trials))


def _uniform_subsets(rng: np.random.Generator, trials: int, n: int, s: int) -> np.ndarray:
    """``trials`` independent uniform ``s``-subsets of ``range(n)`` (rows of an int array).

    The ``s`` smallest of ``n`` i.i.d. uniform keys form a uniformly random ``s``-subset.
    """
    keys = rng.random((trials, n))
    if s >= n:
        return np.broadcast_to(np.arange(n), (trials, n)).copy()
    return np.argpartition(keys, s - 1, axis=1)[:, :s]


def simulate_pool_round(
    probs: np.ndarray,
    s: int,
    m: int,
    n_trials: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One round of Algorithm 1 on a finite pool with Bernoulli strategies, all instances tracked.

    Each of the ``n_A m`` draws takes a uniform ``s``-subset without replacement of the pool of
    size ``N`` and includes each member ``x`` independently with probability ``probs[a, x]``.

    Parameters
    ----------
    probs
        Shape ``(n_A, N)``.
    s
        Subsample size.
    m, n_trials, rng
        Draws per strategy, trials, randomness.

    Returns
    -------
    ndarray of bool, shape (n_trials, N)
        ``P_1`` membership of every instance in every trial.
    """
    probs = np.asarray(probs, dtype=float)
    n_a, n = probs.shape
    survived = np.zeros((n_trials, n), dtype=bool)
    rows = np.arange(n_trials)[:, None]
    for a in range(n_a):
        for _ in range(m):
            sub = _uniform_subsets(rng, n_trials, n, s)
            keep = rng.random(sub.shape) < probs[a][sub]
            survived[np.broadcast_to(rows, sub.shape)[keep], sub[keep]] = True
    return survived


def simulate_topb_round(
    scores: np.ndarray,
    noise: float,
    s: int,
    b: int,
    m: int,
    n_trials: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One round of Algorithm 1 with noisy top-b strategies; returns survivor counts.

    Strategy ``a`` draws a uniform ``s``-subset of the pool (size ``N``) and keeps the ``b``
    members with the largest ``scores[a, x] + noise * Z`` (``Z`` standard normal, fresh per draw):
    a deterministic strategy (``noise = 0``) made stochastic only by the subsample, or a noisy
    one -- the regime of real AL strategies, whose ``p_{x,a}`` depends on the competitors.

    Returns
    -------
    ndarray of int, shape (N,)
        Number of trials in which each instance is in ``P_1``.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    n_a, n = scores.shape
    counts = np.zeros(n, dtype=np.int64)
    remaining = int(n_trials)
    chunk = max(1, min(remaining, 2_000_000 // max(n, 1)))
    while remaining > 0:
        c = min(remaining, chunk)
        remaining -= c
        survived = np.zeros((c, n), dtype=bool)
        rows = np.broadcast_to(np.arange(c)[:, None], (c, b))
        for a in range(n_a):
            for _ in range(m):
                chosen = _topb_draw(scores[a], noise, s, b, c, rng)
                survived[rows, chosen] = True
        counts += survived.sum(axis=0)
    return counts


def _topb_draw(
    score: np.ndarray, noise: float, s: int, b: int, trials: int, rng: np.random.Generator
) -> np.ndarray:
    """``trials`` independent batches of one noisy top-b strategy (global indices, shape
    ``(trials, b)``)."""
    sub = _uniform_subsets(rng, trials, score.size, s)
    noisy = score[sub]
    if noise > 0:
        noisy = noisy + noise * rng.standard_normal(sub.shape)
    top = np.argpartition(-noisy, b - 1, axis=1)[:, :b] if b < s else np.arange(s)[None, :]
    return np.take_along_axis(sub, np.broadcast_to(top, (trials, min(b, s))), axis=1)


@dataclass(frozen=True)
class TopBInclusion:
    """Estimated inclusion probabilities ``p_x = P(x in batch | x in subsample)``.

    Attributes
    ----------
    p_hat
        Point estimates, shape ``(N,)``.
    theta_lo, theta_hi
        Clopper-Pearson bounds on ``theta_x = q p_x``, the per-draw selection probability.
    q
        ``s / N``.
    n_draws
        Independent draws used.
    """

    p_hat: np.ndarray
    theta_lo: np.ndarray
    theta_hi: np.ndarray
    q: float
    n_draws: int


def estimate_topb_inclusion(
    score: np.ndarray,
    noise: float,
    s: int,
    b: int,
    n_draws: int,
    rng: np.random.Generator,
    delta: float = 1e-6,
) -> TopBInclusion:
    """Estimate a noisy top-b strategy's ``p_x`` from ``n_draws`` independent draws.

    ``x`` is selected in a draw with probability ``theta_x = q p_x`` exactly (``q = s/N`` is the
    subsample inclusion probability of uniform sampling without replacement), so the selection
    count is ``Binomial(n_draws, theta_x)`` and ``p_hat = count / (n_draws q)`` is unbiased. Must
    be run with a generator independent of the one used for the survival simulation.
    """
    score = np.asarray(score, dtype=float)
    n = score.size
    counts = np.zeros(n, dtype=np.int64)
    remaining = int(n_draws)
    chunk = max(1, min(remaining, 2_000_000 // max(n, 1)))
    while remaining > 0:
        c = min(remaining, chunk)
        remaining -= c
        chosen = _topb_draw(score, noise, s, b, c, rng)
        counts += np.bincount(chosen.ravel(), minlength=n)
    q = s / n
    lo, hi = clopper_pearson(counts, n_draws, delta)
    return TopBInclusion(counts / (n_draws * q), lo, hi, q, int(n_draws))


def simulate_real_filter(scenario, n_trials: int, seed: int = 0, final: bool = True):
    """Second mode: the same Monte Carlo through the library's real ``ProgressiveFilter``.

    Thin wrapper around :func:`theory.realfilter.run_real_filter` (imported lazily so that this
    module does not depend on ``refine.strategies.filtering``); see :func:`theory.realfilter.make_scenario`
    and :func:`theory.realfilter.default_scenarios` for the paper's idealised setting and the
    published code's (5000 first subsample, 10 000 cap).
    """
    from theory.realfilter import run_real_filter

    return run_real_filter(scenario, n_trials, seed=seed, final=final)
