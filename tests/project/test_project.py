"""The project folder: creation, label history, rounds, reproducibility, class growth, status."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from refine.errors import DataError
from refine.project import ConcurrentModificationError, Project, ProjectError
from refine.project.store import ensure_unchanged, write_event
from tests.project.conftest import snapshot, write_csv

EPOCHS = 30


def label_batch(project: Project, rec: dict, truth: dict, tmp_path, name: str) -> dict:
    path = write_csv(tmp_path / name, [(i, truth[i]) for i in rec["selected"]])
    return project.add_labels(path)


def test_create_from_npy_and_ids(project, pool):
    X, _, ids, _ = pool
    assert project.meta.n == 120 and project.meta.dim == 8
    assert project.ids == ids
    np.testing.assert_array_equal(project.features, X)
    files = set(snapshot(project.root))
    assert files == {
        "project.json",
        "pool",
        "pool/ids.json",
        "pool/features.npy",
        "labels",
        "rounds",
    }
    meta = json.loads((project.root / "project.json").read_text())
    assert meta["format_version"] == 1 and meta["pool"]["source"]["kind"] == "embeddings"


def test_create_from_parquet_with_an_id_column(tmp_path, pool):
    X, _, ids, _ = pool
    table = pa.table({"id": ids, "embedding": [row.tolist() for row in X]})
    pq.write_table(table, tmp_path / "emb.parquet")
    p = Project.create(tmp_path / "p", features=tmp_path / "emb.parquet")
    assert p.ids == ids
    np.testing.assert_allclose(p.features, X)
    # numeric columns, one per dimension, and ids from a .txt file
    pq.write_table(pa.table({f"d{j}": X[:, j] for j in range(X.shape[1])}), tmp_path / "w.parquet")
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    p2 = Project.create(tmp_path / "p2", features=tmp_path / "w.parquet", ids=tmp_path / "ids.txt")
    assert p2.ids == ids
    np.testing.assert_allclose(p2.features, X)


def test_rows_numbers_are_ids_when_none_given(tmp_path, embedding_files):
    p = Project.create(tmp_path / "p", features=embedding_files[0])
    assert p.ids[:3] == ["0", "1", "2"]


def test_cycle_cold_start_label_select_never_repeats(project, truth, tmp_path):
    r1 = project.select(10, strategy="margin", head_epochs=EPOCHS)
    assert r1["cold_start"] and r1["used_strategy"] == "typiclust" and r1["number"] == 1
    # a second batch before any label: typiclust again, disjoint from the pending one
    r2 = project.select(10, strategy="margin", head_epochs=EPOCHS)
    assert r2["cold_start"] and not set(r1["selected"]) & set(r2["selected"])
    assert len(project.state.pending) == 20
    s = label_batch(project, r1, truth, tmp_path, "a1.csv")
    assert s["new"] == 10 and s["file"].endswith("labels-0001.json")
    r3 = project.select(10, strategy="margin", head_epochs=EPOCHS)
    assert not r3["cold_start"] and r3["used_strategy"] == "margin"
    chosen = r1["selected"] + r2["selected"] + r3["selected"]
    assert len(set(chosen)) == 30
    assert [r["number"] for r in project.state.rounds] == [1, 2, 3]
    assert project.state.version == 4
    assert sorted(p.name for p in (project.root / "rounds").iterdir()) == [
        "round-0001.json",
        "round-0002.json",
        "round-0003.json",
    ]
    rec = json.loads((project.root / "rounds" / "round-0003.json").read_text())
    assert rec["selected"] == r3["selected"] and rec["seq"] == 4
    assert rec["n_labeled"] == 10 and rec["n_pending_excluded"] == 10


def test_include_pending_allows_reselection(project):
    r1 = project.select(5, strategy="typiclust")
    r2 = project.select(5, strategy="typiclust", include_pending=True, seed=r1["seed"])
    assert r2["n_pending_excluded"] == 0


def test_same_seed_and_state_give_the_same_batch(project, truth, tmp_path):
    label_batch(project, project.select(12, strategy="random"), truth, tmp_path, "a.csv")
    copy = Project.open(shutil.copytree(project.root, tmp_path / "copy"))
    kw = dict(strategy="margin", seed=7, head_epochs=EPOCHS)
    dry = project.select(8, dry_run=True, **kw)
    assert dry["file"] is None and len(project.state.rounds) == 1  # nothing recorded
    real = project.select(8, **kw)
    other = copy.select(8, **kw)
    assert dry["selected"] == real["selected"] == other["selected"]
    assert real["state_digest"] == other["state_digest"]
    # the next round with the same seed draws from another stream (round number)
    nxt = project.select(8, **kw)
    assert not set(nxt["selected"]) & set(real["selected"])


def test_relabel_needs_the_flag_and_keeps_history(project, truth, tmp_path):
    r = project.select(4, strategy="random")
    label_batch(project, r, truth, tmp_path, "a.csv")
    target = r["selected"][0]
    other = "bee" if truth[target] != "bee" else "ant"
    path = write_csv(tmp_path / "fix.csv", [(target, other)])
    before = snapshot(project.root)
    with pytest.raises(DataError, match="--relabel"):
        project.add_labels(path)
    assert snapshot(project.root) == before
    s = project.add_labels(path, relabel=True)
    assert s["relabeled"] == 1 and project.state.labels[target] == other
    assert project.state.label_events[-1].relabeled == {target: [truth[target], other]}
    # importing the same file again changes nothing and writes nothing
    before = snapshot(project.root)
    assert project.add_labels(path)["file"] is None
    assert snapshot(project.root) == before


def test_new_classes_grow_the_head(project, truth, tmp_path):
    by_class = {}
    for i, c in truth.items():
        by_class.setdefault(c, []).append(i)
    write_csv(tmp_path / "a.csv", [(i, c) for c in ("ant", "bee") for i in by_class[c][:4]])
    project.add_labels(tmp_path / "a.csv")
    assert project.state.classes == ["ant", "bee"]
    t2 = project.trainer()
    r = project.select(5, strategy="margin", head_epochs=EPOCHS)
    assert r["n_classes"] == 2
    # a later import brings a class nobody has seen yet
    write_csv(tmp_path / "b.csv", [(i, "cat") for i in by_class["cat"][:4]])
    s = project.add_labels(tmp_path / "b.csv")
    assert s["new_classes"] == ["cat"]
    assert project.state.classes == ["ant", "bee", "cat"] and project.state.class_growth == [2, 3]
    t3 = project.trainer()
    assert t3.n_classes == 3
    np.testing.assert_array_equal(t3.init_weight[:2], t2.init_weight)  # old rows kept
    np.testing.assert_array_equal(t3.init_bias[:2], t2.init_bias)
    r = project.select(5, strategy="margin", head_epochs=EPOCHS)
    assert r["n_classes"] == 3 and r["classes"] == ["ant", "bee", "cat"]
    # the head trained for the selection predicts all three classes
    rows, y = project.labeled_arrays()
    head = t3.fit(project.features[rows], y, seed=0)
    assert head.n_classes == 3 and set(head.predict(project.features).tolist()) == {0, 1, 2}


def test_status_and_accuracy_estimate(project, truth, tmp_path):
    st = project.status()
    assert st["pool"] == 120 and st["labeled"] == 0 and st["rounds"] == []
    assert not project.estimate_accuracy(head_epochs=EPOCHS)["available"]
    r = project.select(24, strategy="random")
    label_batch(project, r, truth, tmp_path, "a.csv")
    st = project.status()
    assert st["labeled"] == 24 and sum(st["classes"].values()) == 24 and st["pending"] == 0
    assert st["rounds"][0]["labeled_since"] == 24
    acc = project.estimate_accuracy(head_epochs=EPOCHS)
    assert acc["available"] and acc["folds"] == 5 and acc["mean"] > 0.8  # separable classes


def test_a_concurrent_change_is_detected_before_writing(project, truth, tmp_path):
    stale = Project.open(project.root)
    label_batch(project, project.select(3, strategy="random"), truth, tmp_path, "a.csv")
    with pytest.raises(ConcurrentModificationError):
        ensure_unchanged(stale.root, stale.state.version)
    before = snapshot(project.root)
    with pytest.raises(ConcurrentModificationError):
        stale.select(3, strategy="random")
    assert snapshot(project.root) == before


def test_batch_files_csv_and_label_studio(project, tmp_path):
    rec = project.select(6, strategy="typiclust")
    rows = project.batch_rows(rec)
    project.write_batch(tmp_path / "b.csv", rows)
    lines = (tmp_path / "b.csv").read_text().splitlines()
    assert lines[0] == "id,round,order,strategy,final,nominated_by,n_nominations"
    assert [ln.split(",")[0] for ln in lines[1:]] == rec["selected"]
    project.write_batch(tmp_path / "t.json", rows, url_prefix="/data/local-files/?d=x/")
    tasks = json.loads((tmp_path / "t.json").read_text())
    assert [t["data"]["refine_id"] for t in tasks] == rec["selected"]
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=x/" + rec["selected"][0]
    assert project.batch_rows(pending=True)[0]["id"] in rec["selected"]


def test_event_files_are_never_overwritten(project):
    project.select(3, strategy="random")
    before = snapshot(project.root)
    with pytest.raises(ConcurrentModificationError, match="already exists"):
        write_event(project.root, "round", 1, 2, {"selected": []})
    assert snapshot(project.root) == before  # no temporary file left either


def test_a_removed_event_file_is_detected(project):
    project.select(3, strategy="random")
    project.select(3, strategy="random")
    (project.root / "rounds" / "round-0001.json").unlink()
    with pytest.raises(ProjectError, match="without gaps"):
        Project.open(project.root)
