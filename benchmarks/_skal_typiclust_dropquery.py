"""scikit-activeml 1.0.1 baselines for TypiClust and DropQuery (the lead's benchmark imports these).

``BASELINES[name](X, probas, labeled_idx, labels, candidates, batch_size, seed)`` runs
scikit-activeml's implementation on the same inputs as ours and returns pool indices. ALFA-Mix and
inverse TypiClust have no scikit-activeml counterpart.

How the algorithms differ from ours (so selections are *not* expected to agree):

TypiClust (``skactiveml.pool.TypiClust``, library defaults except the seed):
- ``n_clusters = |L| + b`` with no cap at 500 (ours: ``min(|L| + b, 500)``); scikit-learn
  ``KMeans`` with its own k-means++ seeding;
- typicality from ``k = 5`` neighbours (ours: ``min(20, n_c // 2)``), plain (not squared) L2,
  with the point itself counted among its neighbours and ``1e-7`` instead of ``1e-5``;
- the largest uncovered cluster first, ties broken at random; the same "each cluster at most
  once" rule as dal-toolbox, but when clusters run out it scores every candidate with
  typicality 1 and takes a random one.

DropQuery (``skactiveml.pool.DropQuery``, ``n_dropout_samples=3`` as in ALFM; its default is 5):
- dropout masks without the ``1/(1 − p)`` rescaling of ``torch.nn.Dropout`` (ours rescales);
- candidates: disagreement rate > 0.5, padded to b by the highest disagreement rates (ours:
  ALFM's threshold lowering down to ``c > 0`` until ``25·b`` qualify, then random padding);
- k-means on the raw candidate features (ours: L2-normalised), then the candidate with the
  smallest distance to each centre, taken centre by centre (a point may be nearest to a centre of
  another cluster).
"""

from __future__ import annotations

import numpy as np
from skactiveml.base import SkactivemlClassifier
from skactiveml.pool import DropQuery, TypiClust


def _subproblem(X, labeled_idx, labels, candidates):
    """X and y over L ∪ candidates (y NaN = unlabeled) and the candidates' positions in it."""
    labeled_idx = np.asarray(labeled_idx, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    idx = np.concatenate([labeled_idx, candidates])
    y = np.full(idx.size, np.nan)
    y[: labeled_idx.size] = labels
    return X[idx], y, np.arange(labeled_idx.size, idx.size), idx


class _FixedLinearClassifier(SkactivemlClassifier):
    """A scikit-activeml classifier that predicts with a given linear head (no training)."""

    def __init__(self, weight=None, bias=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.weight = weight
        self.bias = bias

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.asarray(self.classes)
        return self

    def predict_proba(self, X, **kwargs):
        z = np.asarray(X, dtype=np.float32) @ self.weight.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X, **kwargs):
        return (np.asarray(X, dtype=np.float32) @ self.weight.T + self.bias).argmax(axis=1)


def head_from_probas(X: np.ndarray, probas: np.ndarray, rows: np.ndarray):
    """Recover a linear head with the same argmax as the one behind ``probas``.

    Row-centred log-probabilities equal row-centred logits, which are linear in x:
    ``log p − mean_k log p = x W̃ᵀ + b̃`` with W̃, b̃ the class-centred weight and bias. Least squares
    over ``rows`` recovers them exactly (up to rounding) when those rows span the feature space.
    """
    logp = np.log(np.maximum(probas[rows].astype(np.float64), 1e-300))
    logp -= logp.mean(axis=1, keepdims=True)
    A = np.hstack([X[rows].astype(np.float64), np.ones((rows.size, 1))])
    coef, *_ = np.linalg.lstsq(A, logp, rcond=None)
    return coef[:-1].T.astype(np.float32), coef[-1].astype(np.float32)


def skal_typiclust(X, probas, labeled_idx, labels, candidates, batch_size, seed):
    """scikit-activeml TypiClust on L ∪ candidates (library defaults, ``random_state=seed``)."""
    Xs, ys, cand_pos, idx = _subproblem(X, labeled_idx, labels, candidates)
    qs = TypiClust(random_state=seed)
    chosen = qs.query(Xs, ys, candidates=cand_pos, batch_size=batch_size)
    return idx[np.asarray(chosen, dtype=np.int64)]


def skal_dropquery(X, probas, labeled_idx, labels, candidates, batch_size, seed, head=None):
    """scikit-activeml DropQuery with the given head (``head=(weight, bias)``).

    Without ``head`` the head is recovered from ``probas`` by :func:`head_from_probas` (outside
    scikit-activeml's own work, but inside the timed call).
    """
    Xs, ys, cand_pos, idx = _subproblem(X, labeled_idx, labels, candidates)
    if head is None:
        weight, bias = head_from_probas(X, probas, idx)
    else:
        weight, bias = (np.asarray(head[0], np.float32), np.asarray(head[1], np.float32))
    clf = _FixedLinearClassifier(weight, bias, classes=np.arange(probas.shape[1]))
    clf.fit(Xs, ys)
    qs = DropQuery(n_dropout_samples=3, random_state=seed, cluster_algo_dict={"random_state": seed})
    chosen = qs.query(Xs, ys, clf=clf, fit_clf=False, candidates=cand_pos, batch_size=batch_size)
    return idx[np.asarray(chosen, dtype=np.int64)]


BASELINES = {"typiclust": skal_typiclust, "dropquery": skal_dropquery}
