"""The Label Studio round trip against a real Label Studio server.

A real ``label-studio`` (pinned in ``tests/project/labelstudio/requirements.txt``, installed by
``make labelstudio-venv`` into its own virtual environment) is started offline on a free loopback
port with a temporary data folder (SQLite), its legacy API token enabled (Label Studio 1.23
disables legacy tokens unless told otherwise), and local-files serving rooted at the test's image
folder. ``tests/project/labelstudio/driver.py``, run with that environment's Python, drives it with
``label-studio-sdk``: a project with ``refine export``'s labeling configuration, the exported
tasks imported, one image fetched through its ``data.image`` URL, every task annotated through the
API, and JSON, JSON-MIN and CSV exports downloaded through the API. ``refine label`` must read the
same labels from all three. The server is always stopped.

``make test`` sets ``REFINE_REQUIRE_LABEL_STUDIO=1``, so there a missing Label Studio environment
fails the test; elsewhere (a bare ``pytest``) it is skipped with the command that builds it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from refine.cli import app
from refine.project import Project
from refine.project.labels import read_annotations

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).parent / "labelstudio" / "driver.py"
TOKEN = "refine-test-token-0123456789"
CLASSES = ("red", "green", "blue")
#: First start runs Label Studio's database migrations: about a minute on an idle machine, a few
#: under load.
STARTUP_TIMEOUT_S = 900


def _venv() -> Path:
    return Path(os.environ.get("REFINE_LABEL_STUDIO_VENV", REPO / ".venv-labelstudio"))


def _bin(name: str) -> Path:
    sub = "Scripts" if sys.platform == "win32" else "bin"
    return _venv() / sub / name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ls")
    photos = root / "files" / "photos"
    rng = np.random.default_rng(0)
    for k, cls in enumerate(CLASSES):
        (photos / cls).mkdir(parents=True)
        for i in range(5):
            img = rng.integers(0, 60, (16, 16, 3), dtype=np.uint8)
            img[..., k] += 190
            # names a URL must percent-encode: a space and a '#'
            Image.fromarray(img).save(photos / cls / f"img {i}#.png")
    return root


@pytest.fixture(scope="module")
def server(workspace):
    """A Label Studio server on a free loopback port; yields its URL; always stopped."""
    if not _bin("label-studio").exists():
        msg = (
            f"no Label Studio environment at {_venv()}; build it with `make labelstudio-venv` "
            "(make test does)"
        )
        if os.environ.get("REFINE_REQUIRE_LABEL_STUDIO") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data = workspace / "ls-data"
    data.mkdir()
    env = {
        **os.environ,
        "HOME": str(workspace),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "DJANGO_DB": "sqlite",
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(workspace / "files"),
        "LATEST_VERSION_CHECK": "false",  # offline: no call to the package index
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    log = open(workspace / "server.log", "wb")
    proc = subprocess.Popen(
        [
            str(_bin("label-studio")),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--username",
            "refine@example.com",
            "--password",
            "refine-test-password",
            "--user-token",
            TOKEN,
            "--enable-legacy-api-token",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with everything it started
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                tail = (workspace / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"label-studio exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                pytest.fail(f"label-studio not healthy after {STARTUP_TIMEOUT_S}s")
            time.sleep(1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        log.close()


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_round_trip_through_a_real_label_studio(server, workspace, tmp_path):
    photos = workspace / "files" / "photos"
    proj = tmp_path / "proj"
    cli("init", proj, "--images", photos, "--random-weights", "-q")
    cli("select", proj, "--batch-size", "6", "--seed", "3", "--out", tmp_path / "b1.csv", "-q")
    with open(tmp_path / "b1.csv", newline="") as fh:
        first = [r["id"] for r in csv.DictReader(fh)]
    (tmp_path / "a1.csv").write_text(
        "id,label\n" + "".join(f"{i},{i.split('/')[0]}\n" for i in first)
    )
    cli("label", proj, tmp_path / "a1.csv")
    cli("select", proj, "--batch-size", "5", "--strategy", "margin", "--epochs", "20", "-q")
    tasks_file, config = tmp_path / "tasks.json", tmp_path / "config.xml"
    cli(
        "export",
        proj,
        "--out",
        tasks_file,
        "--labeling-config",
        config,
        "--url-prefix",
        "/data/local-files/?d=photos/",
    )
    tasks = json.loads(tasks_file.read_text())
    truth = {t["data"]["refine_id"]: t["data"]["refine_id"].split("/")[0] for t in tasks}
    assert len(truth) == 5
    (tmp_path / "answers.json").write_text(json.dumps(truth))

    out = tmp_path / "exports"
    done = subprocess.run(
        [
            str(_bin("python")),
            str(DRIVER),
            "--url",
            server,
            "--token",
            TOKEN,
            "--config",
            str(config),
            "--tasks",
            str(tasks_file),
            "--answers",
            str(tmp_path / "answers.json"),
            "--storage-path",
            str(photos),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["tasks"] == 5
    # the browser's view: Label Studio serves the image behind the percent-encoded URL
    assert facts["image_status"] == 200
    name = tasks[0]["data"]["refine_id"]
    assert facts["image_url"] == tasks[0]["data"]["image"] and "%20" in facts["image_url"]
    served = {hashlib.sha256((photos / t).read_bytes()).hexdigest() for t in truth}
    assert facts["image_sha256"] in served, name
    # Label Studio numbered the tasks itself: its ids are not ours
    assert facts["task_ids"] != [t["id"] for t in tasks]

    p = Project.open(proj)
    refs = p.image_refs()
    read = {}
    for f in ("export.json", "export-min.json", "export.csv"):
        pairs, _ = read_annotations(out / f, "auto", index=p.index, image_refs=refs, from_name=None)
        read[f] = sorted(pairs)
    assert read["export.json"] == read["export-min.json"] == read["export.csv"]
    assert dict(read["export.json"]) == truth
    # and through the CLI: the first import adds the labels, the other two change nothing
    text = " ".join(cli("label", proj, out / "export.csv").output.split())
    assert "5 new label(s)" in text
    for f in ("export.json", "export-min.json"):
        text = " ".join(cli("label", proj, out / f).output.split())
        assert "0 new label(s); 5 already known" in text
    p = Project.open(proj)
    assert {i: p.state.labels[i] for i in truth} == truth
