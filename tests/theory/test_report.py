"""The theory report (``python -m theory report``): files, computed numbers, CLI."""

from __future__ import annotations

import json
import re

import pytest

from theory import examples
from theory.__main__ import main
from theory.report import ReportConfig, build_report

TINY = ReportConfig(
    focal_trials=5_000,
    grid_trials=1_000,
    topb_trials=1_000,
    topb_draws=5_000,
    real_trials={"paper": 1, "published": 1, "published-cap": 1},
    search_tries=2_000,
    gap_trials=1_000,
)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("theory-report")
    numbers = build_report(out, seed=0, config=TINY)
    return out, numbers


def test_report_writes_markdown_figures_and_numbers(tiny_report):
    out, numbers = tiny_report
    md = (out / "report.md").read_text()
    for fig in ("survival_vs_rounds.png", "bounds_vs_m_alpha.png", "theorem3.png"):
        assert (out / fig).stat().st_size > 10_000
        assert f"]({fig})" in md
    assert json.loads((out / "numbers.json").read_text())["seed"] == 0
    for heading in (
        "## Summary",
        "## Theorem 1",
        "## Theorem 2",
        "## Theorem 3",
        "ProgressiveFilter",
    ):
        assert heading in md


def test_report_numbers_are_the_computed_ones(tiny_report):
    out, numbers = tiny_report
    md = (out / "report.md").read_text()
    e1, e2 = examples.theorem1_example(), examples.theorem2_example()
    assert numbers["theorem1_example"]["bound"] == pytest.approx(e1.bound)
    assert numbers["theorem2_example"]["bound"] == pytest.approx(e2.bound)
    assert f"**{e1.bound:.4f}**" in md
    assert f"**{e2.bound:.3g}**" in md
    assert numbers["monotonicity_all_proven"]
    ce = numbers["theorem3_counterexample"]
    assert ce["E_r"] < ce["V_bar"] and min(ce["corr_p_v"]) > 0
    assert numbers["theorem3_search_2x11"]["similarly_ordered_violations"] == 0
    rf = numbers["real_filter"]
    assert rf["paper"]["q1"] == pytest.approx(0.4)
    assert rf["published"]["q1"] == pytest.approx(0.1)
    # The statuses in the summary table are present.
    assert re.search(r"\| Thm 3 \(concentration\) .*fails", md)


def test_cli_report(tmp_path, monkeypatch, capsys):
    import theory.report as rep

    monkeypatch.setattr(rep.ReportConfig, "quick", classmethod(lambda cls: TINY))
    assert main(["report", "--out", str(tmp_path), "--quick", "--seed", "1"]) == 0
    assert "checks pass" in capsys.readouterr().out
    assert (tmp_path / "report.md").exists()
