"""A results folder holding several configurations is reported one configuration at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from refine.cli import app
from refine.io import read_parquet_with_metadata
from refine.results import Trial, distinguishing_labels, group_trials, load_configurations

runner = CliRunner()


def _trial(strategy="random", seed=1, n_cycles=2, params=None, complete=True, label=None):
    spec = {
        "dataset": "digits",
        "backbone": "raw",
        "strategy": strategy,
        "seed": seed,
        "n_cycles": n_cycles,
        "batch_size": 10,
        "subsample": 5000,
        "strategy_params": dict(params or {}),
        "head": {"epochs": 200},
        "device": "cpu",
        "label": label,
    }
    acc = np.linspace(0.5, 0.9, n_cycles + 1) + 0.01 * seed
    rows = pd.DataFrame(
        {
            "dataset": "digits",
            "backbone": "raw",
            "strategy": label or strategy,
            "seed": seed,
            "cycle": range(n_cycles + 1),
            "n_labeled": [10 * (c + 1) for c in range(n_cycles + 1)],
            "accuracy": acc,
        }
    )
    return Trial(Path(f"{strategy}-{seed}-{n_cycles}"), rows, spec, complete)


def test_distinguishing_labels_name_only_the_keys_that_differ():
    dicts = [{"a": 1, "b": 2, "c": [1, 2]}, {"a": 1, "b": 3, "c": [1, 2]}, {"a": 1, "c": [2]}]
    assert distinguishing_labels(dicts) == ["b=2, c=1+2", "b=3, c=1+2", "b=unset, c=2"]
    assert distinguishing_labels([{"a": 1}, {"a": 1}]) == ["", ""]


def test_protocols_apart_variants_named_duplicates_dropped():
    trials = [
        _trial("random", 1),
        _trial("random", 2),
        _trial("refine", 1),
        _trial("refine", 1, params={"rounds": 3, "n_jobs": 4}),
        _trial("random", 1),  # the same trial run again (another folder)
        _trial("random", 1, n_cycles=5),
        _trial("refine", 1, params={"n_jobs": 2}),  # n_jobs changes no result: same variant
    ]
    folder = group_trials(trials, n_unfinished=1)
    assert [c.label for c in folder.configurations] == ["n_cycles=2", "n_cycles=5"]
    two, five = folder.configurations
    assert two.slug == "n_cycles-2"
    # Refine's variants carry the parameter that differs, at its default where unset
    assert set(two.results.strategy) == {"random", "refine [rounds=5]", "refine [rounds=3]"}
    assert two.variants["refine [rounds=3]"]["rounds"] == 3
    assert len(folder.duplicates) == 2  # random seed 1 twice, refine (defaults) twice
    assert two.results.groupby(["strategy", "seed"]).size().eq(3).all()  # 3 cycles, no doubles
    assert set(five.results.strategy) == {"random"} and len(five.results) == 6
    assert folder.n_unfinished == 1


def test_one_configuration_has_an_empty_label_and_keeps_names():
    folder = group_trials([_trial("random", 1), _trial("margin", 1)])
    (cfg,) = folder.configurations
    assert cfg.label == "" and set(cfg.results.strategy) == {"random", "margin"}


def test_a_user_strategy_under_a_label_keeps_its_stored_parameters():
    a = _trial("custom", 1, params={"k": 1}, label="mine")
    b = _trial("custom", 1, params={"k": 2}, label="mine")
    (cfg,) = group_trials([a, b]).configurations
    assert set(cfg.results.strategy) == {"mine [k=1]", "mine [k=2]"}


def invoke(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())  # the console wraps at 80 columns


FAST = ("--seeds", "1-2", "--epochs", "20", "-q")


@pytest.mark.slow
def test_readme_quickstart_sequence_reports_each_configuration(tmp_path):
    parent = tmp_path / "results"
    invoke("run", "--strategy", "random,margin,refine", "--cycles", 2, "--out", parent / "x", *FAST)
    invoke(
        "run", "--strategy", "margin,refine", "--param", "refine.rounds=3", "--cycles", 2,
        "--out", parent / "y", *FAST,
    )  # fmt: skip
    invoke("run", "--strategy", "random,margin", "--cycles", 1, "--out", parent / "z", *FAST)
    out = invoke("report", parent)
    assert "holds 2 configurations" in out
    assert "configuration: n_cycles=1" in out and "configuration: n_cycles=2" in out
    assert "refine [rounds=3]" in out and "refine [rounds=5]" in out
    assert "2 repeated run(s)" in out  # margin seeds 1-2 ran in x and in y
    s3 = pd.read_csv(parent / "figures" / "n_cycles-2" / "summary.csv").set_index("strategy")
    s2 = pd.read_csv(parent / "figures" / "n_cycles-1" / "summary.csv").set_index("strategy")
    assert sorted(s3.index) == ["margin", "random", "refine [rounds=3]", "refine [rounds=5]"]
    assert sorted(s2.index) == ["margin", "random"]
    assert (s3.n_seeds == 2).all() and (s2.n_seeds == 2).all()
    # each AULC is the mean over that configuration's own trial files, computed here by hand
    for cfg_summary, folder, name, file_name in (
        (s3, "y", "refine [rounds=3]", "refine"),
        (s3, "x", "refine [rounds=5]", "refine"),
        (s2, "z", "margin", "margin"),
    ):
        files = sorted((parent / folder / "digits" / "raw" / file_name).glob("seed*.parquet"))
        by_hand = np.mean([read_parquet_with_metadata(f)[0].accuracy.mean() for f in files])
        assert cfg_summary.loc[name, "aulc_mean"] == pytest.approx(by_hand, abs=1e-12)
    for sub in ("n_cycles-1", "n_cycles-2"):
        assert (parent / "figures" / sub / "learning_curves.png").stat().st_size > 1000
    assert (parent / "figures" / "n_cycles-2" / "pool_trace.png").exists()
    assert len(load_configurations(parent).configurations) == 2
