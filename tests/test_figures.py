"""Every figure of ``refine report`` and ``python -m reproduce``, checked as a reader would.

The figures are drawn from the committed cpu-preset raw results (``paper_figures/*/results_cpu
.parquet``) and from small tables derived from them; :func:`tests.figure_checks.figure_problems`
measures the drawn texts, legends and axes with matplotlib's renderer.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from refine import plots
from refine.plots import STRATEGY_STYLES, strategy_style
from tests.figure_checks import figure_problems, legend_styles

matplotlib.use("Agg")
RAW = Path(__file__).resolve().parent.parent / "paper_figures"


def raw(artefact: str, name: str = "results_cpu") -> pd.DataFrame:
    return pd.read_parquet(RAW / artefact / f"{name}.parquet")


@pytest.fixture(scope="module")
def main():
    return raw("fig1")


def _report_figures(results: pd.DataFrame, monkeypatch) -> list:
    """The figures ``refine report`` writes for ``results``, captured before saving."""
    from refine import report

    captured = []
    monkeypatch.setattr(
        report, "save_figure", lambda fig, stem, formats: captured.append(fig) or []
    )
    report.write_figures(results, "unused")
    return captured


def _settings(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """``df`` repeated under ``n`` (dataset, backbone) names: a multi-panel report."""
    parts = []
    for i in range(n):
        part = df.copy()
        part["dataset"] = f"set{i}"
        part["backbone"] = ("dinov2", "clip")[i % 2]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


REPORT_CASES = {
    "three strategies": lambda m: m[m.strategy.isin(["random", "margin", "refine"])],
    "ten strategies": lambda m: m,
    "ensembles": lambda m: pd.concat([m, raw("fig4")[lambda d: ~d.strategy.isin(m.strategy)]]),
    "four settings": lambda m: _settings(m[m.strategy.isin(["random", "bait", "refine"])], 4),
    "variants": lambda m: pd.concat(
        [
            m[m.strategy.isin(["random", "refine"])],
            m[m.strategy == "refine"].assign(strategy="refine [rounds=3]"),
        ]
    ),
    "filtered": lambda m: raw("fig5"),
}


@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_report_figures_read_cleanly(case, main, monkeypatch):
    figs = _report_figures(REPORT_CASES[case](main), monkeypatch)
    assert len(figs) >= 3
    for fig in figs:
        assert figure_problems(fig) == [], fig.axes[0].get_title() or fig.get_suptitle()
        plt.close(fig)


ARTEFACTS = {
    "fig1": ["fig1"],
    "fig2": ["fig2"],
    "fig3": ["fig3"],
    "fig4": ["fig4"],
    "fig5": ["fig5"],
    "fig6": ["fig6"],
    "fig8": ["fig8"],
    "appendix": ["appendix"],
}


@pytest.mark.parametrize("artefact", list(ARTEFACTS))
def test_reproduce_figures_read_cleanly(artefact, tmp_path, monkeypatch):
    from reproduce import common
    from reproduce.presets import get_preset

    shutil.copytree(RAW / artefact, tmp_path / artefact, ignore=shutil.ignore_patterns("*.p*f"))
    captured = {}
    monkeypatch.setattr(
        common, "_save", lambda fig, stem: captured.setdefault(Path(stem).name, fig) and []
    )

    def no_trials(*args, **kwargs):
        raise AssertionError("--from-results must not run trials")

    monkeypatch.setattr(common, "run_grid", no_trials)
    run = common.ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path, quiet=True)
    importlib.import_module(f"reproduce.{artefact}").build(run)
    assert captured
    for stem, fig in captured.items():
        assert figure_problems(fig) == [], stem
        words = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
        if "win rate" in words:  # a matrix says which way it reads
            assert "row over column" in words and fig.axes[-1].get_ylabel() == "win rate (%)"
        plt.close(fig)


def test_win_rate_figure_has_a_colour_bar_and_says_row_over_column(main):
    fig, mat = plots.win_rate_figure(main)
    assert len(fig.axes) == 2  # the matrix and its colour bar
    words = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "row over column" in words and "(row)" in words and "(column)" in words
    # every finite cell carries its value
    assert sum(t.get_text().isdigit() for t in fig.axes[0].texts) == np.isfinite(mat).sum().sum()
    plt.close(fig)


def test_one_strategy_one_style_in_every_figure(main, monkeypatch):
    seen: dict[str, set] = {}
    cases = [lambda c=c: _report_figures(c(main), monkeypatch) for c in REPORT_CASES.values()]
    cases.append(lambda: [plots.learning_curves_figure(raw("fig8"))])
    for make in cases:
        for fig in make():
            for label, style in legend_styles(fig).items():
                seen.setdefault(label, set()).add(style[0])
            plt.close(fig)
    for label, colours in seen.items():
        assert colours == {to_hex(strategy_style(label)["color"])}, label
    assert {"refine", "random", "bait", "tcm", "bait+filter"} <= set(seen)


def _lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour."""
    rgb = np.array(matplotlib.colors.to_rgb(hex_colour))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_palette_distinct_colours_and_markers():
    markers = [m for _, m in STRATEGY_STYLES.values()]
    assert len(set(markers)) == len(markers)  # apart in greyscale too
    # the strategies drawn together in the paper's figures differ clearly in colour (ΔE*ab > 20;
    # tab20's light/dark pairs, which fig. 3 used before, differ by about 20-30 in lightness only
    # and look alike at line width)
    singles = ["refine", "margin", "badge", "bait", "typiclust", "alfamix", "dropquery"]
    singles += ["maxherding", "uherding", "coreset", "random"]
    for group in (singles, ["refine", "random", "selectal", "tcm", "tailor"]):
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                d = np.linalg.norm(_lab(STRATEGY_STYLES[a][0]) - _lab(STRATEGY_STYLES[b][0]))
                assert d > 20, (a, b, d)
    assert strategy_style("bait+filter")["color"] == strategy_style("bait")["color"]
    assert strategy_style("filtered:bait")["ls"] == "--"


def test_the_checks_see_what_a_reader_sees():
    """Each defect the issue listed, drawn on purpose, is reported."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [1, 2, 3], label="a")
    ax.plot([1, 2, 3], [3, 2, 1], label="b")
    ax.set_xticks([1, 1.5, 2, 2.5, 3])
    ax.set_xlabel("filtering round")
    ax.set_ylabel("a y label far too long to fit in this small figure, clipped at the top edge")
    ax.set_title("a title much wider than the figure that holds it, clipped at both sides")
    ax.legend(loc="upper left")
    ax.text(2, 2, "overlapping", fontsize=20)
    ax.text(2, 2, "texts", fontsize=20)
    found = "\n".join(figure_problems(fig))
    plt.close(fig)
    assert "falls outside the figure" in found
    assert "'overlapping' and 'texts' overlap" in found
    assert "legend covers an axes' data area" in found
    assert "non-integer ticks on axis 'filtering round'" in found
    assert "legend entries" not in found  # a and b have distinct colours

    fig, axes = plt.subplots(1, 2, figsize=(14, 3))
    for ax in axes:
        ax.plot([0, 1], [0, 1], color="C0", label="same")
        ax.set_yscale("log")
        ax.set_ylim(1, 1000)
        ax.set_xlabel("cycle")
    axes[0].legend()
    axes[0].plot([0, 1], [1, 2], color="C0", label="alike")
    axes[0].legend()
    axes[1].set_yticks([10, 100], ["10", "10"])
    axes[1].plot([0, 1], [1, 2], color="C1", label="under the axes")
    axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.02))
    found = "\n".join(figure_problems(fig))
    plt.close(fig)
    assert "pt at print size" in found  # 14 in wide: 10 pt text prints at 5 pt
    assert "'same' and 'alike' are drawn alike" in found
    assert "repeated tick labels" in found
    assert "a legend covers text" in found
