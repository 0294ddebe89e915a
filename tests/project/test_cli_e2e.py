"""End to end through the CLI on a generated image folder with a random-weight backbone.

init → select (cold start) → label → select → export to Label Studio → import its export →
select; ids must round-trip and no instance may be selected twice.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from refine.cli import app

CLASSES = ("red", "green", "blue")
LIGHT = [
    "--param",
    "rounds=2",
    "--param",
    "draws_per_strategy=2",
    "--param",
    'strategies=["random","margin","typiclust"]',
]


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """36 small images in class sub-folders (plus a hidden file and a non-image to skip)."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for k, cls in enumerate(CLASSES):
        (root / cls).mkdir()
        for i in range(12):
            img = rng.integers(0, 60, (24, 24, 3), dtype=np.uint8)
            img[..., k] += 190  # the class is the dominant colour
            Image.fromarray(img).save(root / cls / f"{i:02d}.png")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"")
    return root


def read_batch(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def annotate(tasks):
    """What Label Studio exports after an annotator classified every task by its folder."""
    out = []
    for k, t in enumerate(tasks):
        cls = t["data"]["refine_id"].split("/")[0]
        result = [
            {
                "id": f"r{k}",
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "origin": "manual",
                "value": {"choices": [cls]},
            }
        ]
        out.append(
            {
                "id": 500 + k,  # Label Studio's own task id, not ours
                "data": t["data"],
                "annotations": [{"id": 900 + k, "result": result, "was_cancelled": False}],
                "predictions": [],
                "project": 1,
            }
        )
    return out


def test_practitioner_round_trip(tmp_path, image_folder):
    proj = tmp_path / "proj"
    run(
        "init",
        proj,
        "--images",
        image_folder,
        "--backbone",
        "dinov2",
        "--random-weights",
        "--forward-batch",
        "36",
        "-q",
    )
    meta = json.loads((proj / "project.json").read_text())
    assert meta["pool"]["n"] == 36 and meta["pool"]["dim"] == 384
    assert meta["pool"]["source"]["weights"] == "random-init(seed=0)"
    ids = json.loads((proj / "pool" / "ids.json").read_text())
    assert ids[0] == "blue/00.png" and len(ids) == 36

    # round 1: cold start, no labels yet
    run("select", proj, "--batch-size", "6", "--seed", "7", "--out", tmp_path / "b1.csv", "-q")
    b1 = read_batch(tmp_path / "b1.csv")
    assert len(b1) == 6 and {r["strategy"] for r in b1} == {"typiclust"}
    assert all(r["image"] == str(image_folder / r["id"]) for r in b1)

    # labels back as CSV (string class names)
    ann = tmp_path / "ann1.csv"
    ann.write_text("id,label\n" + "".join(f"{r['id']},{r['id'].split('/')[0]}\n" for r in b1))
    run("label", proj, ann)

    # round 2: Refine (light settings) with provenance
    run(
        "select",
        proj,
        "--batch-size",
        "6",
        "--seed",
        "7",
        "--epochs",
        "30",
        *LIGHT,
        "--out",
        tmp_path / "b2.csv",
        "-q",
    )
    b2 = read_batch(tmp_path / "b2.csv")
    assert {r["strategy"] for r in b2} == {"refine"} and {r["final"] for r in b2} == {"uherding"}
    assert all(r["nominated_by"].startswith("r") for r in b2)
    assert all(int(r["n_nominations"]) >= 1 for r in b2)

    # export round 2 to Label Studio, "annotate" there, import its export
    run("export", proj, "--out", tmp_path / "tasks.json", "--labeling-config", tmp_path / "cfg.xml")
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert [t["data"]["refine_id"] for t in tasks] == [r["id"] for r in b2]
    assert all(t["data"]["image"] == str(image_folder / t["data"]["refine_id"]) for t in tasks)
    assert "<Choice value=" in (tmp_path / "cfg.xml").read_text()
    export = tmp_path / "export.json"
    export.write_text(json.dumps(annotate(tasks)))
    out = run("label", proj, export).output
    assert "6 new label(s)" in " ".join(out.split())

    # round 3: Refine again; everything selected so far is labeled, nothing is selected twice
    run(
        "select",
        proj,
        "--batch-size",
        "6",
        "--seed",
        "7",
        "--epochs",
        "30",
        *LIGHT,
        "--out",
        tmp_path / "b3.json",
        "-q",
    )
    t3 = json.loads((tmp_path / "b3.json").read_text())
    chosen = [r["id"] for r in b1 + b2] + [t["data"]["refine_id"] for t in t3]
    assert len(chosen) == len(set(chosen)) == 18
    assert set(chosen) <= set(ids)

    status = json.loads(run("status", proj, "--json", "--epochs", "30").output)
    assert status["labeled"] == 12 and status["pending"] == 6
    assert set(status["classes"]) <= set(CLASSES) and sum(status["classes"].values()) == 12
    assert [r["used_strategy"] for r in status["rounds"]] == ["typiclust", "refine", "refine"]
    assert status["accuracy"]["available"]
    labels_dir = sorted(p.name for p in (proj / "labels").iterdir())
    assert labels_dir == ["labels-0001.json", "labels-0002.json"]
    imported = json.loads((proj / "labels" / "labels-0002.json").read_text())
    assert imported["source"]["format"] == "label-studio"
    assert [i for i, _ in imported["labels"]] == [r["id"] for r in b2]

    # the human-readable status prints the same numbers
    text = " ".join(run("status", proj, "--no-estimate").output.split())
    assert "labeled 12" in text and "pending (selected, not labeled) 6" in text
