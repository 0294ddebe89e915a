"""Bad input gets a clear one-line error (exit status 2) and leaves the project byte-identical."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from refine.cli import app
from tests.project.conftest import snapshot, write_csv


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "error:" in text
    for f in fragments:
        assert f in text, (f, text)


@pytest.fixture
def labeled_project(project, truth, tmp_path):
    """A project with one round (cold start) whose 6 instances are labeled."""
    rec = project.select(6, strategy="random")
    project.add_labels(write_csv(tmp_path / "first.csv", [(i, truth[i]) for i in rec["selected"]]))
    return project


def check_unchanged(root, *args, fragments):
    before = snapshot(root)
    result = run(*args)
    assert_refused(result, *fragments)
    assert snapshot(root) == before
    return result


def test_unknown_ids_in_annotations(labeled_project, tmp_path):
    f = write_csv(tmp_path / "a.csv", [("item-001", "ant"), ("nope-1", "bee"), ("nope-2", "ant")])
    check_unchanged(
        labeled_project.root,
        "label",
        labeled_project.root,
        f,
        fragments=["2 id(s) are not in the project's pool", "'nope-1'", "'nope-2'"],
    )


def test_conflicting_labels_for_one_id(labeled_project, tmp_path):
    f = write_csv(
        tmp_path / "a.csv", [("item-010", "ant"), ("item-011", "bee"), ("item-010", "cat")]
    )
    check_unchanged(
        labeled_project.root,
        "label",
        labeled_project.root,
        f,
        fragments=["conflicting labels", "'item-010': ['ant', 'cat']"],
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "is empty"), ("id,label\n", "no annotations"), ("\n\n", "is empty")],
)
def test_empty_annotation_file(labeled_project, tmp_path, content, fragment):
    f = tmp_path / "empty.csv"
    f.write_text(content)
    check_unchanged(labeled_project.root, "label", labeled_project.root, f, fragments=[fragment])


def test_annotation_file_without_the_columns(labeled_project, tmp_path):
    f = write_csv(tmp_path / "a.csv", [("item-001", "ant")], header="name,class")
    check_unchanged(
        labeled_project.root, "label", labeled_project.root, f, fragments=["'id' and 'label'"]
    )


def test_changed_label_without_relabel(labeled_project, tmp_path):
    i = next(iter(labeled_project.state.labels))
    old = labeled_project.state.labels[i]
    new = "zebra"
    f = write_csv(tmp_path / "a.csv", [(i, new)])
    check_unchanged(
        labeled_project.root,
        "label",
        labeled_project.root,
        f,
        fragments=[f"'{i}' is '{old}', file says '{new}'", "--relabel"],
    )


def test_label_studio_export_with_disagreeing_annotators(labeled_project, tmp_path):
    ann = [
        {"result": [{"from_name": "label", "type": "choices", "value": {"choices": [c]}}]}
        for c in ("ant", "bee")
    ]
    f = tmp_path / "export.json"
    f.write_text(json.dumps([{"id": 1, "data": {"refine_id": "item-050"}, "annotations": ann}]))
    check_unchanged(
        labeled_project.root, "label", labeled_project.root, f, fragments=["annotators disagree"]
    )


def test_budget_larger_than_the_unlabeled_pool(labeled_project):
    # 120 in the pool, 6 labeled, none pending: 114 selectable
    check_unchanged(
        labeled_project.root,
        "select",
        labeled_project.root,
        "--batch-size",
        "115",
        fragments=["--batch-size 115 is larger than the 114 instances", "between 1 and 114"],
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (["--batch-size", "3", "--strategy", "nope"], "unknown strategy 'nope'"),
        (["--batch-size", "3", "--cold-start", "margin"], "label-free strategy"),
        (["--batch-size", "3", "--param", "rounds=0"], "rounds"),
        (["--batch-size", "3", "--out", "batch.xlsx"], "unsupported file type"),
    ],
)
def test_bad_select_options(labeled_project, args, fragment):
    check_unchanged(
        labeled_project.root, "select", labeled_project.root, *args, fragments=[fragment]
    )


def test_incompatible_project_version(labeled_project, tmp_path):
    meta_path = labeled_project.root / "project.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    f = write_csv(tmp_path / "a.csv", [("item-001", "ant")])
    for args in (
        ["label", labeled_project.root, f],
        ["select", labeled_project.root, "--batch-size", "3"],
        ["status", labeled_project.root],
        ["export", labeled_project.root, "--out", tmp_path / "t.json"],
    ):
        check_unchanged(
            labeled_project.root,
            *args,
            fragments=["project format version 99", "reads version 1", "newer refine-al"],
        )
    assert not (tmp_path / "t.json").exists()


def test_not_a_project_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    check_unchanged(tmp_path, "status", tmp_path / "empty", fragments=["not a refine project"])
    check_unchanged(tmp_path, "status", tmp_path / "missing", fragments=["does not exist"])


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    "damage",
    [
        _flip_last_byte,
        lambda data: data[:-5],  # truncated inside the array
        lambda data: data[:1],  # truncated inside the header
    ],
    ids=["changed-byte", "cut-in-array", "cut-in-header"],
)
def test_a_modified_or_truncated_feature_file_is_detected(labeled_project, damage):
    path = labeled_project.root / "pool" / "features.npy"
    path.write_bytes(damage(path.read_bytes()))
    check_unchanged(
        labeled_project.root,
        "select",
        labeled_project.root,
        "--batch-size",
        "3",
        "--strategy",
        "random",
        fragments=["was modified"],
    )


# ---------------------------------------------------------------- refine init


def init_refused(tmp_path, *args, fragments):
    """`refine init` must refuse and leave the parent folder exactly as it was."""
    before = snapshot(tmp_path)
    assert_refused(run("init", tmp_path / "proj", *args), *fragments)
    assert snapshot(tmp_path) == before


def test_embeddings_with_nan(tmp_path, pool):
    X = pool[0].copy()
    X[[4, 9], 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    init_refused(
        tmp_path, "--features", tmp_path / "nan.npy", fragments=["NaN", "2 row(s)", "[4, 9]"]
    )


def test_ids_and_embeddings_of_different_lengths(tmp_path, pool):
    np.save(tmp_path / "e.npy", pool[0])
    (tmp_path / "ids.csv").write_text("id\n" + "\n".join(pool[2][:-3]) + "\n")
    init_refused(
        tmp_path,
        "--features",
        tmp_path / "e.npy",
        "--ids",
        tmp_path / "ids.csv",
        fragments=["lists 117 ids", "has 120 rows"],
    )


def test_duplicate_ids(tmp_path, pool):
    np.save(tmp_path / "e.npy", pool[0])
    ids = list(pool[2])
    ids[5] = ids[2]
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    init_refused(
        tmp_path,
        "--features",
        tmp_path / "e.npy",
        "--ids",
        tmp_path / "ids.txt",
        fragments=["duplicate ids", "'item-002'"],
    )


def test_ids_csv_without_id_column(tmp_path, pool):
    np.save(tmp_path / "e.npy", pool[0])
    (tmp_path / "ids.csv").write_text("name\n" + "\n".join(pool[2]) + "\n")
    init_refused(
        tmp_path,
        "--features",
        tmp_path / "e.npy",
        "--ids",
        tmp_path / "ids.csv",
        fragments=["column named 'id'"],
    )


def test_init_needs_exactly_one_source_and_a_new_folder(tmp_path, project, embedding_files):
    init_refused(tmp_path, fragments=["exactly one of --images"])
    before = snapshot(project.root)
    assert_refused(run("init", project.root, "--features", embedding_files[0]), "already exists")
    assert snapshot(project.root) == before


def test_init_into_an_existing_empty_folder(tmp_path, embedding_files):
    (tmp_path / "proj").mkdir()
    r = run("init", tmp_path / "proj", "--features", embedding_files[0], "-q")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "proj" / "project.json").exists()
