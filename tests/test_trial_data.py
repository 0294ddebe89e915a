"""AL runs read cached features only: missing features are one line naming `refine extract`.

``refine run``, grids and ``python -m reproduce`` never download a dataset or run a backbone;
the tests make both impossible (a patched ``open_split``/``load_backbone`` that fails the test)
and check the message, the exit status and that the suggested command is a valid one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from refine.cli import app
from refine.errors import ConfigError
from refine.features import FeaturesNotFoundError
from refine.trial_data import extract_command, load_trial_dataset

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture
def no_extraction(monkeypatch):
    """Fail the test if anything opens raw data or builds a backbone."""
    import refine.datasets.extraction as extraction
    import refine.datasets.hub as hub
    import refine.datasets.readers as readers

    def forbidden(*args, **kwargs):
        raise AssertionError("an AL run must not read raw data or build a backbone")

    for module in (hub, extraction, readers):
        for name in ("open_split", "load_backbone", "extract_dataset"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)


def suggested_command(message: str) -> list[str]:
    m = re.search(r"run `(refine extract [^`]*)`", message)
    assert m, message
    return m.group(1).split()[2:]


def extract_options() -> set[str]:
    cmd = get_command(app).commands["extract"]
    return {o for p in cmd.params for o in p.opts}


def test_refine_run_with_empty_features_dir_names_the_extract_command(tmp_path, no_extraction):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    res = runner.invoke(
        app, ["run", "--dataset", "cifar100", "--backbone", "dinov2", "--features-dir", str(empty)]
    )
    assert res.exit_code == 2, res.output
    err = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    assert "features missing" in err[0]
    args = suggested_command(" ".join(res.output.split()))
    assert args[:4] == ["--dataset", "cifar100", "--backbone", "dinov2"]
    assert args[args.index("--out") + 1] == str(empty)
    assert {a for a in args if a.startswith("--")} <= extract_options()
    assert list(empty.iterdir()) == []  # nothing extracted


def test_refine_run_refuses_extraction_parameters(tmp_path, no_extraction):
    res = runner.invoke(
        app,
        ["run", "--dataset", "dopanim", "--features-dir", str(tmp_path)]
        + ["--dataset-param", "data_dir=/somewhere"],
    )
    assert res.exit_code == 2
    assert "data_dir (--data-dir) apply to extraction only" in " ".join(res.output.split())


def test_extract_command_for_every_kind_of_weights():
    assert extract_command("cifar10", "clip", "f") == (
        "refine extract --dataset cifar10 --backbone clip --out f"
    )
    assert extract_command("snacks", "dinov2", "f", pretrained=False).endswith(
        "--random-weights --out f"
    )
    assert "--weights /w/eat --out f" in extract_command("esc50", "eat", "f", weights_path="/w/eat")
    # Dopanim is not on the hub: its command needs the local copy
    assert "--data-dir DOPANIM_DIR" in extract_command("dopanim", "dinov3", "f")
    for cmd in (extract_command("dopanim", "dinov3", "f", pretrained=False),):
        assert {a for a in cmd.split() if a.startswith("--")} <= extract_options()


def test_load_trial_dataset_message_and_parameters(tmp_path, no_extraction):
    with pytest.raises(FeaturesNotFoundError, match=r"random weights\) in .*--random-weights"):
        load_trial_dataset("snacks", features_dir=tmp_path, pretrained=False)
    with pytest.raises(ConfigError, match="unknown dataset parameter.*colour"):
        load_trial_dataset("snacks", features_dir=tmp_path, colour="red")
    # datasets with fixed features go to their loader unchanged
    assert load_trial_dataset("digits").n_classes == 10


def test_paper_preset_without_features_prints_one_line_and_exits_2(tmp_path):
    empty = tmp_path / "features"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "reproduce", "table1", "--preset", "paper"]
        + ["--features-dir", str(empty), "--figures", str(tmp_path / "figs")]
        + ["--runs", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: features missing for dataset 'dopanim'")
    args = suggested_command(lines[0])
    assert {a for a in args if a.startswith("--")} <= extract_options()
    assert "--dataset-param" not in lines[0] and "Traceback" not in proc.stderr


def test_paper_grid_uses_each_datasets_batch_size():
    from reproduce.common import ReproduceRun, trials_for
    from reproduce.presets import get_preset

    run = ReproduceRun(get_preset("paper"), features_dir="/f")
    trials = trials_for(run, run.preset.main + run.preset.fig8, {"random": ("random", {})})
    b = {t.spec.dataset: t.spec.batch_size for t in trials}
    # docs/protocol.md §3; a grid once ran every dataset with TrialSpec's default b = 10
    assert b == {
        "dopanim": 50,
        "snacks": 20,
        "cifar100": 100,
        "food101": 100,
        "tiny_imagenet": 200,
        "esc50": 20,
    }
    assert len(trials) == (15 + 1) * 10


def test_reproduce_passes_the_device_to_every_trial():
    from reproduce.common import ReproduceRun, trials_for
    from reproduce.presets import get_preset

    run = ReproduceRun(get_preset("rehearsal"), device="cuda:1", features_dir="/f")
    trials = trials_for(run, run.preset.main, {"random": ("random", {}), "m": ("margin", {})})
    assert len(trials) == 4 * 2 * 2
    assert {t.spec.device for t in trials} == {"cuda:1"}
    assert {t.dataset_params["pretrained"] for t in trials} == {False}
    assert {t.dataset_params["batch_size"] for t in trials} == {3}
    run.weights["clip"] = "/w/clip.bin"
    (clip,) = {
        repr(t.dataset_params) for t in trials_for(run, run.preset.main[1:2], {"r": ("random", {})})
    }
    assert "'weights_path': '/w/clip.bin'" in clip and "pretrained" not in clip
