"""AutoAL (Wang, Zhan & Huang, ICML 2025): differentiable search over candidate AL strategies.

Every candidate strategy marks the instances it would pick (a samples × strategies 0/1 matrix
``M``). SearchNet, a linear layer with one output per strategy, weights each mark per instance;
the weighted marks are summed over strategies and a softmax over the instances gives the scores.
The top-b scores form the batch. SearchNet is learned on the labeled set, split in half, in a
bilevel loop with FitNet (a linear classifier) whose per-instance loss tells which instances are
informative, and LossNet (a loss-prediction MLP). The relaxation that makes "selected" smooth is a
threshold from a 5-component Gaussian mixture fitted to the scores (the 98th percentile of 10 000
draws, ratio 0.02) and a steep sigmoid.

Two variants of the Refine authors' code (dal-toolbox ``strategies.py``), the fourth ensemble
baseline of the CVPR version of the Refine paper:

- ``autoal-original`` (``AutoALOriginal``): for each pair of (train, validation) batches of size
  b, 100 Adam steps of FitNet on the train batch, then 200 bilevel steps on the validation batch
  rotating SearchNet / LossNet / FitNet updates (SearchNet and LossNet only after step 25); the first
  cycle runs this three times.
- ``autoal`` (``AutoAL``, the authors' "efficient adaptation"): FitNet trained 50 epochs on one
  half first, then 200 bilevel steps on random minibatches of 64 of the other half.

See ``docs/ensembles.md`` (AutoAL) for where the published code, the original AutoAL code and the
paper differ, and which option reproduces which.

References
----------
Y. Wang, X. Zhan, S. Huang. AutoAL: Automated Active Learning with Differentiable Query Strategy
Search. ICML 2025 (PMLR 267), arXiv 2410.13853. Code: ``haizailache999/AutoAL``.

D. Huseljic et al. Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep Active
Learning. arXiv 2511.22344 (CVPR 2026); code ``dhuseljic/dal-toolbox`` @e9bf05ca,
``publications/cleaning_the_pool/strategies.py`` (``AutoALOriginal``, ``AutoAL``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import clone
from torch.nn import functional as F

from refine.context import SelectionContext
from refine.device import resolve_device
from refine.errors import ConfigError, check_positive_int, unknown_choice
from refine.seeding import child_rng, child_seed, rng_seed_sequence, torch_seed
from refine.strategies._autoal_nets import (
    Linear,
    LossNet,
    gmm_threshold,
    load_module,
    loss_prediction_loss,
    pack,
    pack_module,
    relaxed_scores,
    size_penalty,
    unpack,
)
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import REQUIREMENTS, Selection, SmallPoolWarning, Strategy
from refine.strategies.registry import make_strategy, register_strategy

#: The published candidate set (BADGE and BAIT were removed from it on 2026-01-27).
AUTOAL_CANDIDATES = (
    "random",
    "margin",
    "typiclust",
    "alfamix",
    "dropquery",
    "maxherding",
    "uherding",
)
_OBJECTIVES = ("minimize", "maximize")
_ROWS = ("shuffled", "aligned")
_RESCORE = ("step", "batch")


def _spec_name(spec: str | Strategy) -> str:
    return spec if isinstance(spec, str) else (spec.name or type(spec).__name__)


class _AutoALBase(Strategy):
    """What both variants share: parameters, networks, scoring, the bilevel steps, the state.

    Subclasses implement :meth:`_search` (the variant's training schedule).
    """

    requires = REQUIREMENTS
    variant = ""

    # ------------------------------------------------------------------ parameters
    def _names(self) -> tuple[str, ...]:
        specs = (self.strategies,) if isinstance(self.strategies, (str, Strategy)) else None
        try:
            specs = tuple(self.strategies) if specs is None else specs
        except TypeError:
            raise ConfigError(
                f"strategies must be a sequence of strategy names, got {self.strategies!r}"
            ) from None
        if not specs or not all(isinstance(s, (str, Strategy)) for s in specs):
            raise ConfigError(
                f"strategies must be a non-empty sequence of strategy names, got {specs!r}"
            )
        # unnamed instances (user-defined, unregistered) are told apart by their position
        names = tuple(
            f"{_spec_name(s)}[{i}]" if isinstance(s, Strategy) and not s.name else _spec_name(s)
            for i, s in enumerate(specs)
        )
        if len(set(names)) != len(names):
            raise ConfigError(f"strategies must be unique, got {list(names)}")
        return names

    def _candidates(self) -> list[Strategy]:
        specs = (
            (self.strategies,) if isinstance(self.strategies, (str, Strategy)) else self.strategies
        )
        params = self.strategy_params or {}
        return [
            clone(s) if isinstance(s, Strategy) else make_strategy(s, **(params.get(s) or {}))
            for s in specs
        ]

    def _validate_params(self) -> None:
        """Every parameter, before any work (:meth:`Strategy.check_params`)."""
        self._validate_common()
        self._validate_variant()

    def _validate_common(self) -> tuple[str, ...]:
        names = self._names()
        if self.strategy_params is not None and not isinstance(self.strategy_params, dict):
            raise ConfigError(
                f"strategy_params must be a dict {{name: {{param: value}}}}, got "
                f"{self.strategy_params!r}"
            )
        r = self.ratio
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 < r < 1:
            raise ConfigError(f"ratio must be a number in (0, 1), got {r!r}")
        check_positive_int("num_bilevel_steps", self.num_bilevel_steps)
        check_positive_int("search_start", self.search_start, minimum=0)
        check_positive_int("quota", self.quota)
        check_positive_int("loss_hidden", self.loss_hidden)
        check_positive_int("gmm_components", self.gmm_components)
        check_positive_int("gmm_draws", self.gmm_draws)
        for param in ("lr", "weight_decay", "steepness"):
            v = getattr(self, param)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ConfigError(f"{param} must be a finite number, got {v!r}")
            if v < 0 or (v == 0 and param != "weight_decay"):
                raise ConfigError(f"{param} must be > 0, got {v!r}")
        if self.search_objective not in _OBJECTIVES:
            raise unknown_choice("search_objective", self.search_objective, _OBJECTIVES)
        if self.score_rows not in _ROWS:
            raise unknown_choice("score_rows", self.score_rows, _ROWS)
        if self.rescore not in _RESCORE:
            raise unknown_choice("rescore", self.rescore, _RESCORE)
        resolve_device(self.device)
        check_large_pool(self.large_pool, self.pool_sample)
        return names

    # ------------------------------------------------------------------ networks and state
    def _ensure_nets(self, ctx: SelectionContext, root: np.random.SeedSequence) -> None:
        """Create SearchNet, FitNet and LossNet on the first call (they persist across cycles)."""
        device = resolve_device(self.device)
        shape = (ctx.n_features, max(ctx.n_classes, 2), len(self._names()))
        nets = getattr(self, "nets_", None)
        if nets is not None:
            if self.dims_ != shape:
                raise ConfigError(
                    f"AutoAL's networks were built for (features, classes, strategies) = "
                    f"{self.dims_}, this run has {shape}; build a new strategy for a new run"
                )
            for net in nets.values():
                net.to(device)
            return
        d, k, s = shape
        gen = torch.Generator().manual_seed(torch_seed(child_rng(root, "init")))
        self.nets_ = {
            "search": Linear(d, s, gen).to(device),
            "fit": Linear(d, k, gen).to(device),
            "loss": LossNet(d, int(self.loss_hidden), gen).to(device),
        }
        self.dims_ = shape
        self.fit_epochs_ = 0
        self.fit_momentum_ = None
        self.n_queries_ = 0

    def state_dict(self) -> dict:
        nets = getattr(self, "nets_", None)
        if nets is None:
            return {"variant": self.variant, "strategies": list(self._names()), "nets": None}
        mom = self.fit_momentum_
        return {
            "variant": self.variant,
            "strategies": list(self._names()),
            "dims": list(self.dims_),
            "nets": {name: pack_module(net) for name, net in nets.items()},
            "fit_epochs": int(self.fit_epochs_),
            "fit_momentum": None if mom is None else {k: pack(v) for k, v in mom.items()},
            "n_queries": int(self.n_queries_),
        }

    def load_state_dict(self, state: dict) -> None:
        for attr in ("nets_", "dims_", "fit_epochs_", "fit_momentum_", "n_queries_"):
            self.__dict__.pop(attr, None)
        if not state or state.get("nets") is None:
            return
        if state.get("variant") != self.variant or state.get("strategies") != list(self._names()):
            raise ConfigError(
                f"saved AutoAL state is for variant {state.get('variant')!r} with strategies "
                f"{state.get('strategies')}, this strategy is {self.variant!r} with "
                f"{list(self._names())}"
            )
        device = resolve_device(self.device)
        d, k, s = (int(v) for v in state["dims"])
        gen = torch.Generator().manual_seed(0)  # overwritten by the saved parameters below
        nets = {
            "search": Linear(d, s, gen),
            "fit": Linear(d, k, gen),
            "loss": LossNet(d, int(self.loss_hidden), gen),
        }
        for name, net in nets.items():
            try:
                load_module(net, state["nets"][name], device)
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"saved AutoAL state does not fit this strategy: {exc}") from None
            net.to(device)
        self.nets_ = nets
        self.dims_ = (d, k, s)
        self.fit_epochs_ = int(state["fit_epochs"])
        mom = state.get("fit_momentum")
        self.fit_momentum_ = None if mom is None else {n: unpack(v, device) for n, v in mom.items()}
        self.n_queries_ = int(state["n_queries"])

    # ------------------------------------------------------------------ scoring
    def _num_q(self, n: int, batch_size: int) -> int:
        """Picks per strategy: b above ``quota`` instances, else ``ceil(n·ratio)`` but at least 2."""
        if n > int(self.quota):
            return int(batch_size)
        return max(2, math.ceil(n * float(self.ratio)))

    @staticmethod
    def _marks(
        strategies: list[Strategy],
        ctx: SelectionContext,
        rows: np.ndarray,
        num_q: int,
        root: np.random.SeedSequence,
        *key: int | str,
        reuse: dict | None = None,
        known: dict[int, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The 0/1 matrix: ``M[i, s] = 1`` where strategy ``s`` picks ``rows[i]`` (``rows`` sorted).

        ``reuse`` (a dict kept by the caller across calls on one context): a ``direct_rng``
        strategy (Margin, MaxHerding, UHerding) that drew no random number for these rows picks
        the same rows whatever its generator (the premise :mod:`refine.strategies.filtering`
        reuses too, tested there), so its picks are kept and not recomputed when the same rows
        come again with another generator (the published code rescores on every bilevel step).
        ``known``: strategy position → positions of its picks, computed beforehand (the batched
        draws of :class:`_StepMarks`) with the generator this call would give it.
        """
        marks = np.zeros((rows.size, len(strategies)), dtype=np.float64)
        n_pick = min(num_q, rows.size)
        rows_key = (n_pick, rows.tobytes())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallPoolWarning)
            for j, strat in enumerate(strategies):
                cached = reuse.get((j, rows_key)) if reuse is not None else None
                if known is not None and j in known:
                    cached = known[j]
                if cached is not None:
                    marks[cached, j] = 1.0
                    continue
                rng = child_rng(root, *key, "strategy", j)
                before = rng.bit_generator.state if strat.direct_rng else None
                picked = strat.select(ctx, rows, n_pick, rng)
                pos = np.searchsorted(rows, picked)
                marks[pos, j] = 1.0
                if reuse is not None and before is not None and rng.bit_generator.state == before:
                    reuse[(j, rows_key)] = pos
        return marks

    def _scores(self, marks: np.ndarray, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SearchNet outputs (n, S) and the softmax scores of the weighted marks (float64)."""
        out = self.nets_["search"](x).double()
        m = torch.as_tensor(marks, dtype=torch.float64, device=out.device)
        return out, torch.softmax((m * out).sum(dim=1), dim=0)

    # ------------------------------------------------------------------ the bilevel steps
    def _bilevel(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_for_step: Callable[[int], np.ndarray],
        marks_for: Callable[[np.ndarray, int], np.ndarray],
        root: np.random.SeedSequence,
        key: tuple,
        history: dict,
    ) -> None:
        """``num_bilevel_steps`` steps rotating SearchNet / LossNet / FitNet (step mod 3).

        Fresh Adam optimisers (lr, weight decay) with cosine schedules of ``steps // 3`` for each
        net, as in the published code; SearchNet and LossNet update only after ``search_start``.
        ``batch_for_step(step)`` gives the pool rows of the step (in the order the published
        loaders would deliver them), ``marks_for(sorted_rows, step)`` their 0/1 matrix.
        """
        nets = self.nets_
        steps = int(self.num_bilevel_steps)
        t_max = max(steps // 3, 1)
        opts, scheds = {}, {}
        for name, net in nets.items():
            opts[name] = torch.optim.Adam(
                net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
            )
            scheds[name] = torch.optim.lr_scheduler.CosineAnnealingLR(opts[name], T_max=t_max)
        start = int(self.search_start)
        sign = 1.0 if self.search_objective == "minimize" else -1.0
        prepare = getattr(marks_for, "prepare", None)
        if prepare is not None:  # the steps that score: SearchNet's after start, every FitNet's
            prepare([t for t in range(steps) if t % 3 == 2 or (t % 3 == 0 and t > start)],
                    batch_for_step)  # fmt: skip
        for step in range(steps):
            kind = step % 3  # 0: SearchNet, 1: LossNet, 2: FitNet
            if kind in (0, 1) and step <= start:
                continue  # the published code computes scores here and discards them
            rows = batch_for_step(step)
            idx = torch.as_tensor(rows, device=X.device)
            xb, yb = X[idx], y[idx]
            if kind == 1:
                # LossNet learns to rank FitNet's per-instance losses (pairs i, n-1-i)
                if rows.size < 2:
                    continue
                n_even = rows.size - rows.size % 2
                with torch.no_grad():
                    target = F.cross_entropy(
                        nets["fit"](xb[:n_even]), yb[:n_even], reduction="none"
                    )
                pred = nets["loss"](xb[:n_even])
                loss = torch.clamp(loss_prediction_loss(pred, target), 0, 10)
                opts["loss"].zero_grad()
                loss.backward()
                opts["loss"].step()
                scheds["loss"].step()
                continue
            order = np.argsort(rows, kind="stable")
            marks = np.empty((rows.size, self.dims_[2]))
            marks[order] = marks_for(rows[order], step)
            srng = child_rng(root, *key, "step", step)
            if self.score_rows == "shuffled":
                # the published loaders reshuffle the batch between the strategies' view and the
                # networks' view: the marks meet the outputs of other instances
                marks = marks[srng.permutation(rows.size)]
            out, scores = self._scores(marks, xb)
            threshold = gmm_threshold(
                scores.detach().cpu().numpy(),
                float(self.ratio),
                int(srng.integers(0, 2**31 - 1)),
                int(self.gmm_components),
                int(self.gmm_draws),
            )
            relaxed = relaxed_scores(scores, threshold, float(self.steepness))
            loss_fit = F.cross_entropy(nets["fit"](xb), yb, reduction="none").double()
            if self.score_rows == "shuffled":
                loss_fit = loss_fit[torch.as_tensor(srng.permutation(rows.size), device=X.device)]
            if kind == 0:
                n_sel = int((relaxed > 0.5).sum().item())
                penalty = size_penalty(n_sel, int(rows.size * float(self.ratio)))
                total = sign * (loss_fit.detach() * relaxed).mean() - 2.0 * penalty
                history["steps"].append(step)
                history["weights"].append(out.detach().mean(dim=0).cpu().tolist())
                opts["search"].zero_grad()
                total.backward()
                opts["search"].step()
                scheds["search"].step()
            else:
                total = (loss_fit * relaxed.detach()).mean()
                opts["fit"].zero_grad()
                total.backward()
                opts["fit"].step()
                scheds["fit"].step()

    def _marks_provider(
        self,
        strategies: list[Strategy],
        sctx: SelectionContext,
        batch_size: int,
        root: np.random.SeedSequence,
        key: tuple,
    ) -> _StepMarks:
        return _StepMarks(self, strategies, sctx, batch_size, root, key)

    @staticmethod
    def _scoring_context(
        ctx: SelectionContext, known: np.ndarray, root: np.random.SeedSequence
    ) -> SelectionContext:
        """The candidates' view while scoring labeled instances: the other half of L is labeled.

        The published code lets the strategies pick among instances that are themselves in L;
        the strategy contract forbids picking labeled instances, so the instances being scored
        are treated as unlabeled and the half of L that is not scored as the labeled set. The
        cycle's head (trained on all of L) is shared, as the published code passes its model.
        """
        lookup = dict(zip(ctx.labeled.tolist(), ctx.labels.tolist(), strict=True))
        labels = np.asarray([lookup[int(i)] for i in known], dtype=np.int64)
        return SelectionContext(
            ctx.X,
            known,
            labels,
            ctx.n_classes,
            ctx.trainer,
            head=ctx.head,
            seed=child_seed(root, "scoring-context"),
            cycle=ctx.cycle,
            kernel_device=ctx.kernel_device,
        )

    # ------------------------------------------------------------------ selection
    def _early_trace(self, ctx, batch_size):
        return {"autoal_variant": self.variant, "reason": "no more candidates than b"}

    def _select(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Train on L (the variant's schedule), then score the candidates and take the top b."""
        names = self._validate_common()
        self._validate_variant()
        sample = max(int(self.pool_sample), batch_size)
        candidates, large = large_pool_subsample(candidates, self.large_pool, sample, rng)
        root = rng_seed_sequence(rng)
        self._ensure_nets(ctx, root)
        device = resolve_device(self.device)
        strategies = self._candidates()
        candidates = np.sort(np.asarray(candidates, dtype=np.int64))
        x_cand = torch.as_tensor(ctx.X[candidates], device=device)
        with torch.no_grad():
            before = self.nets_["search"](x_cand).mean(dim=0).cpu().tolist()

        history: dict = {"steps": [], "weights": []}
        n_lab = ctx.n_labeled
        split_rng = child_rng(root, "split")
        perm = split_rng.permutation(n_lab)
        first = np.sort(ctx.labeled[perm[: n_lab // 2]])  # the published ``train_indices``
        second = np.sort(ctx.labeled[perm[n_lab // 2 :]])  # ``val_indices``
        X = torch.as_tensor(ctx.X, device=device)
        y_full = np.zeros(ctx.n_pool, dtype=np.int64)
        y_full[ctx.labeled] = ctx.labels
        y = torch.as_tensor(y_full, device=device)
        info = self._search(ctx, strategies, first, second, X, y, batch_size, root, history)
        self.history_ = history
        self.n_queries_ += 1

        # final scoring of the candidates with the cycle's context
        num_q = self._num_q(candidates.size, batch_size)
        marks = self._marks(strategies, ctx, candidates, num_q, root, "final")
        with torch.no_grad():
            out, scores = self._scores(marks, x_cand)
        scores_np = scores.cpu().numpy()
        weighted = (marks * out.cpu().numpy()).sum(axis=1)
        # ties (instances no strategy marked all weigh 0) are broken at random
        tiebreak = child_rng(root, "ties").random(candidates.size)
        top = np.lexsort((tiebreak, -weighted))[:batch_size]
        chosen = candidates[top]
        threshold = gmm_threshold(
            scores_np,
            float(self.ratio),
            int(child_rng(root, "final-gmm").integers(0, 2**31 - 1)),
            int(self.gmm_components),
            int(self.gmm_draws),
        )
        picked = marks[top]
        trace = {
            "autoal_variant": self.variant,
            "autoal_strategies": list(names),
            "autoal_weights_before": [round(float(v), 6) for v in before],
            "autoal_weights": [round(float(v), 6) for v in out.mean(dim=0).cpu().tolist()],
            "autoal_picks": {n: int(c) for n, c in zip(names, picked.sum(axis=0), strict=True)},
            "autoal_unmarked": int((picked.sum(axis=1) == 0).sum()),
            "autoal_threshold": threshold,
            "autoal_search_updates": len(history["steps"]),
            **info,
            **large,
        }
        return Selection(np.asarray(chosen, dtype=np.int64), trace)

    # ------------------------------------------------------------------ per variant
    def _validate_variant(self) -> None:
        raise NotImplementedError

    def _search(self, ctx, strategies, first, second, X, y, batch_size, root, history) -> dict:
        raise NotImplementedError


class _StepMarks:
    """The marks of a bilevel run's steps: ``marks(sorted_rows, step)``, the strategies' 0/1 matrix.

    ``rescore="batch"``: computed once per row set. ``rescore="step"`` (published): the
    strategies run again on every step with the step's generators, except that the picks of a
    ``direct_rng`` strategy that drew nothing are kept (:meth:`_AutoALBase._marks`). The marks
    do not depend on the networks, only on the rows and the generators, so :meth:`prepare`
    computes the steps' picks of a ``batched_draws`` strategy (TypiClust: its k-means++
    seedings side by side) in one :meth:`Strategy.select_draws` call, which gives the batches
    and generator states of one call per step.
    """

    def __init__(self, owner, strategies, sctx, batch_size, root, key):
        self.owner, self.strategies, self.sctx = owner, strategies, sctx
        self.batch_size, self.root, self.key = batch_size, root, key
        self.cache: dict[tuple, np.ndarray] = {}
        self.direct: dict[tuple, np.ndarray] = {}
        self.known: dict[int, dict[int, np.ndarray]] = {}  # step → {strategy: positions}

    def prepare(self, steps: list[int], batch_for_step: Callable[[int], np.ndarray]) -> None:
        batched = [j for j, st in enumerate(self.strategies) if st.batched_draws]
        if self.owner.rescore != "step" or not batched or len(steps) < 2:
            return
        subsets = [np.sort(batch_for_step(t)) for t in steps]
        for j in batched:
            by_size: dict[int, list[int]] = {}
            for pos, rows in enumerate(subsets):
                n_pick = min(self.owner._num_q(rows.size, self.batch_size), rows.size)
                by_size.setdefault(n_pick, []).append(pos)
            for n_pick, group in by_size.items():
                rngs = [
                    child_rng(self.root, *self.key, "marks", steps[p], "strategy", j) for p in group
                ]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SmallPoolWarning)
                    picks = self.strategies[j].select_draws(
                        self.sctx, [subsets[p] for p in group], n_pick, rngs
                    )
                for p, picked in zip(group, picks, strict=True):
                    pos = np.searchsorted(subsets[p], picked)
                    self.known.setdefault(steps[p], {})[j] = pos

    def __call__(self, rows: np.ndarray, step: int) -> np.ndarray:
        owner = self.owner
        num_q = owner._num_q(rows.size, self.batch_size)
        args = (self.strategies, self.sctx, rows, num_q, self.root, *self.key, "marks", step)
        if owner.rescore == "step":  # published: the strategies run again on every step
            return owner._marks(*args, reuse=self.direct, known=self.known.pop(step, None))
        k = tuple(rows.tolist())
        if k not in self.cache:
            self.cache[k] = owner._marks(*args)
        return self.cache[k]


@register_strategy
class AutoAL(_AutoALBase):
    """AutoAL, the Refine authors' efficient adaptation (``autoal``).

    One query:

    1. L is split at random into two halves (``|L|//2`` and the rest).
    2. FitNet is trained ``num_fit_net_epochs`` epochs on the second half: minibatches of
       ``fit_batch_size`` (the last incomplete one dropped when the half is larger), SGD with
       Nesterov momentum (``fit_lr``, 0.9, weight decay 5e-4) and a cosine schedule over
       ``fit_schedule_epochs`` epochs. As in the published code (one optimiser and scheduler for
       the whole run), the epoch count and the momentum carry over to the next cycle.
    3. ``num_bilevel_steps`` bilevel steps, each on a fresh random minibatch of
       ``bilevel_batch_size`` instances of the first half (all of it when it is smaller).
    4. Every candidate strategy picks its instances among the candidates, SearchNet weights the
       marks, and the top-b scores are the batch.

    SearchNet, FitNet and LossNet persist across cycles (they are the strategy's state).

    Parameters
    ----------
    strategies : sequence of str or Strategy, default: the published seven
        Candidate strategies (Random, Margin, TypiClust, ALFA-Mix, DropQuery, MaxHerding,
        UHerding); instances are cloned.
    strategy_params : dict, optional
        ``{name: {param: value}}`` for candidates given by name.
    device : str, default="cpu"
        Torch device of the networks (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``).
    ratio : float in (0, 1), default=0.02
        Fraction of a batch the relaxation regards as selected (threshold percentile, picks per
        strategy in small batches).
    num_bilevel_steps : int, default=200
        Bilevel steps per query (the published code halved the original 400).
    search_start : int, default=25
        SearchNet and LossNet update only on steps after this one.
    num_fit_net_epochs : int, default=50
        FitNet epochs before the bilevel loop.
    fit_batch_size, bilevel_batch_size : int, default=64
        Minibatch sizes of FitNet's training and of the bilevel steps.
    fit_lr : float, default=0.01
        FitNet's SGD learning rate (the head protocol's).
    fit_schedule_epochs : int, default=200
        Length of FitNet's cosine schedule (the head protocol's epochs, as in the published
        code, whose scheduler is built for the main model's 200 epochs).
    lr, weight_decay : float, defaults 1e-3, 5e-4
        Adam settings of the bilevel updates.
    steepness : float, default=1e11
        Steepness of the sigmoid relaxation (both public codes). At this value no gradient
        reaches SearchNet; a finite value such as 1e3 lets it learn.
    gmm_components, gmm_draws : int, defaults 5, 10 000
        The mixture behind the threshold.
    quota : int, default=210
        Above this many instances each strategy picks b, else ``max(2, ceil(n·ratio))``
        (the published class default ``num_init + num_acq·acq_size = 10 + 20·10``).
    loss_hidden : int, default=128
        LossNet's hidden width.
    search_objective : {"minimize", "maximize"}, default="minimize"
        SearchNet's loss ``±mean(loss_fit · relaxed)``: the Refine authors' code minimises it
        (their comment: the minus sign was removed); the original AutoAL code and paper
        maximise the loss of the selected instances.
    score_rows : {"shuffled", "aligned"}, default="shuffled"
        ``"shuffled"`` reproduces the published loaders, which reshuffle a batch between the
        strategies' marks and the networks' outputs, so marks meet other instances' outputs;
        ``"aligned"`` matches each mark with its own instance (the paper's intent).
    rescore : {"step", "batch"}, default="step"
        ``"step"`` re-runs the candidate strategies on every bilevel step (published);
        ``"batch"`` runs them once per distinct set of instances in a query (cheaper; identical
        for deterministic strategies).
    large_pool : int or None, default=100000
        Above this many candidates, score one uniform random subsample of ``max(pool_sample, b)``
        of them, drawn first (the published ensemble baselines score ``subset_size``
        candidates; :mod:`refine.strategies._large_pool`; recorded in
        ``trace_["large_pool"]``): the candidate strategies (BAIT, the herding family) take
        minutes on a million. None: never.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``).

    Attributes
    ----------
    trace_ : dict
        The last query: SearchNet's mean output per strategy over the candidates before and
        after training (``autoal_weights_before``, ``autoal_weights``), the chosen instances each
        strategy had marked (``autoal_picks``), the final threshold, the step counts.
    history_ : dict
        ``steps`` and ``weights`` (SearchNet's mean output per strategy on the batch of each
        SearchNet update) of the last query.
    """

    name = "autoal"
    variant = "efficient"

    def __init__(
        self,
        strategies=AUTOAL_CANDIDATES,
        strategy_params: dict | None = None,
        device: str = "cpu",
        ratio: float = 0.02,
        num_bilevel_steps: int = 200,
        search_start: int = 25,
        num_fit_net_epochs: int = 50,
        fit_batch_size: int = 64,
        bilevel_batch_size: int = 64,
        fit_lr: float = 0.01,
        fit_schedule_epochs: int = 200,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        steepness: float = 1e11,
        gmm_components: int = 5,
        gmm_draws: int = 10_000,
        quota: int = 210,
        loss_hidden: int = 128,
        search_objective: str = "minimize",
        score_rows: str = "shuffled",
        rescore: str = "step",
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.strategies = strategies
        self.strategy_params = strategy_params
        self.device = device
        self.ratio = ratio
        self.num_bilevel_steps = num_bilevel_steps
        self.search_start = search_start
        self.num_fit_net_epochs = num_fit_net_epochs
        self.fit_batch_size = fit_batch_size
        self.bilevel_batch_size = bilevel_batch_size
        self.fit_lr = fit_lr
        self.fit_schedule_epochs = fit_schedule_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.steepness = steepness
        self.gmm_components = gmm_components
        self.gmm_draws = gmm_draws
        self.quota = quota
        self.loss_hidden = loss_hidden
        self.search_objective = search_objective
        self.score_rows = score_rows
        self.rescore = rescore
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def _validate_variant(self) -> None:
        check_positive_int("num_fit_net_epochs", self.num_fit_net_epochs, minimum=0)
        check_positive_int("fit_batch_size", self.fit_batch_size)
        check_positive_int("bilevel_batch_size", self.bilevel_batch_size)
        check_positive_int("fit_schedule_epochs", self.fit_schedule_epochs)
        v = self.fit_lr
        if (
            isinstance(v, bool)
            or not isinstance(v, numbers.Real)
            or not (math.isfinite(v) and v > 0)
        ):
            raise ConfigError(f"fit_lr must be a finite number > 0, got {v!r}")

    def _pretrain_fitnet(self, X, y, rows: np.ndarray, root) -> None:
        """FitNet's epochs on ``rows``: SGD + Nesterov, cosine by the run-wide epoch count."""
        net = self.nets_["fit"]
        opt = torch.optim.SGD(
            net.parameters(),
            lr=float(self.fit_lr),
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
        )
        if self.fit_momentum_ is not None:
            for name, p in net.named_parameters():
                opt.state[p]["momentum_buffer"] = self.fit_momentum_[name].clone()
        bs = int(self.fit_batch_size)
        n_batches = rows.size // bs if rows.size > bs else 1
        for _ in range(int(self.num_fit_net_epochs)):
            e = self.fit_epochs_
            lr = (
                float(self.fit_lr) * (1 + math.cos(math.pi * e / int(self.fit_schedule_epochs))) / 2
            )
            for g in opt.param_groups:
                g["lr"] = lr
            order = child_rng(root, "fitnet", e).permutation(rows)
            for i in range(n_batches):
                idx = torch.as_tensor(order[i * bs : (i + 1) * bs], device=X.device)
                opt.zero_grad()
                F.cross_entropy(net(X[idx]), y[idx]).backward()
                opt.step()
            self.fit_epochs_ += 1
        self.fit_momentum_ = {
            name: opt.state[p]["momentum_buffer"].detach().clone()
            for name, p in net.named_parameters()
            if "momentum_buffer" in opt.state[p]
        } or self.fit_momentum_

    def _search(self, ctx, strategies, first, second, X, y, batch_size, root, history) -> dict:
        if second.size and int(self.num_fit_net_epochs):
            self._pretrain_fitnet(X, y, second, root)
        steps = 0
        if first.size:
            sctx = self._scoring_context(ctx, second, root)
            bs = int(self.bilevel_batch_size)

            def batch_for_step(step: int) -> np.ndarray:
                order = child_rng(root, "bilevel-batch", step).permutation(first)
                return order[:bs] if first.size > bs else order

            marks_for = self._marks_provider(strategies, sctx, batch_size, root, ("bilevel",))
            self._bilevel(X, y, batch_for_step, marks_for, root, ("bilevel",), history)
            steps = int(self.num_bilevel_steps)
        return {"autoal_bilevel_steps": steps, "autoal_split": [int(second.size), int(first.size)]}


@register_strategy
class AutoALOriginal(_AutoALBase):
    """AutoAL as in the original code, adapted to linear heads by the Refine authors (``autoal-original``).

    One query:

    1. L is split at random into two halves (``|L|//2`` and the rest); each is shuffled into
       batches of b (the last incomplete one dropped when the half is larger than b).
    2. For each pair (first-half batch, second-half batch), ``num_fit_net_steps`` full-batch Adam
       steps of FitNet on the first (a fresh optimiser, cosine schedule), then
       ``num_bilevel_steps`` bilevel steps on the second batch.
    3. The first query repeats step 2 ``first_cycle_repeats`` times.
    4. The candidate strategies mark their picks among the candidates and the top-b scores of
       SearchNet's weighting are the batch.

    Parameters are those of :class:`AutoAL` (``large_pool`` and ``pool_sample`` included) without
    its FitNet pre-training and minibatch options, plus ``num_fit_net_steps`` (100; the original
    code's 200 halved) and ``first_cycle_repeats`` (3).
    """

    name = "autoal-original"
    variant = "original"

    def __init__(
        self,
        strategies=AUTOAL_CANDIDATES,
        strategy_params: dict | None = None,
        device: str = "cpu",
        ratio: float = 0.02,
        num_bilevel_steps: int = 200,
        search_start: int = 25,
        num_fit_net_steps: int = 100,
        first_cycle_repeats: int = 3,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        steepness: float = 1e11,
        gmm_components: int = 5,
        gmm_draws: int = 10_000,
        quota: int = 210,
        loss_hidden: int = 128,
        search_objective: str = "minimize",
        score_rows: str = "shuffled",
        rescore: str = "step",
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.strategies = strategies
        self.strategy_params = strategy_params
        self.device = device
        self.ratio = ratio
        self.num_bilevel_steps = num_bilevel_steps
        self.search_start = search_start
        self.num_fit_net_steps = num_fit_net_steps
        self.first_cycle_repeats = first_cycle_repeats
        self.lr = lr
        self.weight_decay = weight_decay
        self.steepness = steepness
        self.gmm_components = gmm_components
        self.gmm_draws = gmm_draws
        self.quota = quota
        self.loss_hidden = loss_hidden
        self.search_objective = search_objective
        self.score_rows = score_rows
        self.rescore = rescore
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def _validate_variant(self) -> None:
        check_positive_int("num_fit_net_steps", self.num_fit_net_steps, minimum=0)
        check_positive_int("first_cycle_repeats", self.first_cycle_repeats)

    @staticmethod
    def _batches(rows: np.ndarray, b: int, rng: np.random.Generator) -> list[np.ndarray]:
        order = rng.permutation(rows)
        if rows.size <= b:
            return [order] if rows.size else []
        return [order[i * b : (i + 1) * b] for i in range(rows.size // b)]

    def _train_fitnet(self, X, y, rows: np.ndarray) -> None:
        net = self.nets_["fit"]
        steps = int(self.num_fit_net_steps)
        if not steps:
            return
        opt = torch.optim.Adam(net.parameters(), weight_decay=float(self.weight_decay))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        idx = torch.as_tensor(rows, device=X.device)
        xb, yb = X[idx], y[idx]
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()
            sched.step()

    def _search(self, ctx, strategies, first, second, X, y, batch_size, root, history) -> dict:
        repeats = int(self.first_cycle_repeats) if self.n_queries_ == 0 else 1
        pairs = 0
        if first.size and second.size:
            sctx = self._scoring_context(ctx, first, root)
            for rep in range(repeats):
                fit_batches = self._batches(first, batch_size, child_rng(root, "fit-batches", rep))
                search_batches = self._batches(
                    second, batch_size, child_rng(root, "search-batches", rep)
                )
                for p, (fb, sb) in enumerate(zip(fit_batches, search_batches, strict=False)):
                    self._train_fitnet(X, y, fb)
                    key = ("bilevel", rep, p)

                    def batch_for_step(step: int, sb=sb, key=key) -> np.ndarray:
                        return child_rng(root, *key, "order", step).permutation(sb)

                    marks_for = self._marks_provider(strategies, sctx, batch_size, root, key)
                    self._bilevel(X, y, batch_for_step, marks_for, root, key, history)
                    pairs += 1
        return {
            "autoal_bilevel_steps": pairs * int(self.num_bilevel_steps),
            "autoal_batch_pairs": pairs,
            "autoal_split": [int(first.size), int(second.size)],
        }
