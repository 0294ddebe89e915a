"""``refine report DIR --stats`` and ``--metric`` on a small real run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
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


def _titles_of_saved_figures(monkeypatch) -> dict:
    """Record every saved figure's axes titles by file name (what a reader sees on top)."""
    from matplotlib.figure import Figure

    seen: dict = {}
    save = Figure.savefig

    def spy(self, fname, *args, **kwargs):
        seen[Path(fname).name] = " ".join(ax.get_title() for ax in self.axes)
        return save(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return seen


def test_report_stats_on_a_demo_like_folder(tmp_path, monkeypatch):
    """`make demo`'s shape: two `refine run` calls (random,margin; then Refine) into one folder.

    With --stats every printed estimate has its interval beside it (the point-estimate tables
    are not printed), both figures and their CSVs are written, and the figures name the metric.
    """
    from refine.stats import friedman_nemenyi

    out = tmp_path / "demo"
    common = ["--seeds", "1-3", "--cycles", "3", "--epochs", "10", "--out", str(out), "-q"]
    assert invoke("run", "--strategy", "random,margin", *common).exit_code == 0
    light = ["--param", "rounds=2", "--param", "draws_per_strategy=1", "--jobs", "1"]
    res = invoke("run", "--strategy", "refine", *light, *common)
    assert res.exit_code == 0, res.output

    titles = _titles_of_saved_figures(monkeypatch)
    rep = invoke("report", str(out), "--stats", "--metric", "balanced_accuracy")
    assert rep.exit_code == 0, rep.output
    assert "± std" not in rep.output and "of row over column" not in rep.output
    text = rep.output
    assert "…" not in text  # no cell cut off, in rich's 80 columns of a pipe
    aulc = text[text.index("with 95 % intervals ·") : text.index("paired comparison with random")]
    vs_random = text[text.index("paired comparison with random") : text.index("win rate (%)")]

    def rows(section: str) -> dict:
        out = {}
        for line in section.splitlines():
            cells = line.split()
            if cells and cells[0] in ("random", "margin", "refine"):
                out[cells[0]] = line
        return out

    assert set(rows(aulc)) == {"random", "margin", "refine"}, text
    assert all(line.count("[") == 1 for line in rows(aulc).values())  # AULC [lo, hi]
    assert set(rows(vs_random)) == {"margin", "refine"}, text
    assert all(line.count("[") == 2 for line in rows(vs_random).values())  # gain and Δ
    fig = out / "figures"
    for name in ("cd_diagram.png", "penalty_matrix.png"):
        assert (fig / name).stat().st_size > 2000, name
    assert pd.read_csv(fig / "penalty_matrix.csv", index_col=0).shape == (3, 3)
    assert "balanced accuracy" in titles["cd_diagram.png"]
    assert "balanced accuracy" in titles["penalty_matrix.png"]
    # the diagram ranks AULC of balanced accuracy: its CSV is Friedman's on that metric
    ranks = pd.read_csv(fig / "cd_ranks.csv", index_col=0)["average_rank"]
    ft = friedman_nemenyi(load_results(out), list(ranks.index), metric="balanced_accuracy")
    pd.testing.assert_series_equal(ranks, ft.ranks, check_names=False)

    plain = invoke("report", str(out))  # without --stats: point estimates, no intervals
    assert plain.exit_code == 0 and "± std" in plain.output and "95 %" not in plain.output


def test_stats_plots_refuse_an_unknown_metric(tmp_path):
    from refine.errors import ConfigError
    from refine.stats_plots import plot_penalty_matrix

    pen = pd.DataFrame([[0.0, 1.0], [0.0, 0.0]], index=["a", "b"], columns=["a", "b"])
    with pytest.raises(ConfigError, match="metric"):
        plot_penalty_matrix(pen, 1, tmp_path / "p.png", metric="f1")
    assert not (tmp_path / "p.png").exists()


def test_friedman_line_when_every_block_ranks_alike(tmp_path):
    """χ² at its maximum N(k−1) leaves Iman–Davenport's F without a finite value: say so."""
    from rich.console import Console

    from refine.stats_report import stats_report

    rows = [
        dict(dataset="d", backbone="raw", strategy=name, seed=seed, cycle=c, accuracy=acc + c / 100)
        for name, acc in (("a", 0.9), ("b", 0.8), ("c", 0.7))
        for seed in (1, 2, 3)
        for c in range(3)
    ]
    con = Console(record=True, width=200)
    stats_report(pd.DataFrame(rows), tmp_path, con, baseline="c", n_boot=200)
    text = con.export_text()
    assert "χ² = 6.00" in text  # N(k − 1) = 3 · 2
    assert "Iman–Davenport F unbounded" in text and "F = inf" not in text
