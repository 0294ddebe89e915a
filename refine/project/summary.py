"""``refine status``: the project's numbers and a cross-validated estimate of the head's accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from refine.head import HeadConfig
from refine.project.store import FORMAT_VERSION
from refine.seeding import child_rng


def estimate_accuracy(
    project: Any,
    *,
    folds: int = 5,
    head_epochs: int = 200,
    device: str = "cpu",
    min_labels: int = 10,
) -> dict:
    """Held-out accuracy of the head, by k-fold cross-validation on the labeled set.

    Each fold trains a head with the project's protocol (fixed initial weights,
    ``head_epochs``) on the other folds and scores the held-out fold. Stratified folds are
    used when every class has at least ``folds`` labels.

    Returns
    -------
    dict
        ``available`` (False with a ``reason`` when there are fewer than ``min_labels``
        labels or fewer than two classes), else ``mean``, ``std``, ``folds``, ``n``.

    Notes
    -----
    The labeled set was chosen by active learning, not at random, so the estimate is biased
    (usually pessimistic: selected instances are the hard ones). It tracks progress; report
    final accuracy on a separately drawn random test set.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    rows, y = project.labeled_arrays()
    n_cls = len(set(y.tolist()))
    if rows.size < min_labels or n_cls < 2:
        return {
            "available": False,
            "reason": f"needs at least {min_labels} labels of at least 2 classes "
            f"(have {rows.size} of {n_cls})",
        }
    folds = int(min(folds, rows.size))
    counts = np.bincount(y)
    counts = counts[counts > 0]
    rs = int(child_rng(project.meta.seed, "estimate").integers(0, 2**31 - 1))
    if counts.min() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=rs)
    else:
        splitter = KFold(folds, shuffle=True, random_state=rs)
    X = project.features
    trainer = project.trainer(HeadConfig(epochs=head_epochs), device)
    accs = []
    for k, (tr, te) in enumerate(splitter.split(rows, y)):
        head = trainer.fit(
            X[rows[tr]], y[tr], seed=int(child_rng(project.meta.seed, "cv", k).integers(0, 2**62))
        )
        accs.append(head.accuracy(X[rows[te]], y[te]))
    return {
        "available": True,
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "folds": folds,
        "n": int(rows.size),
    }


def status(project: Any) -> dict:
    """Pool size, labels per class, pending instances and the rounds so far."""
    st = project.state
    return {
        "project": str(project.root),
        "format_version": FORMAT_VERSION,
        "state_version": st.version,
        "source": project.meta.source,
        "pool": project.meta.n,
        "dim": project.meta.dim,
        "labeled": len(st.labels),
        "unlabeled": project.meta.n - len(st.labels),
        "pending": len(st.pending),
        "classes": st.class_counts(),
        "label_imports": [
            {
                "number": ev.number,
                "file": ev.source.get("file"),
                "format": ev.source.get("format"),
                "labels": len(ev.labels),
                "new_classes": ev.new_classes,
                "created_utc": ev.created_utc,
            }
            for ev in st.label_events
        ],
        "rounds": [
            {
                "number": r["number"],
                "strategy": r["strategy"],
                "used_strategy": r["used_strategy"],
                "cold_start": r["cold_start"],
                "profile": r.get("profile"),
                "batch_size": r.get("batch_size", r.get("budget")),
                "n_labeled": r["n_labeled"],
                "seed": r["seed"],
                "labeled_since": sum(1 for i in r["selected"] if i in st.labels),
                "created_utc": r["created_utc"],
            }
            for r in st.rounds
        ],
    }
