"""``select_batch``: the next batch to annotate, from features and the labels so far.

The same engine drives ``refine select`` (through :class:`refine.project.Project`) and the Python
API. One call builds a :class:`~refine.context.SelectionContext` (the head is trained lazily, with
the paper's protocol, from initial weights fixed by the seed), runs the strategy on the unlabeled
instances that are not excluded, and returns the batch with its per-instance provenance.

Cold start: with no labels, a strategy that needs them (Refine, Margin, BADGE, ...) is replaced by
a label-free one (``cold_start``, TypiClust by default), as the paper's cycle 0 would otherwise be
a uniform random draw.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from refine.context import SelectionContext
from refine.data import validate_features
from refine.device import kernel_device_for
from refine.errors import (
    ConfigError,
    DataError,
    PoolExhaustedError,
    check_positive_int,
    unknown_choice,
)
from refine.head import HeadConfig, HeadTrainer
from refine.parallel import default_jobs, with_jobs  # noqa: F401  (re-exported)
from refine.seeding import as_seed_sequence, child_rng, child_seed, head_init_seed

#: Strategies offered for the cold start in the documentation (any label-free strategy works).
COLD_START_CHOICES = ("typiclust", "maxherding")


@dataclass
class BatchSelection:
    """The result of :func:`select_batch`.

    Attributes
    ----------
    indices : ndarray of int64
        Selected rows of ``features``, in the order the strategy chose them.
    strategy : str
        The strategy that selected the batch (the cold-start strategy when it stood in).
    requested_strategy : str
        The strategy that was asked for.
    cold_start : bool
        True when the cold-start strategy replaced the requested one (no labels yet).
    provenance : list of dict
        One per selected instance, in the order of ``indices``: ``{"final": name, "rounds":
        {"1": [names], ...}}``: the strategy that made the final pick and, for Refine and
        ``filtered:<name>``, which ensemble members nominated the instance in which filtering
        round.
    trace : dict or None
        Refine's pool trace (pool sizes, contributions, overlaps, seconds per strategy), without
        the per-instance part that is in ``provenance``.
    classes : list or None
        Class names in index order when string labels were given.
    seconds : float
        Wall time of the selection (head training included).
    """

    indices: np.ndarray
    strategy: str
    requested_strategy: str
    cold_start: bool
    provenance: list[dict] = field(default_factory=list)
    trace: dict | None = None
    classes: list | None = None
    seconds: float = 0.0

    def __len__(self) -> int:
        return int(self.indices.size)


def check_cold_start(name: str) -> str:
    """Validate a cold-start strategy name: a registered, label-free strategy."""
    from refine.strategies import available_strategies, strategy_class

    free = [n for n in available_strategies() if strategy_class(n).label_free]
    if not isinstance(name, str) or name not in free:
        raise ConfigError(
            f"--cold-start must be a label-free strategy, got {name!r}; allowed values: "
            f"{', '.join(free)} (typiclust and maxherding are the recommended ones)"
        )
    return name


def build_strategy(spec: str, params: Mapping[str, Any] | None):
    """Build a strategy from its spec and parameters and validate every parameter value.

    Construction checks names only (scikit-learn style); the values are checked by
    :meth:`Strategy.check_params` (composites check their members), run here so that a bad value
    is refused before a round is recorded, even a cold-start round in which the requested
    strategy does not run.
    """
    from refine.strategies import make_strategy

    strategy = make_strategy(spec, **dict(params or {}))
    strategy.check_params()
    return strategy


def nominators_text(prov: Mapping[str, Any]) -> str:
    """A one-line, human-readable form of one instance's provenance."""
    rounds = prov.get("rounds") or {}
    parts = [
        f"r{r}: {', '.join(names)}"
        for r, names in sorted(rounds.items(), key=lambda kv: int(kv[0]))
    ]
    return "; ".join(parts)


@dataclass(frozen=True)
class SelectRequest:
    """What one selection is asked to do: the options every layer passes on unchanged.

    ``refine select`` builds one from its flags, :meth:`refine.project.Project.select` fills in
    the project's defaults (:meth:`with_defaults`) and :func:`run_selection` reads it; nothing
    threads the options one by one through the layers.

    Attributes
    ----------
    batch_size : int
        Instances to select (the AL batch b).
    strategy : str
        Strategy spec (``refine``, ``margin``, ``filtered:badge``, ...; see ``refine strategies``).
    strategy_params : dict
        Its constructor parameters.
    seed : int or None
        Selection seed; None means the project's seed (a :class:`Project` fills it in).
    cold_start : str or None
        Label-free strategy used while no label exists; None means the project's.
    head_epochs : int
        Epochs of head training (paper protocol: 200).
    device : str
        Torch device of head training and of the strategies' heavy kernels: ``"cpu"`` keeps
        the numpy kernels (the reference); any other device also runs the kernels in torch
        there (:class:`~refine.context.SelectionContext`, ``kernel_device``).
    jobs : int or None
        Threads for the filtering draws of Refine / ``filtered:*`` (None: all CPU cores); the
        batch does not depend on it.
    include_pending : bool
        Allow re-selecting instances selected earlier and not labeled yet.
    profile : {"published", "corrected"} or None
        Fidelity profile (:mod:`refine.profiles`): ``"published"`` gives the strategy (and its
        ensemble members, and the cold-start strategy) every behaviour of the authors' code,
        ``"corrected"`` the paper's and the original methods' forms. Explicit
        ``strategy_params`` win over the profile's values. None: the package defaults.
    """

    batch_size: int
    strategy: str = "refine"
    strategy_params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    cold_start: str | None = None
    head_epochs: int = 200
    device: str = "cpu"
    jobs: int | None = None
    include_pending: bool = False
    profile: str | None = None

    def resolved_params(self, strategy: str | None = None) -> dict:
        """The parameters ``strategy`` (default: the requested one) runs with under the profile.

        :func:`refine.profiles.resolve` applies the profile's strategy switches (to the
        strategy and its members); the request's ``strategy_params`` (for the requested
        strategy) win. Without a profile these are the request's parameters unchanged.
        """
        from refine.profiles import resolve

        if strategy is None or strategy == self.strategy:
            return resolve(self.profile, self.strategy, self.strategy_params).strategy_params
        return resolve(self.profile, strategy).strategy_params

    def validated(self) -> SelectRequest:
        """Check every field (before anything is computed or written); returns ``self``.

        Raises
        ------
        ConfigError
            Naming the flag and the allowed values: a batch size or epochs below 1, a negative
            seed, an unknown strategy, cold-start strategy or profile, invalid strategy
            parameters, ``jobs`` below 1.
        """
        check_positive_int("--batch-size", self.batch_size)
        check_positive_int("--epochs", self.head_epochs)
        if self.seed is not None:
            check_positive_int("--seed", self.seed, minimum=0)
        if self.jobs is not None:
            check_positive_int("--jobs", self.jobs)
        if not isinstance(self.strategy, str) or not self.strategy:
            raise ConfigError(f"--strategy must be a strategy name, got {self.strategy!r}")
        if self.profile is not None:
            from refine.profiles import PROFILES

            if self.profile not in PROFILES:
                raise unknown_choice("--profile", self.profile, PROFILES)
        build_strategy(self.strategy, self.resolved_params())
        if self.cold_start is not None:
            check_cold_start(self.cold_start)
        return self

    def with_defaults(self, seed: int, cold_start: str) -> SelectRequest:
        """This request with ``seed`` / ``cold_start`` filled in where they are None."""
        return replace(
            self,
            seed=seed if self.seed is None else self.seed,
            cold_start=cold_start if self.cold_start is None else self.cold_start,
        )


class CoveredRowLabelsRead(RuntimeError):
    """A strategy declared label-free read labels while pending rows stood in as covered."""


class _CoverageContext(SelectionContext):
    """A context whose "labeled" rows include rows that are only *covered* (pending).

    Label-free coverage strategies (TypiClust, MaxHerding, Coreset) must see what is already with
    the annotators as covered. Those rows have no label, so every label read (``labels``, and
    through it the head and its probabilities) raises instead of returning a made-up class: a
    strategy wrongly declared label-free fails loudly rather than training on fake labels.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._guard = False
        super().__init__(*args, **kwargs)
        self._guard = True

    @property
    def labels(self) -> np.ndarray:
        if self._guard:
            raise CoveredRowLabelsRead(
                "a strategy declared label-free read labels while pending (unlabeled) rows were "
                "passed to it as covered; this is a bug in the strategy's declaration"
            )
        return self._covered_labels

    @labels.setter
    def labels(self, value: np.ndarray) -> None:
        self._covered_labels = value


def run_selection(
    X: np.ndarray,
    labeled: np.ndarray,
    labels: np.ndarray,
    trainer: HeadTrainer,
    request: SelectRequest,
    *,
    exclude: np.ndarray | None = None,
    seed: int | np.random.SeedSequence = 0,
    cycle: int = 1,
) -> BatchSelection:
    """The engine behind :func:`select_batch` and ``refine select`` (inputs already validated).

    Parameters
    ----------
    X : ndarray (N, D), float32
    labeled, labels : ndarray of int
        The truly labeled rows (in labeling order) and their class indices.
    trainer : HeadTrainer
        Trains the head from the run's fixed initial weights.
    request : SelectRequest
        Batch size (at most the number of selectable instances), strategy, its parameters,
        cold-start strategy and jobs; ``seed`` and ``include_pending`` of the request are
        ignored here (the caller resolved them into ``seed`` and ``exclude``).
    exclude : ndarray of int, optional
        Unlabeled rows that must not be selected (sent to annotators already). The selection
        context holds only the truly labeled rows; a label-free strategy (TypiClust,
        MaxHerding, Coreset) sees the excluded rows as covered through a context that refuses
        every label read, so no unlabeled row is ever given a label.
    seed : int or SeedSequence
        Root of this selection's random streams.
    cycle : int
        Passed to the context (read only by schedule-based strategies such as TCM).
    """
    t0 = time.perf_counter()
    strategy = request.strategy
    cold_start = request.cold_start or COLD_START_CHOICES[0]
    budget = int(request.batch_size)
    requested = build_strategy(
        strategy, with_jobs(strategy, request.resolved_params(), request.jobs)
    )
    n = X.shape[0]
    labeled = np.asarray(labeled, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    exclude = np.zeros(0, np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool)
    blocked[labeled] = True
    blocked[exclude] = True
    candidates = np.flatnonzero(~blocked)
    if candidates.size == 0:
        raise PoolExhaustedError(
            "no instances left to select: every instance is labeled or already selected"
        )
    if budget > candidates.size:
        raise DataError(
            f"--batch-size {budget} is larger than the {candidates.size} instances available "
            f"for selection (unlabeled and not already selected); choose a batch size between 1 "
            f"and {candidates.size}"
        )
    use_cold = labeled.size == 0 and not requested.label_free
    chosen = (
        build_strategy(cold_start, request.resolved_params(cold_start)) if use_cold else requested
    )
    root = as_seed_sequence(seed)
    # a CPU request keeps the numpy kernels; an accelerator runs them in torch there too
    common = dict(
        seed=child_seed(root, "context"),
        cycle=cycle,
        kernel_device=kernel_device_for(request.device),
    )
    if chosen.label_free and exclude.size:
        covered = np.concatenate([labeled, exclude])
        ctx: SelectionContext = _CoverageContext(
            X, covered, np.zeros(covered.size, np.int64), trainer.n_classes, trainer, **common
        )
    else:
        ctx = SelectionContext(X, labeled, labels, trainer.n_classes, trainer, **common)
    selection = chosen.select_with_trace(ctx, candidates, budget, child_rng(root, "select"))
    idx = selection.indices
    trace = dict(selection.trace) or None
    noms = trace.pop("batch_nominators", None) if trace else None
    final = (trace or {}).get("final_strategy", chosen.name)
    provenance = [{"final": final, "rounds": dict((noms or {}).get(str(int(i)), {}))} for i in idx]
    return BatchSelection(
        indices=np.asarray(idx, dtype=np.int64),
        strategy=str(cold_start) if use_cold else strategy,
        requested_strategy=strategy,
        cold_start=use_cold,
        provenance=provenance,
        trace=trace,
        seconds=time.perf_counter() - t0,
    )


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v) == -1
    return False


def _parse_labels(
    labels: Any, n: int, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int, list | None]:
    """``labels`` (array of length N, or mapping row → label) → (rows, class indices, K, names)."""
    if labels is None:
        pairs: list[tuple[int, Any]] = []
    elif isinstance(labels, Mapping):
        pairs = []
        for k, v in labels.items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n:
                raise DataError(f"labels: keys must be row indices in [0, {n}), got {k!r}")
            if _is_missing(v):
                continue
            pairs.append((int(k), v))
    else:
        arr = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
        if arr.ndim != 1 or arr.shape[0] != n:
            raise DataError(
                f"labels must have one entry per row of features ({n}), got shape {arr.shape}; "
                "mark unlabeled rows with -1 or None"
            )
        pairs = [(i, v) for i, v in enumerate(arr.tolist()) if not _is_missing(v)]
    rows = np.asarray([i for i, _ in pairs], dtype=np.int64)
    values = [v for _, v in pairs]
    integral = all(
        (isinstance(v, (int, np.integer)) and not isinstance(v, bool))
        or (isinstance(v, (float, np.floating)) and float(v).is_integer())
        for v in values
    )
    if integral:
        y = np.asarray([int(v) for v in values], dtype=np.int64)
        if y.size and y.min() < 0:
            raise DataError(
                f"labels: class indices must be >= 0 (or -1 for unlabeled), got {y.min()}"
            )
        k = int(n_classes) if n_classes is not None else (int(y.max()) + 1 if y.size else 0)
        if y.size and y.max() >= k:
            raise DataError(f"labels contain class {y.max()} but n_classes={k}")
        return rows, y, k, None
    names = sorted({str(v) for v in values})
    index = {c: j for j, c in enumerate(names)}
    y = np.asarray([index[str(v)] for v in values], dtype=np.int64)
    k = len(names) if n_classes is None else int(n_classes)
    if k < len(names):
        raise DataError(f"labels name {len(names)} classes but n_classes={k}")
    return rows, y, k, names


def select_batch(
    features: Any,
    labels: Any,
    batch_size: int | None = None,
    *,
    budget: int | None = None,
    strategy: str = "refine",
    strategy_params: Mapping[str, Any] | None = None,
    seed: int = 0,
    cold_start: str = "typiclust",
    exclude: Any = None,
    n_classes: int | None = None,
    head_epochs: int = 200,
    head_config: HeadConfig | None = None,
    device: str = "cpu",
    cycle: int = 1,
    jobs: int | None = None,
    profile: str | None = None,
) -> BatchSelection:
    """Choose the next ``batch_size`` instances to annotate.

    Parameters
    ----------
    features : array-like of shape (N, D)
        Frozen embeddings of the whole pool (labeled and unlabeled). NaN/inf are rejected.
    labels : array-like of length N, mapping, or None
        The labels so far. An array marks unlabeled rows with ``-1``, ``None``, ``NaN`` or
        ``""``; a mapping gives ``{row: label}`` for the labeled rows only; ``None`` means no
        labels yet (cold start). Labels are class indices (ints) or class names (strings; they
        are indexed in sorted order and returned in ``BatchSelection.classes``).
    batch_size : int
        Number of instances to select (the AL batch b), between 1 and the number of unlabeled,
        not excluded rows.
    budget : int, optional
        Deprecated name of ``batch_size``.
    strategy : str
        Any registered strategy or composite spec (``"refine"``, ``"margin"``,
        ``"filtered:badge"``, ...; see ``refine strategies``).
    strategy_params : dict, optional
        Constructor parameters of the strategy, e.g. ``{"rounds": 3}`` for Refine.
    seed : int
        Fixes everything random: the head's initial weights, its minibatch order and the
        strategy's draws. The same inputs and seed give the same batch.
    cold_start : str
        Label-free strategy used instead of ``strategy`` when there are no labels and ``strategy``
        needs them: ``"typiclust"`` (default) or ``"maxherding"`` (or ``"random"``, ``"coreset"``).
    exclude : array-like of int, optional
        Rows that must not be selected although unlabeled (e.g. already sent to annotators).
        Strategies that never read labels (TypiClust, MaxHerding, Coreset) treat them as
        covered.
    n_classes : int, optional
        Number of classes K (default: inferred from the labels). Set it when some classes have no
        label yet.
    head_epochs : int
        Epochs of head training (paper protocol: 200). Ignored when ``head_config`` is given.
    head_config : HeadConfig, optional
        All head-training hyperparameters.
    device : str
        Torch device of head training: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``. On a
        device other than the CPU the strategies' heavy kernels run in torch there too (same
        batches where there are no near-ties); ``"cpu"`` keeps the numpy kernels.
    cycle : int
        AL cycle number handed to the strategy (only schedule-based strategies such as TCM
        read it).
    jobs : int, optional
        Threads for Refine's filtering draws, each with one BLAS thread (default: all CPU
        cores). The batch does not depend on it; ``strategy_params["n_jobs"]`` overrides it.
    profile : {"published", "corrected"}, optional
        Fidelity profile of the strategy's parameters (:mod:`refine.profiles`); explicit
        ``strategy_params`` win. None: the package defaults.

    Returns
    -------
    BatchSelection
        ``indices`` (rows of ``features``), the strategy that selected them, whether it was a
        cold start, and per-instance ``provenance`` (which ensemble members nominated each
        instance in which filtering round, for Refine).

    Raises
    ------
    DataError
        Malformed features or labels, or a batch size larger than the selectable pool.
    ConfigError
        Unknown strategy or profile, invalid strategy parameters or cold-start strategy.

    Examples
    --------
    >>> import numpy as np
    >>> from refine.project import select_batch
    >>> X = np.random.default_rng(0).normal(size=(500, 16)).astype(np.float32)
    >>> labels = np.full(500, -1)
    >>> labels[:20] = np.arange(20) % 4
    >>> batch = select_batch(X, labels, 10, strategy="margin", seed=7, head_epochs=20)
    >>> batch.indices.shape
    (10,)
    """
    t0 = time.perf_counter()
    if budget is not None:
        if batch_size is not None:
            raise ConfigError("give batch_size only (budget is its deprecated name)")
        warnings.warn(
            "select_batch(budget=...) is deprecated; use batch_size", FutureWarning, stacklevel=2
        )
        batch_size = budget
    if batch_size is None:
        raise ConfigError("batch_size (instances to select) is required")
    request = SelectRequest(
        batch_size=batch_size,
        strategy=strategy,
        strategy_params=dict(strategy_params or {}),
        seed=seed,
        cold_start=cold_start,
        head_epochs=head_epochs,
        device=device,
        jobs=jobs,
        profile=profile,
    ).validated()
    X = validate_features(features)
    rows, y, k, names = _parse_labels(labels, X.shape[0], n_classes)
    if np.unique(rows).size != rows.size:
        raise DataError("labels: a row is labeled twice")
    ex = np.zeros(0, np.int64)
    if exclude is not None:
        ex = np.unique(np.asarray(exclude, dtype=np.int64).ravel())
        if ex.size and (ex.min() < 0 or ex.max() >= X.shape[0]):
            raise DataError(f"exclude: row indices must lie in [0, {X.shape[0]})")
        ex = ex[~np.isin(ex, rows)]
    config = head_config or HeadConfig(epochs=request.head_epochs)
    trainer = HeadTrainer(
        X.shape[1],
        max(k, 2),
        init_seed=head_init_seed(seed),
        config=config,
        device=device,
    )
    result = run_selection(
        X, rows, y, trainer, request, exclude=ex, seed=child_seed(seed, "select-batch"), cycle=cycle
    )
    result.classes = names
    result.seconds = time.perf_counter() - t0
    return result
