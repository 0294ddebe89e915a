"""The report's three figures, drawn from a :class:`theory.report.compute.ReportData`.

Reference: Huseljic et al., arXiv 2511.22344, Theorems 1-3 (Section 4, Appendix A).

* ``survival_vs_rounds.png``: survival through the rounds, Monte Carlo against Theorems 1-2, in
  the paper's and the published code's setting;
* ``bounds_vs_m_alpha.png``: survival after ``R`` rounds across ``m`` and ``alpha``;
* ``theorem3.png``: Theorem 3's counterexample, and the gap between the expected pool mean and the
  paper's ratio of expectations.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
every series also differs in marker or line style. Legends sit outside the data; round and draw
counts get integer ticks. Sizes are chosen for a printed page (7 inches wide, 8-9.5 pt text).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory import examples
from theory.report.compute import PUBLISHED_Q1, ReportData

__all__ = ["OKABE_ITO", "draw_figures", "make_figures"]

#: Okabe & Ito (2008), "Color Universal Design": blue, vermillion, orange, bluish green,
#: reddish purple, sky blue, black.
OKABE_ITO = ("#0072B2", "#D55E00", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000")

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "savefig.dpi": 200,
}

# group of the first figure -> (colour, marker, label)
_GROUPS = {
    "valuable": (OKABE_ITO[0], "o", "valuable"),
    "eps=0.001": (OKABE_ITO[1], "^", "eps = 0.001"),
    "eps=0.02": (OKABE_ITO[2], "s", "eps = 0.02"),
}


def make_figures(data: ReportData) -> dict:
    """The three figures as ``{file name: matplotlib Figure}`` (not saved, not closed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(_STYLE):
        return {
            "survival_vs_rounds.png": _survival_vs_rounds(plt, data),
            "bounds_vs_m_alpha.png": _bounds_vs_m_alpha(plt, data),
            "theorem3.png": _theorem3(plt, data),
        }


def draw_figures(out: Path, data: ReportData) -> list[str]:
    """Write the three PNGs into ``out``; return their file names."""
    import matplotlib.pyplot as plt

    figs = make_figures(data)
    with plt.rc_context(_STYLE):
        for name, fig in figs.items():
            fig.savefig(out / name)
            plt.close(fig)
    return list(figs)


def _survival_vs_rounds(plt, data: ReportData):
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.9), sharey=True)
    r = np.arange(11)
    for ax, setting in zip(axes, ("paper", "published"), strict=True):
        for key, (col, marker, _) in _GROUPS.items():
            surv, lo, hi, exact, bound = data.curves[(setting, key)]
            ok = surv > 0
            ax.errorbar(
                r[ok],
                surv[ok],
                yerr=[surv[ok] - np.maximum(lo[ok], 1e-12), hi[ok] - surv[ok]],
                fmt=marker,
                color=col,
                ms=4,
                capsize=2,
                lw=1,
            )
            if key == "valuable":
                ax.plot(r, exact, ":", color=col, lw=1.4)
                ax.plot(r, bound, "--", color=col, lw=1.2)
            else:
                ax.plot(r, bound, "-", color=col, lw=1.2)
        for res in data.real:
            if res.scenario.name != setting:
                continue
            for key, (col, _, _) in _GROUPS.items():
                pts = [
                    (1, np.mean(res.round1[key])),
                    (res.scenario.rounds, np.mean(res.final[key])),
                ]
                pts = [(a, b) for a, b in pts if b > 0]
                if pts:
                    ax.plot(*zip(*pts, strict=True), "D", mfc="none", color=col, ms=9, mew=1.2)
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
        ax.set_xticks(r)
        ax.set_xlabel("round r")
        alpha = examples.DEFAULTS["alpha"]
        q1 = alpha if setting == "paper" else PUBLISHED_Q1
        ax.set_title(f"{setting} setting (q_1 = {q1:g}, then alpha = {alpha:g})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P(x in P_r)")
    blue = _GROUPS["valuable"][0]
    mc = [
        Line2D([], [], color=col, marker=marker, ls="none", label=f"{lab}: Monte Carlo")
        for col, marker, lab in _GROUPS.values()
    ]
    # column-major legend of two rows: Monte Carlo markers above, the formulas below
    handles = [
        mc[0],
        Line2D([], [], color=blue, ls=":", lw=1.4, label="valuable: exact"),
        mc[1],
        Line2D([], [], color=blue, ls="--", lw=1.2, label="valuable: Thm 1 bound"),
        mc[2],
        Line2D([], [], color="0.3", ls="-", lw=1.2, label="eps groups: Thm 2 bound"),
        Line2D([], [], color="0.3", marker="D", mfc="none", ls="none", ms=8, label="real filter"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, columnspacing=1.2)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


def _bounds_vs_m_alpha(plt, data: ReportData):
    R = examples.DEFAULTS["R"]
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.6), sharey=True)
    series = (
        ("valuable", "t1", OKABE_ITO[0], "o", "valuable (MC)", "Thm 1 bound"),
        ("uninformative", "t2", OKABE_ITO[1], "s", "eps = 0.02 (MC)", "Thm 2 bound"),
    )
    for ax, axis in zip(axes, ("m", "alpha"), strict=True):
        rows = data.grid[axis]
        x = np.array([row["x"] for row in rows], dtype=float)
        for key, bkey, col, marker, lab, blab in series:
            y = np.array([row[key] for row in rows])
            ci = np.array([row[key + "_ci"] for row in rows])
            ax.errorbar(
                x,
                y,
                yerr=[y - ci[:, 0], ci[:, 1] - y],
                fmt=marker,
                color=col,
                ms=4,
                capsize=2,
                label=lab,
            )
            ax.plot(x, [row[bkey] for row in rows], "--", color=col, label=blab)
        if axis == "m":
            ax.set_xticks([1, 5, 10, 15, 20, 25, 30])
            ax.set_xlabel("draws per strategy m (alpha = 0.4)")
        else:
            ax.set_xlabel("sample ratio alpha (m = 11)")
        ax.set_yscale("log")
        ax.set_ylim(1e-7, 1.5)
        ax.grid(alpha=0.3)
        ax.set_title(f"survival after R = {R} rounds vs {axis}")
    axes[0].set_ylabel(f"P(x in P_{R})")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def _theorem3(plt, data: ReportData):
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 4.0), layout="constrained")
    ce = data.t3["counterexample"]
    idx = np.arange(ce.v.size)
    w = 0.25
    ax = axes[0]
    ax.bar(idx - w, ce.v, w, color=OKABE_ITO[0], label="value v")
    ax.bar(idx, ce.probs[0], w, color=OKABE_ITO[2], hatch="//", label="p_a (every strategy)")
    ax.bar(idx + w, ce.pi, w, color=OKABE_ITO[3], label="survival pi")
    ax.axhline(ce.v_bar, color="k", ls=":", label=f"Vbar = {ce.v_bar:.3f}")
    ax.axhline(ce.e_r, color=OKABE_ITO[1], ls="--", label=f"E_r = {ce.e_r:.3f}")
    ax.set_xticks(idx, [f"x{i + 1}" for i in idx])
    ax.set_xlabel("instance")
    ax.set_ylabel("value / probability")
    ax.set_title("Theorem 3 counterexample:\ncorr(p_a, v) > 0 but E_r < Vbar")
    ax.set_ylim(0, 1.05)
    # legends below their panels, off the data
    below = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16), "frameon": False}
    ax.legend(ncol=2, **below)
    gaps = data.t3["gaps"]
    ns = [g.n for g in gaps]
    ax = axes[1]
    ax.errorbar(
        ns,
        [g.mc_mean - g.e_r for g in gaps],
        yerr=[[g.mc_mean - g.mc_lo for g in gaps], [g.mc_hi - g.mc_mean for g in gaps]],
        fmt="o-",
        color=OKABE_ITO[0],
        capsize=3,
        label="Monte Carlo (subsampling rounds)",
    )
    ax.plot(
        ns,
        [g.indep_mean - g.e_r if np.isfinite(g.indep_mean) else np.nan for g in gaps],
        "s--",
        color=OKABE_ITO[1],
        label="independent survival (exact)",
    )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("pool size n")
    ax.set_ylabel("E[Vbar(P_1) | P_1 non-empty] - E_r")
    ax.set_title("difference: expected pool mean\nminus ratio of expectations E_r")
    ax.legend(**below)
    return fig
