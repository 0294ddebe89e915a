"""Drive a running Label Studio with label-studio-sdk: project, import, annotate, export.

Run by ``tests/project/test_labelstudio_server.py`` with the Python of the separate Label Studio
virtual environment (``make labelstudio-venv``), so Label Studio's pinned dependencies never meet
refine's. Standard library and label-studio-sdk only.

Steps: create a project with the given labeling configuration; connect a local-files storage on
the image folder (what lets Label Studio serve ``/data/local-files/?d=...`` URLs); import the
tasks written by ``refine export``; fetch one task's image through its URL (as the annotator's
browser would); annotate every task through the API with the class given for its ``refine_id``;
export JSON, JSON-MIN and CSV through the API into ``--out``. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path

from label_studio_sdk import LabelStudio

FORMATS = {"JSON": "export.json", "JSON_MIN": "export-min.json", "CSV": "export.csv"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--tasks", required=True, type=Path)
    ap.add_argument("--answers", required=True, type=Path, help="JSON {refine_id: class}")
    ap.add_argument("--storage-path", required=True, help="folder of the local-files storage")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()

    ls = LabelStudio(base_url=args.url, api_key=args.token)
    project = ls.projects.create(title="refine round trip", label_config=args.config.read_text())
    ls.import_storage.local.create(
        project=project.id, path=args.storage_path, title="images", use_blob_urls=True
    )
    tasks = json.loads(args.tasks.read_text())
    ls.projects.import_tasks(id=project.id, request=tasks)
    answers = json.loads(args.answers.read_text())
    imported = list(ls.tasks.list(project=project.id))
    # the annotator's browser loads data.image from Label Studio
    first = imported[0].data["image"]
    req = urllib.request.Request(args.url + first, headers={"Authorization": f"Token {args.token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        image_bytes = resp.read()
        image_status = resp.status
    for t in imported:
        cls = answers[t.data["refine_id"]]
        ls.annotations.create(
            id=t.id,
            result=[
                {
                    "from_name": "label",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [cls]},
                }
            ],
            was_cancelled=False,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for fmt, name in FORMATS.items():
        data = b"".join(ls.projects.exports.download_sync(project.id, export_type=fmt))
        (args.out / name).write_bytes(data)
    print(
        json.dumps(
            {
                "project": project.id,
                "tasks": len(imported),
                "task_ids": sorted(t.id for t in imported),
                "image_url": first,
                "image_status": image_status,
                "image_bytes": len(image_bytes),
                "image_sha256": __import__("hashlib").sha256(image_bytes).hexdigest(),
            }
        )
    )


if __name__ == "__main__":
    main()
