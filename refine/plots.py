"""The package's figures: one plotting layer for ``refine report`` and ``python -m reproduce``.

Every figure is sized for print (at most :data:`PRINT_WIDTH_IN` wide, so it is never scaled down
on a page and its 7–9 pt text stays readable), laid out by matplotlib's constrained layout (no
text clipped at the border or overlapping), and draws each strategy in one style everywhere
(:func:`strategy_style`): a colour of Paul Tol's colour-blind-safe *muted* scheme (the single
strategies) or of Okabe & Ito's (the ensemble baselines), plus a marker of its own so that
curves stay apart in greyscale too. Refine is black and thickest, Random grey; a strategy on the
filtered pool (``X+filter``, ``filtered:X``) keeps X's colour and marker with a dashed line and
an open marker. Legends sit outside the axes, never on data or axis labels. Axes of rounds and
labeled-set sizes have integer ticks.

``tests/test_figures.py`` renders every figure and checks these properties with matplotlib's
renderer.

References
----------
Tol, P. (2021). Colour schemes. SRON/EPS/TN/09-002, https://personal.sron.nl/~pault/.
Okabe, M., & Ito, K. (2008). Color Universal Design (CUD): how to make figures and
presentations that are friendly to colorblind people. https://jfly.uni-koeln.de/color/.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from refine.metrics import learning_curves, relative_learning_curves, win_rate_matrix

#: The widest a figure is drawn (inches): a page's text width, so print never scales it down.
PRINT_WIDTH_IN = 7.0
#: Resolution of the PNG files (dots per inch).
PNG_DPI = 200

#: Font sizes (pt) at print size.
RC = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 8,
    "figure.titlesize": 10,
    "axes.grid": False,
    "savefig.dpi": PNG_DPI,
}

#: One (colour, marker) per known strategy: Tol muted for the single strategies, Okabe-Ito for
#: the ensembles, black for Refine and grey for Random.
STRATEGY_STYLES: dict[str, tuple[str, str]] = {
    "refine": ("#000000", "o"),
    "random": ("#777777", "."),
    "margin": ("#CC6677", "s"),
    "badge": ("#332288", "^"),
    "bait": ("#DDCC77", "v"),
    "typiclust": ("#88CCEE", "D"),
    "alfamix": ("#882255", "P"),
    "dropquery": ("#44AA99", "X"),
    "maxherding": ("#999933", "<"),
    "uherding": ("#AA4499", ">"),
    "coreset": ("#117733", "h"),
    "selectal": ("#E69F00", "p"),
    "tcm": ("#0072B2", "*"),
    "tailor": ("#D55E00", "d"),
}
#: Colours for names outside :data:`STRATEGY_STYLES` (user strategies, parameter variants):
#: Okabe-Ito and Tol bright colours not used above.
FALLBACK_COLOURS = (
    "#56B4E9",
    "#009E73",
    "#CC79A7",
    "#4477AA",
    "#EE6677",
    "#228833",
    "#CCBB44",
    "#AA3377",
)
FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h")


def _plt():
    import matplotlib.pyplot as plt

    return plt


def base_strategy(name: str) -> tuple[str, bool]:
    """``(registry name, on the filtered pool?)`` of a results name.

    ``"bait+filter"`` and ``"filtered:bait"`` → ``("bait", True)``; a parameter variant
    ``"refine [rounds=3]"`` keeps its full name (it is drawn apart from ``refine``).
    """
    if name.startswith("filtered:"):
        return name[len("filtered:") :], True
    if name.endswith("+filter"):
        return name[: -len("+filter")], True
    return name, False


def strategy_style(name: str) -> dict:
    """Line keyword arguments of strategy ``name``, the same in every figure."""
    base, filtered = base_strategy(name)
    if base in STRATEGY_STYLES:
        colour, marker = STRATEGY_STYLES[base]
    else:
        h = zlib.crc32(base.encode())
        colour = FALLBACK_COLOURS[h % len(FALLBACK_COLOURS)]
        marker = FALLBACK_MARKERS[(h // len(FALLBACK_COLOURS)) % len(FALLBACK_MARKERS)]
    style = {
        "color": colour,
        "marker": marker,
        "lw": 2.0 if base == "refine" else 1.2,
        "ms": 4.0 if marker not in (".", "*") else 6.0,
        "ls": "--" if filtered else "-",
        "zorder": 3 if base == "refine" else 2,
    }
    if filtered:
        style["mfc"] = "white"
    return style


def styles_for(names: Iterable[str]) -> dict[str, dict]:
    """:func:`strategy_style` for each name, with colour clashes of unknown names resolved.

    Known strategies keep their fixed colour; an unknown name whose hashed colour is already
    taken in this figure moves to the next free fallback colour (filtered variants share their
    base strategy's colour on purpose).
    """
    out: dict[str, dict] = {}
    used: set[tuple[str, bool]] = set()
    for name in names:
        st = strategy_style(name)
        base, filtered = base_strategy(name)
        if base not in STRATEGY_STYLES:
            i = FALLBACK_COLOURS.index(st["color"])
            for k in range(len(FALLBACK_COLOURS)):
                c = FALLBACK_COLOURS[(i + k) % len(FALLBACK_COLOURS)]
                if (c, filtered) not in used:
                    st["color"] = c
                    break
        used.add((st["color"], filtered))
        out[name] = st
    return out


def strategy_order(names: Iterable[str]) -> list[str]:
    """Refine first, then the known strategies in a fixed order, then the rest sorted."""
    known = list(STRATEGY_STYLES)

    def key(n: str):
        base, filtered = base_strategy(n)
        return (known.index(base) if base in known else len(known), base, filtered, n)

    return sorted(set(names), key=key)


def new_figure(width: float, height: float, **kwargs):
    """A constrained-layout figure with the package's font sizes, at most the print width."""
    import matplotlib

    plt = _plt()
    with matplotlib.rc_context(RC):
        fig = plt.figure(figsize=(min(width, PRINT_WIDTH_IN), height), layout="constrained")
        axes = fig.subplots(squeeze=False, **kwargs)
    return fig, axes


def _finish(fig):
    """Fix the tick-label size on every axes (ticks are created lazily, at draw time)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=RC["xtick.labelsize"])
    return fig


def _rc():
    import matplotlib

    return matplotlib.rc_context(RC)


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _outside_legend(fig, handles, labels, n_panels: int):
    """A figure legend right of the axes (one panel row) or below them (several)."""
    if not handles:
        return None
    if n_panels == 1:
        return fig.legend(handles, labels, loc="outside right upper", frameon=False)
    return fig.legend(
        handles, labels, loc="outside lower center", ncol=min(5, len(labels)), frameon=False
    )


def learning_curves_figure(
    results: pd.DataFrame,
    relative: bool = False,
    title: str | None = None,
    strategies: Sequence[str] | None = None,
    baseline: str = "random",
    bands: bool | None = None,
):
    """Mean accuracy (or gain over the baseline, pp) vs labeled instances, one panel per setting.

    Parameters
    ----------
    results : DataFrame
        Tidy results (:data:`refine.loop.RESULT_COLUMNS`).
    relative : bool
        Plot accuracy minus the baseline's, in percentage points (paper Figs. 3, 11, 13).
    title : str, optional
        Figure title.
    strategies : sequence of str, optional
        Only these strategies.
    baseline : str
        The reference strategy of relative curves (drawn as the zero line).
    bands : bool, optional
        Shade ± one standard deviation over seeds (default: with at most four strategies).
    """
    curves = relative_learning_curves(results, baseline) if relative else learning_curves(results)
    if strategies:
        curves = curves[curves.strategy.isin(strategies)]
    if relative:
        curves = curves[curves.strategy != baseline]
    settings = sorted(curves.groupby(["dataset", "backbone"]).groups)
    ncol = min(3, len(settings))
    nrow = int(np.ceil(len(settings) / ncol))
    names = strategy_order(curves.strategy.unique())
    if bands is None:
        bands = not relative and len(names) <= 4
    width = 4.6 if ncol == 1 else 2.4 * ncol
    fig, axes = new_figure(
        width, 0.4 + 2.5 * nrow + (0.5 if ncol > 1 else 0), nrows=nrow, ncols=ncol
    )
    styles = styles_for(names)
    with _rc():
        for ax, (ds, bb) in zip(axes.flat, settings, strict=False):
            sub = curves[(curves.dataset == ds) & (curves.backbone == bb)]
            for name in names:
                g = sub[sub.strategy == name].sort_values("n_labeled")
                if g.empty:
                    continue
                y = g["relative_pp"] if relative else g["accuracy_mean"]
                ax.plot(g["n_labeled"], y, label=name, **styles[name])
                if bands and g["accuracy_std"].notna().any():
                    sd = g["accuracy_std"].to_numpy()
                    ax.fill_between(
                        g["n_labeled"],
                        y - sd,
                        y + sd,
                        alpha=0.15,
                        color=styles[name]["color"],
                        lw=0,
                    )
            if relative:
                ax.axhline(0, color=STRATEGY_STYLES["random"][0], lw=0.9, ls=":", zorder=1)
            if len(settings) > 1:
                ax.set_title(f"{ds} / {bb}")
            ax.set_xlabel("labeled instances")
            ax.set_ylabel(f"accuracy − {baseline} (pp)" if relative else "test accuracy")
            _integer_ticks(ax.xaxis)
            ax.grid(alpha=0.3, lw=0.5)
        for ax in list(axes.flat)[len(settings) :]:
            ax.set_axis_off()
        handles, labels = _collect_handles(axes.flat)
        _outside_legend(fig, handles, labels, ncol if nrow == 1 else 2)
        heading = title or ("relative learning curves" if relative else "learning curves")
        if len(settings) == 1:
            # one panel: the legend takes the right margin, so the title goes over the axes
            axes[0, 0].set_title(f"{heading}\n{settings[0][0]} / {settings[0][1]}")
        else:
            fig.suptitle(heading)
    return _finish(fig)


def _collect_handles(axes):
    seen: dict[str, object] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    return list(seen.values()), list(seen)


def win_rate_figure(
    results: pd.DataFrame, order: Sequence[str] | None = None, title: str | None = None
):
    """Heatmap of the win-rate matrix (paper Figs. 2 and 4) with a colour bar.

    Cell (i, j) is the percentage of (setting, seed) pairs in which row strategy i has the higher
    AULC than column strategy j (:func:`refine.metrics.win_rate_matrix`).

    Returns
    -------
    (Figure, DataFrame)
        The figure and the matrix in percent.
    """
    present = set(results.strategy)
    names = [s for s in order if s in present] if order else strategy_order(present)
    mat = win_rate_matrix(results, names) * 100
    n = len(mat)
    cell = 0.36
    longest = max(len(str(s)) for s in names)  # the rotated column labels take this height
    fig, axes = new_figure(
        max(3.4, 1.4 + cell * n + 0.06 * longest), max(2.6, 1.2 + cell * n + 0.07 * longest)
    )
    ax = axes[0, 0]
    with _rc():
        image = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=0, vmax=100, aspect="equal")
        cmap = image.get_cmap()
        for i in range(n):
            for j in range(n):
                v = mat.iat[i, j]
                if v != v:
                    ax.text(j, i, "–", ha="center", va="center", fontsize=7, color="#999999")
                    continue
                r, g, b, _ = cmap(v / 100)
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6.5 if n > 8 else 7.5,
                    color="white" if dark else "black",
                )
        ax.set_xticks(range(n), mat.columns, rotation=90)
        ax.set_yticks(range(n), mat.index)
        ax.set_xlabel("versus (column)")
        ax.set_ylabel("strategy (row)")
        ax.tick_params(length=0)
        cbar = fig.colorbar(image, ax=ax, shrink=0.9, aspect=25)
        cbar.set_label("win rate (%)")
        fig.suptitle(title or "win rate (%) of row over column")
    return _finish(fig), mat


def pool_traces(results: pd.DataFrame) -> pd.DataFrame:
    """The filtering traces of the results, one row per (trial, cycle, round).

    Round 0 is the first subsample the filtering starts from; rounds 1..R carry the pool size
    after the round and the distinct instances each strategy selected in it (``from_<name>``).
    """
    rows = []
    for rec in results[results["trace"].astype(bool)].itertuples():
        tr = json.loads(rec.trace)
        if "pool_sizes" not in tr:
            continue
        key = dict(
            dataset=rec.dataset,
            backbone=rec.backbone,
            strategy=rec.strategy,
            seed=rec.seed,
            cycle=rec.cycle,
        )
        if tr.get("subsample_sizes"):
            rows.append({**key, "round": 0, "pool_size": tr["subsample_sizes"][0]})
        contributions = tr.get("contributions") or [{}] * len(tr["pool_sizes"])
        for r, (size, contrib) in enumerate(zip(tr["pool_sizes"], contributions, strict=False), 1):
            rows.append(
                {
                    **key,
                    "round": r,
                    "pool_size": size,
                    **{f"from_{k}": v for k, v in contrib.items()},
                }
            )
    return pd.DataFrame(rows)


def _plain_log_axis(axis) -> None:
    """Log scale labelled 10, 20, 50, 100, ... (one label per tick, no minor-tick labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(1, 10)))
    axis.set_minor_formatter(NullFormatter())


def pool_trace_figure(
    results: pd.DataFrame, strategies: Sequence[str] | None = None, title: str | None = None
):
    """Refine's two stages from its traces (paper Fig. 1), one row per filtering strategy.

    Left: the candidate pool's size after each filtering round (mean over queries and seeds;
    round 0 = the first subsample), log scale, down to the batch size b. Right: how many distinct
    instances each ensemble member selected per round (mean), stacked. ``None`` when the results
    hold no filtering trace.
    """
    traces = pool_traces(results)
    if strategies is not None and not traces.empty:
        traces = traces[traces.strategy.isin(strategies)]
    if traces.empty:
        return None
    groups = sorted(traces.groupby(["strategy", "dataset", "backbone"]).groups)
    # styles over every name of the results, as the learning curves pick them
    styles = styles_for(strategy_order(results.strategy.unique()))
    fig, axes = new_figure(PRINT_WIDTH_IN, 0.5 + 2.6 * len(groups), nrows=len(groups), ncols=2)
    with _rc():
        for (a1, a2), (strat, ds, bb) in zip(axes, groups, strict=True):
            g = traces[
                (traces.strategy == strat) & (traces.dataset == ds) & (traces.backbone == bb)
            ]
            m = g.groupby("round")["pool_size"].mean()
            a1.plot(m.index, m.to_numpy(), **styles[strat])
            sel = results[
                (results.strategy == strat) & (results.dataset == ds) & (results.backbone == bb)
            ]
            b = sel[sel.cycle == 0].n_labeled
            if len(b) and b.nunique() == 1:
                a1.axhline(int(b.iloc[0]), color="grey", ls=":", lw=0.8)
                a1.annotate(
                    f"batch b = {int(b.iloc[0])}",
                    (m.index.max(), int(b.iloc[0])),
                    textcoords="offset points",
                    xytext=(-2, 3),
                    ha="right",
                    va="bottom",
                    fontsize=7,
                )
            a1.set_yscale("log")
            _plain_log_axis(a1.yaxis)
            a1.set_xticks(range(int(m.index.min()), int(m.index.max()) + 1))
            a1.set_xlabel("filtering round (0 = first subsample)")
            a1.set_ylabel("candidate pool size")
            a1.set_title(f"pool size · {strat} / {ds} / {bb}")
            a1.grid(alpha=0.3, lw=0.5, which="major")
            cols = [c for c in g.columns if c.startswith("from_") and g[c].notna().any()]
            if not cols:
                a2.set_axis_off()
                continue
            per_round = g[g["round"] > 0].groupby("round")[cols].mean()
            members = strategy_order(c[len("from_") :] for c in cols)
            bottom = np.zeros(len(per_round))
            for name in members:
                v = per_round[f"from_{name}"].fillna(0).to_numpy()
                a2.bar(
                    per_round.index,
                    v,
                    bottom=bottom,
                    label=name,
                    color=strategy_style(name)["color"],
                    edgecolor="white",
                    lw=0.4,
                )
                bottom += v
            a2.set_xticks(per_round.index.astype(int))
            a2.set_xlabel("filtering round")
            a2.set_ylabel("instances selected (mean)")
            a2.set_title("contribution of each strategy")
            a2.legend(
                *[lst[::-1] for lst in a2.get_legend_handles_labels()],
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                frameon=False,
                borderaxespad=0,
            )
        if title:
            fig.suptitle(title)
    return _finish(fig)


def gain_bars_figure(table: pd.DataFrame, title: str | None = None):
    """AULC gain (%) of each strategy on the filtered over the unfiltered pool (paper Fig. 5a).

    ``table`` has columns ``dataset``, ``backbone``, ``strategy`` and ``gain (%)``. Each bar
    carries its value, so a gain of zero is visible as a labelled baseline mark.
    """
    settings = sorted(table.groupby(["dataset", "backbone"]).groups)
    names = strategy_order(table.strategy.unique())
    k = len(settings)
    width = 0.8 / k
    fig, axes = new_figure(max(3.4, 1.2 + 0.55 * len(names) * k), 2.8)
    ax = axes[0, 0]
    hatches = ("", "//", "..", "xx", "\\\\")
    with _rc():
        for s, (ds, bb) in enumerate(settings):
            g = table[(table.dataset == ds) & (table.backbone == bb)].set_index("strategy")
            x = np.arange(len(names)) + (s - (k - 1) / 2) * width
            vals = np.array([g["gain (%)"].get(n, np.nan) for n in names], dtype=float)
            colours = [strategy_style(n)["color"] for n in names]
            ax.bar(
                x,
                vals,
                width * 0.92,
                color=colours,
                edgecolor="black",
                lw=0.5,
                hatch=hatches[s % len(hatches)],
                label=f"{ds} / {bb}",
            )
            # a zero gain has no visible bar: mark it so it does not look missing
            ax.scatter(x, np.where(vals == 0, 0, np.nan), marker="_", s=120, color="black")
            for xi, v in zip(x, vals, strict=True):
                if v == v:
                    ax.annotate(
                        f"{v:+.1f}",
                        (xi, v),
                        textcoords="offset points",
                        xytext=(0, 2 if v >= 0 else -2),
                        ha="center",
                        va="bottom" if v >= 0 else "top",
                        fontsize=6.5,
                    )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylabel("AULC gain from filtering (%)")
        lo, hi = np.nanmin(np.r_[table["gain (%)"], 0]), np.nanmax(np.r_[table["gain (%)"], 0])
        pad = 0.15 * max(hi - lo, 1e-9)
        ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
        if k > 1:
            fig.legend(loc="outside right upper", frameon=False)
        ax.set_title(title or "strategy on the filtered vs the unfiltered pool")
    return _finish(fig)


def save_figure(fig, path_stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``path_stem.<format>`` for each format, close it, return the paths.

    PNG at :data:`PNG_DPI`; the PDF carries no creation date so that a redraw of the same data
    gives the same file. The figure is saved as laid out (no tight bounding box), which is what
    ``tests/test_figures.py`` checks.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        p = stem.with_suffix(f".{ext}")
        meta = {"CreationDate": None} if ext == "pdf" else None
        fig.savefig(p, dpi=PNG_DPI, metadata=meta)
        paths.append(p)
    _plt().close(fig)
    return paths
