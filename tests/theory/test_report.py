"""The theory report (``python -m theory report``) checked against values computed independently.

Huseljic et al., arXiv 2511.22344, Theorems 1-3. The expected numbers below are worked out from
the closed forms with plain arithmetic (no call into :mod:`theory`), and the report's Monte Carlo
estimates are compared with them through Hoeffding bounds, so a wrong formula, a wrong parameter
or a mislabelled row in the report fails here.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pytest

from theory.__main__ import main
from theory.report import Check, ReportConfig, compute_report, write_report
from theory.report.figures import OKABE_ITO, make_figures

TINY = ReportConfig(
    focal_trials=5_000,
    grid_trials=1_000,
    topb_trials=1_000,
    topb_draws=5_000,
    real_trials={"paper": 1, "published": 1, "published-cap": 1},
    search_tries=2_000,
    gap_trials=1_000,
)
DELTA = 1e-6


def hoeffding(n: int, delta: float = DELTA) -> float:
    """Two-sided Hoeffding half-width for the mean of ``n`` independent [0, 1] variables."""
    return math.sqrt(math.log(2 / delta) / (2 * n))


@pytest.fixture(scope="module")
def data():
    return compute_report(TINY, seed=0)


@pytest.fixture(scope="module")
def report(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("theory-report")
    numbers = write_report(out, data)
    return out, (out / "report.md").read_text(), numbers


def tables(md: str, header_start: str) -> list[list[list[str]]]:
    """Body rows of every markdown table whose header line starts with ``header_start``."""
    lines = md.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith(header_start):
            continue
        body = []
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            body.append([c.strip() for c in row.strip().strip("|").split("|")])
        out.append(body)
    return out


def rows(md: str, header_start: str) -> list[list[str]]:
    """Body rows of the first table whose header line starts with ``header_start``."""
    return tables(md, header_start)[0]


def check_rows(md: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The two check tables (numpy focal Monte Carlo, real filter), keyed by check name."""
    focal, real = tables(md, "| check | measured [interval] | target | result |")
    return {r[0]: r for r in focal}, {r[0]: r for r in real}


def _num(cell: str) -> float:
    return float(cell.replace("**", "").split()[-1])


def test_check_verdicts_follow_the_interval():
    # interval [0.4, 0.6] around 0.5
    def ok(target, kind):
        return Check("c", 0.5, 0.4, 0.6, target, kind).ok

    assert ok(0.55, ">=") and ok(0.6, ">=") and not ok(0.61, ">=")  # lower bound reached
    assert ok(0.45, "<=") and ok(0.4, "<=") and not ok(0.39, "<=")  # upper bound reached
    assert ok(0.5, "==") and not ok(0.65, "==") and not ok(0.35, "==")
    assert ok(0.61, "<") and not ok(0.6, "<") and not ok(0.5, "<")  # bound violated
    assert Check("c", 0.5, 0.4, 0.6, 0.9, "<=", rigorous=False).cells() == [
        "c",
        "0.5000 [0.4000, 0.6000] (approx.)",
        "<= 0.9000",
        "pass",
    ]


# -------------------------------------------------------------------- closed forms by hand
# Defaults n_A = 9, m = 11, alpha = 0.4, R = 5; the valuable instance has p = 0.5 for one
# strategy and 0.01 for the eight others; q_1 = 0.1 in the published setting.
def exact_valuable(q: float) -> float:
    return 1 - (1 - 0.5 * q) ** 11 * (1 - 0.01 * q) ** 88


def thm1_valuable(q: float) -> float:
    return 1 - (1 - 0.5 * q) ** 11


def thm2_round(eps: float, q: float) -> float:
    return 1 - (1 - eps * q) ** 99


EXPECTED_FOCAL = {
    "paper: valuable, R=1, exact": exact_valuable(0.4),
    "paper: valuable, R=5, exact": exact_valuable(0.4) ** 5,
    "paper: valuable, R=1, >= Thm 1": thm1_valuable(0.4),
    "paper: valuable, R=5, >= Thm 1": thm1_valuable(0.4) ** 5,
    "paper: eps=0.001, R=2, <= Thm 2": thm2_round(0.001, 0.4) ** 2,
    "paper: eps=0.02, R=5, <= Thm 2": thm2_round(0.02, 0.4) ** 5,
    "published: valuable, R=1, exact": exact_valuable(0.1),
    "published: valuable, R=5, exact": exact_valuable(0.1) * exact_valuable(0.4) ** 4,
    "published: valuable, R=1, >= Thm 1": thm1_valuable(0.1),
    "published: valuable, R=5, >= Thm 1": thm1_valuable(0.1) * thm1_valuable(0.4) ** 4,
    "published: eps=0.001, R=2, <= Thm 2": thm2_round(0.001, 0.1) * thm2_round(0.001, 0.4),
    "published: eps=0.02, R=5, <= Thm 2": thm2_round(0.02, 0.1) * thm2_round(0.02, 0.4) ** 4,
}


def test_numerical_examples_in_the_report_equal_the_closed_forms(report):
    _, md, numbers = report
    # Theorem 1: 1 - (1 - 0.4 * 0.5)^11 = 1 - 0.8^11 and with TypiClust's 0.05: 1 - (0.8*0.98)^11
    b1, e1 = 1 - 0.8**11, 1 - (0.8 * 0.98) ** 11
    assert f"**{b1:.4f}**" in md and "**0.9141**" in md
    assert f"exact survival with both strategies: {e1:.4f}" in md
    assert f"bound is {b1**5:.4f}" in md
    assert numbers["theorem1_example"]["bound"] == pytest.approx(b1, rel=1e-12)
    # Theorem 2 at eps = 1e-3: one round 1 - (1 - 4e-4)^99, five rounds its fifth power, the
    # approximation (99 * 0.4 * 1e-3)^5 = 0.0396^5.
    per = 1 - (1 - 4e-4) ** 99
    assert f"<= **{per:.4f}**" in md
    assert f"<= **{per**5:.3g}** (approximation {0.0396**5:.3g}" in md
    eps_rows = {r[0]: r for r in rows(md, "| eps | per round |")}
    assert _num(eps_rows["0.025"][1]) == pytest.approx(1 - (1 - 0.01) ** 99, abs=5e-5)
    assert float(eps_rows["0.025"][4]) == pytest.approx(1 - 98 * 0.01 / 2, abs=5e-5)


def test_bracket_table_shows_the_condition_and_its_failure(report):
    _, md, numbers = report
    table = {tuple(r[:5]): r[5:] for r in rows(md, "| n_A | m | q | eps | R |")}
    # n_A = m = 2, q = eps = 1: base 1 - 3/2 = -0.5; R = 2: base^2 = 0.25 > bound/approx = 1/16.
    base, cond, claim, ratio, holds, _ = table[("2", "2", "1", "1", "2")]
    assert (float(base), cond, float(claim), float(ratio), holds) == (
        -0.5,
        "**no**",
        0.25,
        0.0625,
        "**no**",
    )
    # Odd R: the negative claim holds trivially.
    assert table[("2", "2", "1", "1", "3")][4] == "yes"
    # The defaults at eps = 0.1: base = 1 - 98 * 0.04 / 2 = -0.96, squared 0.9216.
    row = table[("9", "11", "0.4", "0.1", "2")]
    assert float(row[0]) == pytest.approx(-0.96) and float(row[2]) == pytest.approx(0.9216)
    assert row[4] == "**no**"
    lo, hi = map(float, row[5].strip("[]").split(","))
    y = 0.04
    assert lo <= float(row[3]) <= hi and hi == pytest.approx(1 / (99 * y) ** 2, abs=5e-5)
    # The condition is stated where the bracket is.
    assert "`(n_A m - 1) q eps <= 2`" in md and "false for even R" in md
    summary = rows(md, "| claim | precise statement |")
    approx_row = next(r for r in summary if r[0] == "Thm 2 approximation")
    assert "`(n_A m - 1) alpha eps <= 2` (base >= 0)" in approx_row[2]
    assert f"eps <= {2 / (98 * 0.4):.4f}" in approx_row[3]  # 0.0510
    assert f"eps << {1 / (5 * 98 * 0.4 / 2):.4f}" in approx_row[3]  # 0.0102
    assert [b["condition_base_nonnegative"] for b in numbers["theorem2_bracket"]] == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_focal_checks_target_the_closed_forms_and_estimates_are_within_hoeffding(report):
    _, md, _ = report
    found = check_rows(md)[0]
    assert set(found) == set(EXPECTED_FOCAL)
    half = hoeffding(TINY.focal_trials)
    for name, target in EXPECTED_FOCAL.items():
        cells = found[name]
        tol = 5e-5 if target >= 1e-3 else 5e-3 * target
        assert _num(cells[2]) == pytest.approx(target, abs=tol), name
        measured = float(cells[1].split()[0])
        if name.endswith("exact"):
            assert abs(measured - target) <= half, name
        elif ">=" in name:
            assert measured >= target - half, name
        else:
            assert measured <= target + half, name


def test_real_filter_round1_against_the_closed_form(report):
    _, md, _ = report
    settings = {r[0]: r for r in rows(md, "| setting | abs U | b | q_1 |")}
    assert settings["paper"][3] == "0.400"  # floor(0.4 * 50000) / 50000
    assert settings["published"][3] == f"{5000 / 50_000:.3f}"
    assert settings["published-cap"][3] == f"{5000 / 100_000:.3f}"
    found = check_rows(md)[1]
    # one trial of 1000 exchangeable, negatively associated survival indicators: Hoeffding
    half = hoeffding(1000)
    for setting, q in (("paper", 0.4), ("published", 0.1)):
        cells = found[f"{setting}: valuable, R=1, exact"]
        assert _num(cells[2]) == pytest.approx(exact_valuable(q), abs=5e-5)
        assert abs(float(cells[1].split()[0]) - exact_valuable(q)) <= half
        eps = found[f"{setting}: eps=0.02, R=1, exact"]
        assert _num(eps[2]) == pytest.approx(thm2_round(0.02, q), abs=5e-5)


def test_check_count_and_status_are_derived_from_the_check_rows(report):
    _, md, numbers = report
    focal, real = check_rows(md)
    found = list(focal.values()) + list(real.values())
    passes = sum(cells[3] == "pass" for cells in found)
    assert len(found) == numbers["n_checks"] == 33
    assert f"{passes} of {len(found)} checks pass" in md
    assert numbers["checks_failed"] == [c[0] for c in found if c[3] != "pass"]


def test_theorem3_counterexample_recomputed_by_hand(report):
    _, md, _ = report
    m = re.search(r"values v = \[([^\]]*)\], p_a = \[([^\]]*)\]", md)
    v = np.array([float(x) for x in m.group(1).split(",")])
    p = np.array([float(x) for x in m.group(2).split(",")])
    pi = 1 - (1 - 0.4 * p) ** 22  # two strategies with the same p, m = 11 draws each
    e_r = float(pi @ v / pi.sum())
    assert np.corrcoef(p, v)[0, 1] > 0 and e_r < v.mean()
    assert f"E_r = **{e_r:.4f} < Vbar = {v.mean():.4f}**" in md
    assert f"pi = [{', '.join(f'{x:.4f}' for x in pi)}]" in md


def test_theorem3_gap_row_n4_recomputed_by_brute_force(report):
    _, md, _ = report
    n = 4
    v = np.linspace(0, 1, n)
    q = 1 / 4  # s = floor(0.4 * 4) = 1
    pi = 1 - (1 - q * (0.02 + 0.3 * v)) ** 11 * (1 - q * (0.02 + 0.3 * v**3)) ** 11
    e_r = pi @ v / pi.sum()
    # E[Vbar(P_1) | P_1 non-empty] when instances survive independently with pi
    num = den = 0.0
    for keep in itertools.product([0, 1], repeat=n):
        k = np.array(keep, dtype=bool)
        if k.any():
            w = np.prod(np.where(k, pi, 1 - pi))
            num += w * v[k].mean()
            den += w
    row = next(r for r in rows(md, "| n | Vbar | E_r |") if r[0] == "4")
    assert float(row[1]) == pytest.approx(0.5) and float(row[2]) == pytest.approx(e_r, abs=5e-5)
    assert float(row[4]) == pytest.approx(num / den, abs=5e-5)


def test_files_and_json(report):
    out, md, numbers = report
    for fig in ("survival_vs_rounds.png", "bounds_vs_m_alpha.png", "theorem3.png"):
        assert (out / fig).stat().st_size > 10_000
        assert f"]({fig})" in md
    stored = json.loads((out / "numbers.json").read_text())
    assert stored["theorem1_example"]["bound"] == pytest.approx(1 - 0.8**11)
    assert stored["real_filter"]["published"]["q1"] == pytest.approx(0.1)


# -------------------------------------------------------------------- figures as a reader sees them
def _text_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
        texts += ax.get_xticklabels() + ax.get_yticklabels()
        for t in texts:
            if t.get_visible() and t.get_text().strip():
                boxes.append((f"{t.get_text()!r}", t.get_window_extent(r)))
    for leg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        boxes.append(("legend", leg.get_window_extent(r)))
    return boxes


def _data_points(ax):
    """Display coordinates of every drawn data point, including bar corners."""
    pts = []
    for line in ax.get_lines():
        xy = np.asarray(line.get_xydata(), dtype=float)
        if line.get_transform() is ax.transData and xy.size:
            xy = xy[np.all(np.isfinite(xy), axis=1)]
            # densify segments so that a curve passing under the legend is caught
            if len(xy) > 1 and line.get_linestyle() not in ("None", "none", ""):
                t = np.linspace(0, 1, 20)[:, None]
                xy = np.concatenate([a + t * (b - a) for a, b in zip(xy[:-1], xy[1:], strict=True)])
            pts.append(ax.transData.transform(xy) if xy.size else np.empty((0, 2)))
    for patch in ax.patches:
        bb = patch.get_window_extent()
        pts.append(np.array([[bb.x0, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1], [bb.x1, bb.y0]]))
    return np.concatenate(pts) if pts else np.empty((0, 2))


@pytest.fixture(scope="module")
def figures(data):
    import matplotlib.pyplot as plt

    figs = make_figures(data)
    yield figs
    for f in figs.values():
        plt.close(f)


def test_no_text_or_legend_overlaps(figures):
    for name, fig in figures.items():
        boxes = _text_boxes(fig)
        for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
            inter = (
                ba.x1 - 1 > bb.x0 and bb.x1 - 1 > ba.x0 and ba.y1 - 1 > bb.y0 and bb.y1 - 1 > ba.y0
            )
            assert not inter, f"{name}: {a} overlaps {b}"


def test_legends_cover_no_data(figures):
    for name, fig in figures.items():
        r = fig.canvas.get_renderer()
        for leg in fig.legends:  # figure legends sit outside every axes
            lb = leg.get_window_extent(r)
            for ax in fig.axes:
                assert not lb.overlaps(ax.get_window_extent(r)), name
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is None:
                continue
            lb = leg.get_window_extent(r)
            pts = _data_points(ax)
            inside = (
                (pts[:, 0] > lb.x0)
                & (pts[:, 0] < lb.x1)
                & (pts[:, 1] > lb.y0)
                & (pts[:, 1] < lb.y1)
            )
            assert not inside.any(), f"{name}: legend covers {int(inside.sum())} data points"


def test_every_axes_is_labelled_and_rounds_have_integer_ticks(figures):
    for name, fig in figures.items():
        fig.canvas.draw()
        for ax in fig.axes:
            assert ax.get_xlabel().strip(), name
            if any(t.get_visible() and t.get_text() for t in ax.get_yticklabels()):
                assert ax.get_ylabel().strip(), f"{name}: y axis without a label"
    # the two panels of the first figures share their y axis; theorem3's do not
    assert all(ax.get_ylabel() for ax in figures["theorem3.png"].axes)
    surv = figures["survival_vs_rounds.png"]
    for ax in surv.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(11)]
    m_ax = figures["bounds_vs_m_alpha.png"].axes[0]
    assert all(float(t).is_integer() for t in m_ax.get_xticks())
    gap_ax = figures["theorem3.png"].axes[1]
    assert "difference" in gap_ax.get_title() and "ratio" not in gap_ax.get_title().split(":")[0]
    assert [t.get_text() for t in gap_ax.get_xticklabels()] == ["4", "8", "16", "32", "64"]


def test_palette_is_okabe_ito_or_grey(figures):
    from matplotlib.colors import to_hex, to_rgb

    allowed = {c.lower() for c in OKABE_ITO}
    for name, fig in figures.items():
        for ax in fig.axes:
            for line in ax.get_lines():
                c = to_hex(line.get_color()).lower()
                r, g, b = to_rgb(c)
                assert c in allowed or r == g == b, f"{name}: colour {c}"
            for patch in ax.patches:
                assert to_hex(patch.get_facecolor()).lower() in allowed, name


# -------------------------------------------------------------------- command line
def test_cli_report(tmp_path, monkeypatch, capsys):
    import theory.report as rep

    monkeypatch.setattr(rep.ReportConfig, "quick", classmethod(lambda cls: TINY))
    assert main(["report", "--out", str(tmp_path), "--quick", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    stored = json.loads((tmp_path / "numbers.json").read_text())
    assert stored["seed"] == 1
    n, failed = stored["n_checks"], stored["checks_failed"]
    assert f"{n - len(failed)}/{n} checks pass" in out
    assert [line.removeprefix("  failed: ") for line in out.splitlines()[1:]] == failed


def test_cli_without_sympy_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "sympy", None)  # import sympy now fails
    assert main(["report", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'pip install "refine-al[theory]"' in err and "sympy" in err
    assert not (tmp_path / "report.md").exists()
