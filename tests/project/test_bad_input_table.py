"""Every bad input of the practitioner commands: exit code 2, one clear line, nothing changed.

Each case builds its input in a fresh folder beside a project (one cold-start round of six
instances, labeled) and names the command line and the fragments its error message must contain
(the file, row or parameter, and what is allowed). The test hashes every file of the project
folder (and of the folder around it) before and after: both must be byte-identical.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from refine.cli import app
from refine.project import Project
from tests.project.conftest import snapshot, write_csv


@dataclass
class Case:
    """``build(project_root, tmp) -> (argv, fragments)``."""

    name: str
    build: Callable[[Path, Path], tuple[list, list[str]]]


def ls_task(data, result=None, tid=1):
    """A Label Studio export task with one annotation whose result is ``result``."""
    if result is None:
        result = [{"from_name": "label", "type": "choices", "value": {"choices": ["ant"]}}]
    return {"id": tid, "data": data, "annotations": [{"result": result}]}


def choice(value):
    return [{"from_name": "label", "type": "choices", "value": {"choices": value}}]


def json_file(tmp, name, obj):
    path = tmp / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def label_json(obj, *fragments):
    def build(root, tmp):
        return ["label", root, json_file(tmp, "export.json", obj)], list(fragments)

    return build


def parquet(table, *fragments):
    def build(root, tmp):
        pq.write_table(table, tmp / "emb.parquet")
        return ["init", tmp / "new", "--features", tmp / "emb.parquet"], list(fragments)

    return build


def npy(arr, *fragments):
    def build(root, tmp):
        np.save(tmp / "emb.npy", arr)
        return ["init", tmp / "new", "--features", tmp / "emb.npy"], list(fragments)

    return build


def json_ids(ids, *fragments):
    def build(root, tmp):
        np.save(tmp / "emb.npy", np.ones((len(ids), 3), np.float32))
        path = json_file(tmp, "ids.json", ids)
        return ["init", tmp / "new", "--features", tmp / "emb.npy", "--ids", path], list(fragments)

    return build


def inside(option, rel, command="export"):
    def build(root, tmp):
        extra = ["--batch-size", "2", "--strategy", "random"] if command == "select" else []
        if option == "--labeling-config":
            argv = [command, root, *extra, "--out", tmp / "t.json", option, root / rel]
        else:
            argv = [command, root, *extra, option, root / rel]
        return argv, [f"{option} {root / rel}", "inside the project folder"]

    return build


def csv_text(text, *fragments):
    def build(root, tmp):
        path = tmp / "ann.csv"
        path.write_text(text)
        return ["label", root, path], list(fragments)

    return build


def event_file(sub, name, obj, *fragments):
    def build(root, tmp):
        (root / sub / name).write_text(json.dumps(obj))
        return ["status", root, "--no-estimate"], list(fragments)

    return build


def foreign_labels(root):
    return {
        "format": "refine-project",
        "format_version": 1,
        "kind": "labels",
        "number": 2,
        "seq": 3,
        "labels": {"item-001": "ant"},  # an object, not a list of pairs
    }


def existing_out(root, tmp):
    (tmp / "batch.csv").write_text("keep me\n")
    argv = ["select", root, "--batch-size", "2", "--strategy", "random", "--out", tmp / "batch.csv"]
    return argv, ["--out", "batch.csv already exists", "--force"]


def out_is_folder(root, tmp):
    (tmp / "adir.csv").mkdir()
    argv = ["select", root, "--batch-size", "2", "--strategy", "random", "--out", tmp / "adir.csv"]
    return argv, ["adir.csv is a folder", "give a file name"]


def init_under_a_file(root, tmp):
    (tmp / "afile").write_text("x")
    np.save(tmp / "e.npy", np.ones((4, 3), np.float32))
    return ["init", tmp / "afile" / "sub", "--features", tmp / "e.npy"], ["afile is a file"]


def config_is_folder(root, tmp):
    (tmp / "cfgdir").mkdir()
    argv = ["export", root, "--out", tmp / "t.json", "--labeling-config", tmp / "cfgdir"]
    return argv, ["--labeling-config", "cfgdir is a folder"]


def unknown_ids_in_ls_csv(root, tmp):
    # a Label Studio CSV whose refine_id values are not pool ids: refused, even though its own
    # 'id' column (Label Studio's task numbers) happens to look like ids
    text = "id,refine_id,label\n1,photo-1.jpg,ant\n2,photo-2.jpg,bee\n"
    return csv_text(text, "2 id(s) are not in the project's pool", "'photo-1.jpg'")(root, tmp)


def bracket_id(root, tmp):
    f = write_csv(tmp / "a.csv", [('pip install "refine-al[backbones]"', "ant")])
    return ["label", root, f], ["'pip install \"refine-al[backbones]\"'"]


def cold_start_bad_param(root, tmp):
    # a fresh project (no labels): the cold start stands in, but the requested strategy's
    # parameters are still validated before anything is recorded
    return ["select", root, "--batch-size", "3", "--param", "rounds=0"], ["rounds"]


def no_cuda(root, tmp):
    return ["select", root, "--batch-size", "2", "--device", "cuda"], [
        "--device cuda",
        "CUDA is not available",
        "--device cpu",
    ]


CASES = [
    # data loss: outputs inside the project, silent overwrites, a folder as --out
    Case("export over project.json", inside("--out", "project.json")),
    Case("select over its next round", inside("--out", "rounds/round-0002.json", "select")),
    Case("labeling config over the ids", inside("--labeling-config", "pool/ids.json")),
    Case("export into labels/", inside("--out", "labels/batch.csv")),
    Case("existing --out without --force", existing_out),
    Case("--out is a folder", out_is_folder),
    Case("--labeling-config is a folder", config_is_folder),
    # wrong labels: a Label Studio CSV's own ids
    Case("Label Studio CSV with foreign refine_ids", unknown_ids_in_ls_csv),
    # tracebacks before: Label Studio JSON
    Case(
        "data is a string",
        label_json([{"id": 1, "data": "item-001", "annotations": []}], "'data' must be an object"),
    ),
    Case(
        "choice is an object",
        label_json([ls_task({"refine_id": "item-001"}, choice([{"x": 1}]))], "must be a string"),
    ),
    Case("deeply nested", label_json("[" * 100000 + "]" * 100000, "nested too deeply")),
    Case(
        "choices a string",
        label_json([ls_task({"refine_id": "item-001"}, choice("c1"))], "'choices' must be a list"),
    ),
    Case("choice empty", label_json([ls_task({"refine_id": "item-001"}, choice([""]))], "empty")),
    Case(
        "choice whitespace",
        label_json([ls_task({"refine_id": "item-001"}, choice(["  "]))], "empty choice"),
    ),
    Case("choice null", label_json([ls_task({"refine_id": "item-001"}, choice([None]))], "empty")),
    Case(
        "choice true",
        label_json([ls_task({"refine_id": "item-001"}, choice([True]))], "got bool True"),
    ),
    Case(
        "choice with NUL",
        label_json([ls_task({"refine_id": "item-001"}, choice(["a\x00b"]))], "control characters"),
    ),
    Case(
        "refine_id a list",
        label_json([ls_task({"refine_id": [1, 2]})], "refine_id must be a pool id"),
    ),
    # CSV annotations
    Case("two label columns", csv_text("id,label,label\nitem-001,ant,bee\n", "'label'", "once")),
    Case("label with NUL", csv_text("id,label\nitem-001,a\x00b\n", "NUL")),
    # embeddings
    Case("complex .npy", npy(np.ones((4, 3), np.complex64), "complex64", "real numbers")),
    Case("timedelta .npy", npy(np.ones((4, 3), "m8[s]"), "timedelta64", "real numbers")),
    Case(
        "Parquet nested lists",
        parquet(pa.table({"v": [[[1.0]], [[2.0]]]}), "lists of list", "lists of numbers"),
    ),
    Case(
        "Parquet list of strings",
        parquet(pa.table({"v": [["a", "b"], ["c", "d"]]}), "lists of string"),
    ),
    Case(
        "Parquet list of booleans",
        parquet(pa.table({"v": [[True, False], [False, True]]}), "lists of bool"),
    ),
    Case("JSON id null", json_ids(["a", None, "c"], "entries [1]", "NoneType")),
    Case("JSON id list", json_ids(["a", [1, 2], "c"], "entries [1]", "list")),
    Case("JSON id object", json_ids(["a", {"k": 1}, "c"], "entries [1]", "dict")),
    Case(
        "empty id in .txt",
        lambda root, tmp: (
            np.save(tmp / "e.npy", np.ones((3, 2), np.float32)),
            (tmp / "ids.txt").write_text("a\n\nc\n"),
            [
                ["init", tmp / "new", "--features", tmp / "e.npy", "--ids", tmp / "ids.txt"],
                ["empty id on line(s) [2]"],
            ],
        )[-1],
    ),
    Case("init under a file", init_under_a_file),
    # project files
    Case(
        "foreign label event",
        lambda root, tmp: event_file(
            "labels", "labels-0002.json", foreign_labels(root), "labels-0002.json", "not a valid"
        )(root, tmp),
    ),
    Case(
        "malformed round event",
        event_file("rounds", "round-0002.json", [1, 2, 3], "round-0002.json", "not a refine"),
    ),
    # options
    Case(
        "unknown --param name",
        lambda root, tmp: (
            ["select", root, "--batch-size", "2", "--param", "roundz=3"],
            ["--param roundz", "no strategy of this run takes it", "rounds"],
        ),
    ),
    Case("square brackets survive", bracket_id),
    Case("no CUDA", no_cuda),
    Case(
        "backbone eat for images",
        lambda root, tmp: (
            (tmp / "imgs").mkdir(),
            (tmp / "imgs" / "a.png").write_bytes(b""),
            [
                ["init", tmp / "new", "--images", tmp / "imgs", "--backbone", "eat"],
                ["--backbone eat is an audio backbone", "dinov2"],
            ],
        )[-1],
    ),
]


@pytest.fixture
def labeled(project, truth, tmp_path):
    rec = project.select(6, strategy="random")
    project.add_labels(write_csv(tmp_path / "first.csv", [(i, truth[i]) for i in rec["selected"]]))
    return project


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_with_one_line_and_nothing_changed(case, labeled, tmp_path, monkeypatch):
    if case.name == "no CUDA":
        import torch

        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    work = tmp_path / "work"
    work.mkdir()
    argv, fragments = case.build(labeled.root, work)
    # snapshots of the project *and* of the folder the inputs and outputs live in
    before = (snapshot(labeled.root), snapshot(work))
    result = CliRunner().invoke(app, [str(a) for a in argv])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, result.output
    for f in fragments:
        assert f in errors[0], (f, errors[0])
    assert "Traceback" not in result.output
    assert (snapshot(labeled.root), snapshot(work)) == before


def test_a_fresh_project_refuses_a_bad_param_on_its_cold_start(project, tmp_path):
    before = snapshot(project.root)
    argv, fragments = cold_start_bad_param(project.root, tmp_path)
    result = CliRunner().invoke(app, [str(a) for a in argv])
    assert result.exit_code == 2 and "rounds" in result.output
    assert snapshot(project.root) == before


# ------------------------------------------------------------------ the data-loss cases, fixed


def test_force_replaces_and_keeps_the_file_mode(labeled, tmp_path):
    out = tmp_path / "batch.csv"
    out.write_text("old\n")
    os.chmod(out, 0o644)
    r = CliRunner().invoke(
        app,
        [
            "select",
            str(labeled.root),
            "--batch-size",
            "2",
            "--strategy",
            "random",
            "--out",
            str(out),
            "--force",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("id,round") and (out.stat().st_mode & 0o777) == 0o644


def test_new_files_follow_the_umask(labeled, tmp_path):
    old = os.umask(0o027)
    try:
        r = CliRunner().invoke(
            app, ["export", str(labeled.root), "--out", str(tmp_path / "t.json")]
        )
        p = Project.create(
            tmp_path / "p2",
            features=labeled.root / "pool" / "features.npy",
        )
        rec = p.select(2, strategy="random")
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t.json").stat().st_mode & 0o777 == 0o640
    assert p.root.stat().st_mode & 0o777 == 0o750
    assert (p.root / "project.json").stat().st_mode & 0o777 == 0o640
    assert Path(rec["file"]).stat().st_mode & 0o777 == 0o640


def test_select_writes_the_batch_before_recording_the_round(labeled, tmp_path, monkeypatch):
    """A failure while recording leaves neither a round nor a batch file behind."""
    from refine.project import selection
    from refine.project.store import ConcurrentModificationError

    seen = {}

    def failing_write_event(root, kind, number, seq, payload):
        seen["batch existed"] = (tmp_path / "b.csv").exists()
        raise ConcurrentModificationError("simulated concurrent writer")

    monkeypatch.setattr(selection, "write_event", failing_write_event)
    before = snapshot(labeled.root)
    r = CliRunner().invoke(
        app,
        [
            "select",
            str(labeled.root),
            "--batch-size",
            "2",
            "--strategy",
            "random",
            "--out",
            str(tmp_path / "b.csv"),
            "-q",
        ],
    )
    assert r.exit_code == 2 and "simulated concurrent writer" in r.output
    assert seen == {"batch existed": True}  # written first ...
    assert not (tmp_path / "b.csv").exists()  # ... and removed as the round was not recorded
    assert snapshot(labeled.root) == before


def test_label_studio_csv_is_read_by_refine_id_not_its_own_id(tmp_path):
    """Pool ids are row numbers; Label Studio's task ids are row numbers too, but other ones."""
    np.save(tmp_path / "e.npy", np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32))
    p = Project.create(tmp_path / "p", features=tmp_path / "e.npy")
    f = tmp_path / "ls.csv"
    f.write_text('annotation_id,id,label,refine_id\n7,1,ant,"4"\n8,2,bee,"5"\n')
    p.add_labels(f)
    assert p.state.labels == {"4": "ant", "5": "bee"}


def test_an_unhandled_error_is_reported_not_swallowed(labeled, monkeypatch):
    from refine.project import project as project_module

    def boom(self):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(project_module.Project, "status", boom)
    r = CliRunner().invoke(app, ["status", str(labeled.root), "--no-estimate"])
    assert r.exit_code == 1
    assert "internal error" in r.output and "ZeroDivisionError: a bug" in r.output
    assert "Traceback" in r.output


# ------------------------------------------------------------------ one vocabulary


def test_budget_is_a_hidden_deprecated_alias_of_batch_size(labeled):
    r = CliRunner().invoke(
        app, ["select", str(labeled.root), "--budget", "3", "--strategy", "random", "--dry-run"]
    )
    assert r.exit_code == 0, r.output
    assert "--budget is deprecated; use --batch-size" in r.output
    assert "3 instance(s) selected" in r.output
    help_text = CliRunner().invoke(app, ["select", "--help"]).output
    assert "--batch-size" in help_text and "--budget" not in help_text
    r = CliRunner().invoke(app, ["select", str(labeled.root), "--budget", "3", "--batch-size", "3"])
    assert r.exit_code == 2 and "give --batch-size only" in r.output


def test_init_calls_images_per_forward_pass_forward_batch():
    help_text = " ".join(CliRunner().invoke(app, ["init", "--help"]).output.split())
    assert "--forward-batch" in help_text and "--batch-size" not in help_text


def test_select_batch_accepts_budget_with_a_warning(pool):
    from refine.project import select_batch

    X = pool[0]
    with pytest.warns(FutureWarning, match="use batch_size"):
        old = select_batch(X, None, budget=4, strategy="random", seed=1)
    new = select_batch(X, None, 4, strategy="random", seed=1)
    np.testing.assert_array_equal(old.indices, new.indices)


def test_url_prefix_percent_encodes_the_id(tmp_path):
    from refine.project.batches import image_refs
    from refine.project.store import ProjectMeta

    meta = ProjectMeta({"pool": {"source": {"kind": "images", "images": "/x"}}})
    refs = image_refs(meta, ["cats/img 1#.png", "ü/ä?.jpg"], "/data/local-files/?d=photos/")
    assert refs == {
        "cats/img 1#.png": "/data/local-files/?d=photos/cats/img%201%23.png",
        "ü/ä?.jpg": "/data/local-files/?d=photos/%C3%BC/%C3%A4%3F.jpg",
    }
    assert image_refs(meta, ["a b.png"]) == {"a b.png": "/x/a b.png"}
