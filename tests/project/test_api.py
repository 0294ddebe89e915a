"""``select_batch``: the Python API of the practitioner workflow."""

from __future__ import annotations

import numpy as np
import pytest

from refine.errors import ConfigError, DataError
from refine.project import BatchSelection, select_batch
from tests.conftest import make_pool
from tests.project.conftest import LIGHT_REFINE

EPOCHS = 30


@pytest.fixture(scope="module")
def data():
    X, y = make_pool(n=150, d=8, k=3, seed=1, spread=0.5)
    labels = np.full(len(X), -1)
    labels[:12] = y[:12]
    return X, y, labels


def test_returns_unique_unlabeled_indices_with_provenance(data):
    X, _, labels = data
    b = select_batch(X, labels, 10, strategy="margin", seed=7, head_epochs=EPOCHS)
    assert isinstance(b, BatchSelection)
    assert len(b) == 10 and np.unique(b.indices).size == 10
    assert not np.isin(b.indices, np.arange(12)).any()
    assert b.strategy == "margin" and not b.cold_start
    assert [p["final"] for p in b.provenance] == ["margin"] * 10


def test_same_seed_same_batch_other_seed_other_batch(data):
    X, _, labels = data
    kw = dict(strategy="filtered:random", strategy_params=LIGHT_REFINE, head_epochs=EPOCHS)
    a = select_batch(X, labels, 8, seed=3, **kw)
    b = select_batch(X, labels, 8, seed=3, **kw)
    c = select_batch(X, labels, 8, seed=4, **kw)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert set(a.indices.tolist()) != set(c.indices.tolist())


def test_refine_provenance_names_nominators_per_round(data):
    X, _, labels = data
    b = select_batch(
        X, labels, 6, strategy="refine", strategy_params=LIGHT_REFINE, seed=0, head_epochs=EPOCHS
    )
    assert b.trace is not None and len(b.trace["pool_sizes"]) == 2
    assert "batch_nominators" not in b.trace
    for p in b.provenance:
        assert p["final"] == "uherding"
        assert set(p["rounds"]) <= {"1", "2"}
        for names in p["rounds"].values():
            assert set(names) <= set(LIGHT_REFINE["strategies"])
    # an instance of the final pool was nominated in the last round by at least one strategy
    assert all("2" in p["rounds"] for p in b.provenance)


@pytest.mark.parametrize("cold", ["typiclust", "maxherding"])
def test_cold_start_uses_a_label_free_strategy(data, cold):
    X, _, _ = data
    b = select_batch(X, None, 5, strategy="margin", cold_start=cold, seed=0)
    assert b.cold_start and b.strategy == cold and b.requested_strategy == "margin"
    assert np.unique(b.indices).size == 5


def test_label_free_request_is_not_a_cold_start(data):
    X, _, _ = data
    b = select_batch(X, np.full(len(X), -1), 5, strategy="maxherding", seed=0)
    assert not b.cold_start and b.strategy == "maxherding"


def test_string_labels_mapping_and_exclude(data):
    X, y, _ = data
    names = {i: ["x", "y", "z"][int(y[i])] for i in range(10)}
    exclude = np.arange(10, 40)
    b = select_batch(X, names, 10, strategy="margin", exclude=exclude, seed=0, head_epochs=EPOCHS)
    assert b.classes == ["x", "y", "z"]
    assert not np.isin(b.indices, np.arange(40)).any()
    # labels as an object array with None for unlabeled rows: the same batch
    arr = np.array([names.get(i) for i in range(len(X))], dtype=object)
    b2 = select_batch(X, arr, 10, strategy="margin", exclude=exclude, seed=0, head_epochs=EPOCHS)
    np.testing.assert_array_equal(b.indices, b2.indices)


def test_excluded_instances_count_as_covered_for_label_free_strategies(data):
    X, _, _ = data
    first = select_batch(X, None, 5, strategy="typiclust", seed=0)
    second = select_batch(X, None, 5, strategy="typiclust", exclude=first.indices, seed=0)
    assert not set(first.indices.tolist()) & set(second.indices.tolist())


def test_errors_name_the_problem(data):
    X, _, labels = data
    n_free = int((labels == -1).sum())
    with pytest.raises(DataError, match=rf"between 1 and {n_free}"):
        select_batch(X, labels, n_free + 1, strategy="margin")
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        select_batch(bad, labels, 3)
    with pytest.raises(DataError, match="one entry per row"):
        select_batch(X, labels[:-1], 3)
    with pytest.raises(ConfigError, match="unknown strategy"):
        select_batch(X, labels, 3, strategy="nope")
    with pytest.raises(ConfigError, match="label-free"):
        select_batch(X, labels, 3, cold_start="margin")
    with pytest.raises(ConfigError, match="--batch-size must be an integer >= 1"):
        select_batch(X, labels, 0)


def test_parallel_filtering_draws_give_the_same_batch(data):
    X, _, labels = data
    kw = dict(strategy="refine", strategy_params=LIGHT_REFINE, seed=5, head_epochs=EPOCHS)
    serial = select_batch(X, labels, 6, jobs=1, **kw)
    parallel = select_batch(X, labels, 6, jobs=2, **kw)
    np.testing.assert_array_equal(serial.indices, parallel.indices)
    assert serial.provenance == parallel.provenance


def test_pending_rows_never_get_a_label(data, monkeypatch):
    """A label-reading strategy sees only the truly labeled rows; a label-free one may see the
    pending rows as covered, but any label read then fails instead of inventing class 0."""
    from refine.head import HeadTrainer
    from refine.project import api

    X, _, labels = data
    rows = np.flatnonzero(labels >= 0)
    pending = np.arange(100, 110)
    seen = []

    class Spy(api.SelectionContext):
        def __init__(self, X, labeled, labels, *args, **kwargs):
            seen.append((np.asarray(labeled).copy(), np.asarray(labels).copy()))
            super().__init__(X, labeled, labels, *args, **kwargs)

    monkeypatch.setattr(api, "SelectionContext", Spy)
    trainer = HeadTrainer(X.shape[1], 3, init_seed=0)
    req = api.SelectRequest(batch_size=4, strategy="margin", head_epochs=EPOCHS)
    api.run_selection(X, rows, labels[rows], trainer, req, exclude=pending)
    np.testing.assert_array_equal(seen[-1][0], rows)
    np.testing.assert_array_equal(seen[-1][1], labels[rows])

    covered = np.concatenate([rows, pending])
    ctx = api._CoverageContext(X, covered, np.zeros(covered.size, np.int64), 3, trainer)
    np.testing.assert_array_equal(ctx.labeled, covered)
    with pytest.raises(api.CoveredRowLabelsRead):
        ctx.labels  # noqa: B018
    with pytest.raises(api.CoveredRowLabelsRead):
        ctx.probas(np.arange(3))
