"""``refine report DIR --stats`` and ``--metric`` on a small real run."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from refine.cli import app
from refine.results import load_results

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args), terminal_width=200)


def test_report_stats_prints_intervals_and_writes_both_figures(tmp_path):
    out = tmp_path / "res"
    res = invoke(
        "run",
        "--strategy",
        "random,margin,coreset",
        "--seeds",
        "1-3",
        "--cycles",
        "3",
        "--epochs",
        "20",
        "--out",
        str(out),
        "-q",
    )
    assert res.exit_code == 0, res.output
    rep = invoke("report", str(out), "--stats")
    assert rep.exit_code == 0, rep.output
    assert "95 % intervals" in rep.output and "Nemenyi CD" in rep.output
    fig = out / "figures"
    for name in ("cd_diagram.png", "penalty_matrix.png"):
        assert (fig / name).stat().st_size > 2000
    summary = pd.read_csv(fig / "stats_summary.csv")
    assert (summary.aulc_low <= summary.aulc).all() and (summary.aulc <= summary.aulc_high).all()
    margin = summary.set_index("strategy").loc["margin"]
    assert margin.gain_low <= margin.gain_pct <= margin.gain_high
    assert 0 <= margin.p_holm <= 1
    pen = pd.read_csv(fig / "penalty_matrix.csv", index_col=0)
    assert pen.shape == (3, 3) and ((pen >= 0) & (pen <= 1)).all().all()  # one setting
    wr = pd.read_csv(fig / "stats_win_rates.csv")
    assert len(wr) == 6 and (wr.low <= wr.win_rate).all() and (wr.win_rate <= wr.high).all()
    # the intervals are seeded: a second report prints the same numbers
    again = invoke("report", str(out), "--stats")
    assert pd.read_csv(fig / "stats_summary.csv").equals(summary), again.output

    bad = invoke("report", str(out), "--metric", "f1")
    assert bad.exit_code == 2 and "metric" in bad.output
    bal = invoke("report", str(out), "--metric", "balanced_accuracy")
    if "balanced_accuracy" in load_results(out).columns:
        assert bal.exit_code == 0, bal.output
    else:  # results written before the column existed: one clear line, exit 2
        assert bal.exit_code == 2 and "no 'balanced_accuracy' column" in bal.output
