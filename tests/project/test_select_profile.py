"""``refine select --profile``: the fidelity profile resolves the strategy's parameters.

The profile's values reach the strategy that runs (the batch equals the one selected with the same
values given as explicit parameters), explicit ``--param`` values win over the profile, the round
records the profile, a later round without it says which profile the previous one used, and an
unknown profile is refused in one line that names the allowed values.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from refine.cli import app
from refine.project import Project, SelectRequest
from tests.project.conftest import snapshot, write_csv


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def round_file(root, number: int) -> dict:
    return json.loads((root / "rounds" / f"round-{number:04d}.json").read_text())


@pytest.fixture
def labeled(project, truth, tmp_path):
    """A project whose first round (12 random instances) is labeled."""
    rec = project.select(12, strategy="random")
    project.add_labels(write_csv(tmp_path / "first.csv", [(i, truth[i]) for i in rec["selected"]]))
    return project


def test_request_resolves_the_profile_and_explicit_params_win():
    def gain(**kw):
        return SelectRequest(batch_size=3, strategy="uherding", **kw).resolved_params().get("gain")

    assert gain(profile="published") == "published"  # the published code's transposed gain
    assert gain(profile="corrected") == "paper"
    assert gain() is None  # no profile: the package default, nothing set
    assert gain(profile="published", strategy_params={"gain": "paper"}) == "paper"
    members = SelectRequest(3, "refine", profile="published").resolved_params()
    assert members["filter__strategy_params"]["maxherding"]["gain"] == "published"
    assert members["final_params"]["gain"] == "published"


def test_the_profile_reaches_the_strategy_that_runs(project):
    """MaxHerding's batch under --profile X is the batch with X's gain given explicitly."""
    root = project.root

    def dry(**kw) -> list[str]:
        req = SelectRequest(batch_size=8, strategy="maxherding", **kw)
        return Project.open(root).select(req, dry_run=True)["selected"]

    published = dry(strategy_params={"gain": "published"})
    paper = dry(strategy_params={"gain": "paper"})
    assert published != paper  # the two gains pick different batches on this pool
    ok("select", root, "-n", 8, "-s", "maxherding", "--profile", "published", "-q")
    rec = round_file(root, 1)
    assert rec["profile"] == "published"
    assert rec["strategy_params"] == {"gain": "published"}
    assert rec["explicit_params"] == {}
    assert rec["selected"] == published


def test_param_wins_over_the_profile(labeled):
    root = labeled.root
    ok(
        "select", root, "-n", 4, "-s", "uherding", "--profile", "published",
        "--param", "gain=paper", "--epochs", 3, "-q",
    )  # fmt: skip
    rec = round_file(root, 2)
    assert rec["profile"] == "published"
    assert rec["explicit_params"] == {"gain": "paper"}
    # the explicit gain won; the profile's other UHerding switch still applies
    assert rec["strategy_params"]["gain"] == "paper"
    assert rec["strategy_params"]["zero_distances"] == "fallback"


def test_a_later_round_says_which_profile_the_last_one_used(project):
    root = project.root
    first = ok("select", root, "-n", 3, "-s", "maxherding", "--profile", "corrected")
    assert "profile corrected" in first.output  # the summary line names it
    later = ok("select", root, "-n", 3, "-s", "maxherding")
    text = " ".join(later.output.split())
    assert "round 1 used --profile corrected" in text
    assert "pass --profile corrected to keep it" in text
    assert round_file(root, 2)["profile"] is None
    same = ok("select", root, "-n", 3, "-s", "maxherding")  # same as before: no note
    assert "note:" not in same.output
    status = json.loads(ok("status", root, "--json", "--no-estimate").output)
    assert [r["profile"] for r in status["rounds"]] == ["corrected", None, None]


def test_unknown_profile_is_refused_in_one_line(project):
    root = project.root
    before = snapshot(root)
    result = run("select", root, "-n", 3, "--profile", "paper")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert "--profile" in lines[0] and "'paper'" in lines[0]
    assert "allowed values: corrected, published" in lines[0]
    assert snapshot(root) == before


def test_the_profile_reaches_the_cold_start_strategy(project):
    """With no labels Refine hands over to MaxHerding, which then runs with the profile's gain."""
    root = project.root

    def dry(gain: str) -> list[str]:
        req = SelectRequest(batch_size=8, strategy="maxherding", strategy_params={"gain": gain})
        return Project.open(root).select(req, dry_run=True)["selected"]

    published, paper = dry("published"), dry("paper")
    assert published != paper
    ok("select", root, "-n", 8, "--cold-start", "maxherding", "--profile", "published", "-q")
    rec = round_file(root, 1)
    assert rec["cold_start"] and rec["used_strategy"] == "maxherding"
    assert rec["selected"] == published
