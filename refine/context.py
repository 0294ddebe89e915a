"""The selection context: everything a strategy may read in one AL cycle, computed once.

A :class:`SelectionContext` holds the pool features, the labeled set and its labels, the trained
head and the trainer (for strategies that retrain, e.g. UHerding's temperature), and lazily
computed, memoised model outputs over the *whole* pool (logits, probabilities, L2-normalised
features). Filtering runs hundreds of strategy draws per cycle on subsamples of the pool; they all
read the same arrays by index instead of recomputing them or copying the features (the authors'
code deep-copies the data module for every draw, docs/protocol.md §7).

Memoisation is thread-safe, so draws may run in parallel threads. Per-cycle quantities that need
randomness (e.g. a held-out split of L) use :meth:`SelectionContext.rng_for`, a stream fixed by the
cycle's seed and a key, so they are identical whichever draw computes them first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from refine.data import validate_features, validate_labels
from refine.device import resolve_kernel_device
from refine.errors import DataError
from refine.head import HeadConfig, HeadTrainer, LinearHead, softmax
from refine.seeding import as_seed_sequence, child_rng, head_init_seed

T = TypeVar("T")


class SelectionContext:
    """Shared, read-only inputs of every strategy call in one cycle.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Pool features (float32). Indices everywhere refer to rows of ``X``.
    labeled : ndarray of int
        Indices of the labeled instances, in labeling order.
    labels : ndarray of int
        Their labels (same length as ``labeled``).
    n_classes : int
        Number of classes K.
    trainer : HeadTrainer
        Trains heads with the run's fixed initial weights and protocol.
    head : LinearHead, optional
        The head trained on L this cycle. When omitted it is trained lazily on first use.
    seed : int or SeedSequence
        The cycle's seed; :meth:`rng_for` derives per-cycle streams from it.
    cycle : int
        The AL cycle (0 = the initial pool), for strategies that schedule by cycle (TCM).
    kernel_device : str, optional
        Where the strategies' heavy kernels run. None (default): numpy on the CPU, the exact
        reference path. A torch device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``):
        the herding kernels and greedy, k-means / k-means++ / nearest centres, BAIT's algebra,
        BADGE's and Coreset's distances run in torch there, on the pool features moved to the
        device once per context (``refine/strategies/_torch_common.py``). Same batches as the
        numpy path where there are no near-ties (``tests/test_torch_path.py``).
    """

    def __init__(
        self,
        X: np.ndarray,
        labeled: np.ndarray,
        labels: np.ndarray,
        n_classes: int,
        trainer: HeadTrainer,
        head: LinearHead | None = None,
        seed: int | np.random.SeedSequence = 0,
        cycle: int = 0,
        kernel_device: str | None = None,
    ):
        self.X = X
        self.kernel_device = resolve_kernel_device(kernel_device)
        self.labeled = np.asarray(labeled, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        if self.labeled.shape != self.labels.shape:
            raise DataError(
                f"labeled indices and labels differ in length: {self.labeled.size} vs {self.labels.size}"
            )
        self.n_classes = int(n_classes)
        self.trainer = trainer
        self._head = head
        self.seed = as_seed_sequence(seed)
        self.cycle = int(cycle)
        self._memo: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()
        mask = np.zeros(self.n_pool, dtype=bool)
        mask[self.labeled] = True
        if mask.sum() != self.labeled.size:
            raise DataError("labeled indices contain duplicates")
        self.labeled_mask = mask

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_arrays(
        cls,
        X: np.ndarray,
        labeled_idx: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        n_classes: int | None = None,
        seed: int = 0,
        head_config: HeadConfig | None = None,
        device: str = "cpu",
        cycle: int = 0,
        kernel_device: str | None = None,
    ) -> SelectionContext:
        """A context from plain arrays (tests, notebooks, the practitioner API).

        The head is trained lazily, from initial weights seeded by ``seed``, when a strategy first
        needs it. ``device`` is head training's device; ``kernel_device`` the strategies' (see
        the class).
        """
        X = validate_features(X)
        labeled_idx = np.asarray([] if labeled_idx is None else labeled_idx, dtype=np.int64)
        labels = np.asarray([] if labels is None else labels, dtype=np.int64)
        if n_classes is None:
            n_classes = int(labels.max()) + 1 if labels.size else 2
        labels = validate_labels(labels, labeled_idx.size, n_classes, name="labels")
        if labeled_idx.size and (labeled_idx.min() < 0 or labeled_idx.max() >= X.shape[0]):
            raise DataError("labeled indices out of range of the pool")
        trainer = HeadTrainer(
            X.shape[1],
            max(int(n_classes), 2),
            init_seed=head_init_seed(seed),
            config=head_config,
            device=device,
        )
        return cls(
            X,
            labeled_idx,
            labels,
            n_classes,
            trainer,
            None,
            seed=seed,
            cycle=cycle,
            kernel_device=kernel_device,
        )

    # ------------------------------------------------------------------ basic views
    @property
    def n_pool(self) -> int:
        """Number of pool instances N."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_labeled(self) -> int:
        return int(self.labeled.size)

    def unlabeled(self) -> np.ndarray:
        """Indices of all unlabeled instances, ascending."""
        return np.flatnonzero(~self.labeled_mask)

    def rng_for(self, *key: int | str) -> np.random.Generator:
        """A generator for per-cycle quantities, fixed by the cycle's seed and ``key``."""
        return child_rng(self.seed, "context", *key)

    # ------------------------------------------------------------------ memoisation
    def memo(self, key: Any, fn: Callable[[], T]) -> T:
        """Compute ``fn()`` once per context under ``key`` (thread-safe) and return it."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = fn()
            return self._memo[key]

    def prepare(self, requirements: frozenset[str] | set[str]) -> None:
        """Compute the declared model outputs now (``Strategy.requirements()``), once per cycle.

        Strategies read the same memoised arrays afterwards; the AL loop calls this before each
        selection, so a strategy's draws never race to compute them.
        """
        if requirements & {"head", "probas"}:
            _ = self.head
        if "probas" in requirements:
            self.probas()
        if "normalized_features" in requirements:
            self.normalized_features()

    # ------------------------------------------------------------------ model outputs
    @property
    def head(self) -> LinearHead:
        """The head trained on L this cycle (trained on first access when not given)."""
        if self._head is None:
            self._head = self.memo("head", lambda: self.fit_head(self.labeled, self.labels, "head"))
        return self._head

    def fit_head(self, idx: np.ndarray, y: np.ndarray, key: int | str = "fit") -> LinearHead:
        """Train a fresh head (run's initial weights, paper protocol) on ``X[idx], y``.

        The minibatch order is seeded from the cycle's seed and ``key``, so the same call made from
        different draws gives the same head.
        """
        seed = int(self.rng_for("fit-head", key).integers(0, 2**63 - 1))
        return self.trainer.fit(self.X[idx], y, seed=seed)

    def logits(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Logits of the pool (``idx=None``) or of rows ``idx``; the pool's are computed once."""
        full = self.memo("logits", lambda: self.head.logits(self.X))
        return full if idx is None else full[idx]

    def probas(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Softmax probabilities of the pool or of rows ``idx`` (computed once per cycle)."""
        full = self.memo("probas", lambda: softmax(self.logits().copy()))
        return full if idx is None else full[idx]

    def normalized_features(self, idx: np.ndarray | None = None) -> np.ndarray:
        """L2-normalised pool features (rows of zero norm stay zero), computed once."""

        def compute() -> np.ndarray:
            norms = np.linalg.norm(self.X, axis=1, keepdims=True)
            return self.X / np.maximum(norms, np.finfo(np.float32).tiny)

        full = self.memo("normalized_features", compute)
        return full if idx is None else full[idx]
