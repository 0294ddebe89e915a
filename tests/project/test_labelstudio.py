"""Label Studio files: tasks out, exports (JSON and JSON-MIN) back in."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from refine.errors import DataError
from refine.project import labelstudio

IDS = {"a/1.png": 0, "b/1.png": 1, "b/2.png": 2}


def annotated(task: dict, *choices: str, **extra) -> dict:
    """``task`` as Label Studio exports it after annotators chose ``choices`` (one each)."""
    anns = [
        {
            "id": 100 + k,
            "result": [
                {
                    "from_name": "label",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [c]},
                }
            ],
            "was_cancelled": False,
            "ground_truth": False,
            **extra,
        }
        for k, c in enumerate(choices)
    ]
    return {**task, "id": 9000 + task["id"], "annotations": anns, "predictions": []}


def write(tmp_path, data, name="export.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_tasks_carry_the_pool_id_and_provenance():
    rows = [{"id": "b/2.png", "index": 2, "round": 3, "order": 1, "nominated_by": "r1: margin"}]
    (task,) = labelstudio.make_tasks(rows, {"b/2.png": "/data/local-files/?d=b/2.png"})
    assert task["id"] == 3
    assert task["data"]["image"] == "/data/local-files/?d=b/2.png"
    assert task["data"]["refine_id"] == "b/2.png" and task["data"]["refine_round"] == 3


def test_labeling_config_lists_classes_and_escapes_them():
    root = ET.fromstring(labelstudio.labeling_config(["cat", 'say "hi" & <b>']))
    choices = root.find("Choices")
    assert choices.get("name") == "label" and choices.get("toName") == "image"
    assert [c.get("value") for c in choices] == ["cat", 'say "hi" & <b>']
    assert root.find("Image").get("value") == "$image"


def test_round_trip_by_refine_id(tmp_path):
    rows = [{"id": i, "index": k, "round": 1, "order": k + 1} for i, k in IDS.items()]
    tasks = labelstudio.make_tasks(rows)
    export = [
        annotated(tasks[0], "cat"),
        annotated(tasks[1], "dog"),
        {**tasks[2], "annotations": []},
    ]
    pairs, stats = labelstudio.read_export(write(tmp_path, export), IDS)
    assert pairs == [("a/1.png", "cat"), ("b/1.png", "dog")]
    assert stats == {"tasks": 3, "annotated": 2, "skipped": 1}


def test_tasks_made_elsewhere_match_by_image_path(tmp_path):
    export = [
        annotated({"id": 1, "data": {"image": "/data/local-files/?d=photos/b/1.png"}}, "dog"),
        annotated({"id": 2, "data": {"image": "s3://bucket/x/a%2F1.png"}}, "cat"),
    ]
    pairs, _ = labelstudio.read_export(write(tmp_path, export), IDS)
    assert pairs == [("b/1.png", "dog"), ("a/1.png", "cat")]


def test_cancelled_agreeing_disagreeing_and_ground_truth(tmp_path):
    base = {"id": 1, "data": {"refine_id": "a/1.png"}}
    cancelled = annotated(base, "cat", was_cancelled=True)
    pairs, stats = labelstudio.read_export(write(tmp_path, [cancelled, annotated(base, "x")]), IDS)
    assert pairs == [("a/1.png", "x")] and stats["skipped"] == 1
    pairs, _ = labelstudio.read_export(write(tmp_path, [annotated(base, "cat", "cat")]), IDS)
    assert pairs == [("a/1.png", "cat")]
    with pytest.raises(DataError, match=r"annotators disagree \(\['cat', 'dog'\]\)"):
        labelstudio.read_export(write(tmp_path, [annotated(base, "cat", "dog")]), IDS)
    task = annotated(base, "cat", "dog")
    task["annotations"][1]["ground_truth"] = True
    pairs, _ = labelstudio.read_export(write(tmp_path, [task]), IDS)
    assert pairs == [("a/1.png", "dog")]


def test_several_choice_controls_need_from_name(tmp_path):
    task = annotated({"id": 1, "data": {"refine_id": "a/1.png"}}, "cat")
    task["annotations"][0]["result"].append(
        {
            "from_name": "quality",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["ok"]},
        }
    )
    path = write(tmp_path, [task])
    with pytest.raises(DataError, match="--from-name"):
        labelstudio.read_export(path, IDS)
    assert labelstudio.read_export(path, IDS, from_name="label")[0] == [("a/1.png", "cat")]


def test_json_min_export(tmp_path):
    data = [
        {"id": 7, "image": "x", "refine_id": "b/2.png", "label": "dog", "annotator": 1},
        {"id": 8, "image": "y", "refine_id": "b/1.png", "label": {"choices": ["cat"]}},
        {"id": 9, "image": "z", "refine_id": "a/1.png"},
    ]
    pairs, stats = labelstudio.read_export(write(tmp_path, data), IDS)
    assert pairs == [("b/2.png", "dog"), ("b/1.png", "cat")] and stats["skipped"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("[]", "holds no tasks"),
        ("{not json", "not valid JSON"),
        ('"text"', "list of Label Studio tasks"),
        ('[{"id": 1, "data": {"refine_id": "a/1.png"}, "annotations": []}]', "no completed"),
    ],
)
def test_bad_exports(tmp_path, content, message):
    path = tmp_path / "e.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        labelstudio.read_export(path, IDS)
