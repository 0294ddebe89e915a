"""scikit-activeml baselines for the herding strategies, on the same inputs as ours.

``BASELINES[name](X, probas, labeled_idx, labels, candidates, batch_size, seed)`` runs
scikit-activeml 1.0.1's implementation of the same algorithm and returns pool indices.

- ``maxherding``: ``skactiveml.pool.MaxHerding`` with L2-normalised samples and the RBF kernel
  with ``gamma=1`` (its default ``metric_dict=None`` would give scikit-learn's ``gamma = 1/D``).
  Same algorithm as our ``MaxHerding(gain="paper")``: coverage set = candidates, ``m`` starts at
  the maximum kernel value to L (0 when L is empty), gain ``mean_x max(k(c, x) − m(x), 0)``.
  Differences: it builds the full candidates × candidates kernel in float64 (10 GB at 50 000
  candidates, where ours keeps at most ``memory_budget_mb``), recomputes every gain at every
  step, and breaks exact ties at random (ours: lowest candidate position). Apart from exact ties
  the selections are identical (``tests/strategies/test_herding.py``).
- ``uherding``: scikit-activeml 1.0.1 has no UHerding (its ``_uherding.py`` came with a later
  pull request, #569), so there is no baseline.
"""

from __future__ import annotations

import numpy as np
from skactiveml.pool import MaxHerding


def skal_maxherding(X, probas, labeled_idx, labels, candidates, batch_size, seed, gamma=1.0):
    """scikit-activeml MaxHerding (RBF, ``gamma``, normalised samples); returns pool indices."""
    y = np.full(X.shape[0], np.nan)
    y[np.asarray(labeled_idx, dtype=np.int64)] = labels
    qs = MaxHerding(
        normalize_samples=True,
        metric="rbf",
        metric_dict={"gamma": float(gamma)},
        random_state=int(seed),
    )
    chosen = qs.query(
        np.asarray(X),
        y,
        candidates=np.asarray(candidates, dtype=np.int64),
        batch_size=int(batch_size),
    )
    return np.asarray(chosen, dtype=np.int64)


BASELINES = {"maxherding": skal_maxherding}
