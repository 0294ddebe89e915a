"""scikit-activeml baselines for BADGE and Coreset, on the same inputs as our strategies.

``BASELINES[name](X, probas, labeled_idx, labels, candidates, batch_size, seed)`` runs
scikit-activeml 1.0.1's implementation of the same algorithm and returns pool indices.

- ``badge``: ``skactiveml.pool.Badge`` with a stand-in classifier that returns the given
  probabilities and the given features as embeddings (the "samples" handed to scikit-activeml are
  pool indices, so the classifier looks rows up instead of recomputing anything). Same first
  centre (largest gradient norm) and D²-sampling with chosen centres excluded, but (1) it builds
  the explicit N×KD gradient embedding (the memory hot spot), (2) it samples with its own
  ``RandomState``, so batches cannot agree draw by draw, and (3) version 1.0.1 still keeps the
  origin as a permanent centre (its D starts at ``‖g‖``, issue #588), so its probabilities are
  ``min(‖g‖², D²)`` where ours are ``D²`` (``tests/strategies/test_badge.py`` shows this is the
  only difference in the sampling distribution).
- ``coreset``: ``skactiveml.pool.CoreSet``, the same greedy k-center; with a non-empty labeled set
  the selections are identical (``tests/strategies/test_coreset.py``).
- BAIT: scikit-activeml has no BAIT, so there is no baseline.
"""

from __future__ import annotations

import numpy as np
from skactiveml.base import SkactivemlClassifier
from skactiveml.pool import Badge, CoreSet


class _GivenOutputs(SkactivemlClassifier):
    """A classifier whose ``predict_proba`` returns precomputed outputs, looked up by pool index.

    Its input ``X`` is a column of pool indices; with ``return_embeddings=True`` it also returns
    the pool features of those rows (what BADGE uses as ``h``).
    """

    def __init__(self, probas=None, features=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.probas = probas
        self.features = features

    def fit(self, X, y, sample_weight=None):  # pragma: no cover - never called (fit_clf=False)
        return self

    def predict_proba(self, X, return_embeddings=False):
        idx = np.asarray(X)[:, 0].astype(np.int64)
        P = np.asarray(self.probas, dtype=np.float64)[idx]
        if return_embeddings:
            return P, np.asarray(self.features, dtype=np.float64)[idx]
        return P


def _partial_labels(n: int, labeled_idx: np.ndarray, labels: np.ndarray) -> np.ndarray:
    y = np.full(n, np.nan)
    y[np.asarray(labeled_idx, dtype=np.int64)] = labels
    return y


def skal_badge(X, probas, labeled_idx, labels, candidates, batch_size, seed):
    """scikit-activeml BADGE on our features and probabilities; returns pool indices."""
    n, K = probas.shape
    clf = _GivenOutputs(probas=probas, features=X, classes=np.arange(K))
    qs = Badge(clf_embedding_flag_name="return_embeddings", random_state=int(seed))
    chosen = qs.query(
        np.arange(n, dtype=np.float64)[:, None],
        _partial_labels(n, labeled_idx, labels),
        clf,
        fit_clf=False,
        candidates=np.asarray(candidates, dtype=np.int64),
        batch_size=int(batch_size),
    )
    return np.asarray(chosen, dtype=np.int64)


def skal_coreset(X, probas, labeled_idx, labels, candidates, batch_size, seed):
    """scikit-activeml CoreSet (greedy k-center, Euclidean) on our features; pool indices."""
    qs = CoreSet(random_state=int(seed))
    chosen = qs.query(
        np.asarray(X),
        _partial_labels(X.shape[0], labeled_idx, labels),
        candidates=np.asarray(candidates, dtype=np.int64),
        batch_size=int(batch_size),
    )
    return np.asarray(chosen, dtype=np.int64)


BASELINES = {"badge": skal_badge, "coreset": skal_coreset}
