"""The CLI: clear errors with exit code 2, and the run → report path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from refine.cli import app, parse_seeds
from refine.data import Dataset
from refine.datasets.registry import _REGISTRY, register_dataset
from refine.errors import ConfigError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1", [1]),
        ("1-3", [1, 2, 3]),
        ("1,3,5", [1, 3, 5]),
        ("1-3,7", [1, 2, 3, 7]),
        (" 2 , 2-3", [2, 3]),
    ],
)
def test_parse_seeds(text, expected):
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1-", "3-1", "1..3", "-2", "1,,2"])
def test_malformed_seeds(text):
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(text)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--dataset", "imagenet9"], "allowed values: bloodmnist, cifar10, cifar100"),
        (["--strategy", "psychic"], "allowed values:"),
        (["--strategy", "margin,psychic"], "psychic"),
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "-3"], "--batch-size"),
        (["--batch-size", "2000"], "larger than the pool"),
        (["--seeds", "1-x"], "--seeds"),
        (["--cycles", "-1"], "--cycles"),
        (["--device", "tpu"], "device"),
        (["--param", "noequals"], "KEY=VALUE"),
        (["--strategy", "random,margin", "--param", "rounds=2"], "no strategy of this run"),
        (["--strategy", "random,refine", "--param", "margin.rounds=2"], "not a strategy of"),
        (["--strategy", "refine", "--param", "refine.roundz=2"], "no parameter 'roundz'"),
        (["--strategy", "refine", "--param", "rounds=0"], "rounds"),
    ],
)
def test_bad_input_clear_error_nonzero_exit(tmp_path, args, needle):
    res = invoke("run", "--out", str(tmp_path), "-q", *args)
    # exit code 2 is a handled error (an unhandled one gives 1 and no message under CliRunner)
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_error_messages_keep_square_brackets(monkeypatch):
    # rich markup would swallow "[backbones]" from an install hint
    from refine.errors import MissingDependencyError

    def missing(*_a, **_k):
        raise MissingDependencyError('pip install "refine-al[backbones]"')

    monkeypatch.setattr("refine.datasets.available_datasets", missing)
    res = invoke("datasets")
    assert res.exit_code == 2
    assert "refine-al[backbones]" in res.output


@pytest.fixture
def nan_dataset():
    name = "test-nan-features"

    def loader():
        X = np.ones((50, 3), np.float32)
        X[7, 1] = np.nan
        return Dataset(name, X, np.arange(50) % 2, X[:5], np.arange(5) % 2, 2, 5)

    register_dataset(name, batch_size=5, n_classes=2, description="NaN test")(loader)
    yield name
    del _REGISTRY[name]


def test_nan_features_clear_error(tmp_path, nan_dataset):
    res = invoke("run", "--dataset", nan_dataset, "--out", str(tmp_path), "-q")
    assert res.exit_code == 2 and "NaN or inf" in res.output


def test_run_report_and_conflicting_out_folder(tmp_path):
    out = tmp_path / "res"
    res = invoke(
        "run",
        "--strategy",
        "random,margin",
        "--seeds",
        "1-2",
        "--cycles",
        "3",
        "--epochs",
        "20",
        "--out",
        str(out),
        "-q",
    )
    assert res.exit_code == 0, res.output
    assert len(list(out.rglob("*.parquet"))) == 4
    rep = invoke("report", str(out))
    assert rep.exit_code == 0, rep.output
    assert "margin" in rep.output and "win rate" in rep.output
    assert (out / "figures" / "learning_curves.png").stat().st_size > 1000
    # the win-rate rows are numbered best first, with full names
    import pandas as pd

    summary = pd.read_csv(out / "figures" / "summary.csv")
    best, worst = summary.sort_values("aulc_mean", ascending=False).strategy.tolist()
    assert f"1 {best} " in rep.output and f"2 {worst} " in rep.output
    # same folder, different configuration → clear error naming the difference, nothing run
    res = invoke(
        "run",
        "--strategy",
        "margin",
        "--seeds",
        "1",
        "--cycles",
        "4",
        "--epochs",
        "20",
        "--out",
        str(out),
        "-q",
    )
    assert (
        res.exit_code == 2 and "different configuration" in res.output and "n_cycles" in res.output
    )
    # rerunning the same configuration skips finished trials
    res = invoke(
        "run",
        "--strategy",
        "margin",
        "--seeds",
        "1-2",
        "--cycles",
        "3",
        "--epochs",
        "20",
        "--out",
        str(out),
        "-q",
    )
    assert res.exit_code == 0, res.output


def test_report_errors(tmp_path):
    res = invoke("report", str(tmp_path / "missing"))
    assert res.exit_code == 2 and "does not exist" in res.output
    res = invoke("report", str(tmp_path))
    assert res.exit_code == 2 and "no results" in res.output


def test_listing_commands():
    assert "digits" in invoke("datasets").output
    out = invoke("strategies").output
    assert "margin" in out and "filtered:<strategy>" in out


def test_jobs_changes_speed_not_results_and_not_the_configuration(tmp_path):
    from refine.io import read_parquet_with_metadata
    from refine.loop import TIMING_COLUMNS
    from refine.results import load_results

    def run(out, jobs):
        return invoke(
            "run",
            "--strategy",
            "filtered:random",
            "--param",
            "rounds=2",
            "--param",
            "draws_per_strategy=2",
            "--cycles",
            "2",
            "--epochs",
            "20",
            "--jobs",
            str(jobs),
            "--out",
            str(out),
            "-q",
        )

    assert run(tmp_path / "a", 1).exit_code == 0
    assert run(tmp_path / "b", 2).exit_code == 0
    (path,) = (tmp_path / "a").rglob("*.parquet")
    assert read_parquet_with_metadata(path)[1]["spec"]["strategy_params"]["n_jobs"] == 1
    a, b = (load_results(tmp_path / d).drop(columns=TIMING_COLUMNS) for d in "ab")
    assert a.drop(columns="trace").equals(b.drop(columns="trace"))
    # the pool traces agree too, apart from the seconds spent per strategy
    traces = [[json.loads(t) for t in df.trace[1:]] for df in (a, b)]
    for t in traces[0] + traces[1]:
        t.pop("seconds")
    assert traces[0] == traces[1] and len(traces[0]) == 2
    # another --jobs on the same folder is the same configuration: finished trials are skipped
    res = run(tmp_path / "a", 2)
    assert res.exit_code == 0 and "different configuration" not in res.output
    res = invoke("run", "--jobs", "0", "--out", str(tmp_path / "c"), "-q")
    assert res.exit_code == 2 and "--jobs" in res.output


def test_params_go_to_the_strategies_that_take_them(tmp_path):
    from refine.io import read_parquet_with_metadata

    res = invoke(
        "run",
        "--strategy",
        "random,refine,filtered:random",
        "--param",
        "rounds=1",
        "--param",
        "draws_per_strategy=1",
        "--param",
        "refine.final=margin",
        "--cycles",
        "1",
        "--epochs",
        "10",
        "--jobs",
        "1",
        "--out",
        str(tmp_path),
        "-q",
    )
    assert res.exit_code == 0, res.output
    params = {}
    for path in tmp_path.rglob("*.parquet"):
        spec = read_parquet_with_metadata(path)[1]["spec"]
        params[spec["strategy"]] = spec["strategy_params"]
    assert params["random"] == {}
    assert params["refine"] == {
        "rounds": 1,
        "draws_per_strategy": 1,
        "final": "margin",
        "n_jobs": 1,
    }
    assert params["filtered:random"] == {"rounds": 1, "draws_per_strategy": 1, "n_jobs": 1}
