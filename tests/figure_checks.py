"""Checks of a rendered matplotlib figure as a reader would make them, via the renderer's boxes.

:func:`figure_problems` draws the figure once, records every text actually drawn (tick labels,
axis labels, titles, legend entries, annotations) with its window extent, and returns one line
per problem:

- a text or legend outside the figure (clipped in the saved file);
- two texts overlapping;
- a text outside the axes (tick label, axis label, title) overlapping an axes' data area, or an
  annotation leaving its own axes;
- a legend overlapping an axes' data area or a text not its own (the x label, another panel);
- text smaller than ``min_points`` at print size (the figure scaled to ``print_width`` inches);
- non-integer ticks on an axis of rounds, cycles or labeled instances;
- repeated tick labels on one axis, or labelled minor ticks;
- two legend entries drawn alike (same colour, marker and line style).
"""

from __future__ import annotations

import itertools
from unittest import mock

import matplotlib.text as mtext
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

TOL = 0.5  # pixels: boxes that merely touch do not overlap


def _overlap(a, b) -> bool:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w > TOL and h > TOL


def _inside(inner, outer, tol: float = 1.0) -> bool:
    return (
        inner.x0 >= outer.x0 - tol
        and inner.y0 >= outer.y0 - tol
        and inner.x1 <= outer.x1 + tol
        and inner.y1 <= outer.y1 + tol
    )


def drawn_texts(fig):
    """Draw ``fig``; return ``[(Text, bbox)]`` for each non-empty text drawn, and the renderer."""
    drawn = []
    original = mtext.Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self, self.get_window_extent(renderer)))

    with mock.patch.object(mtext.Text, "draw", draw):
        fig.canvas.draw()
    return drawn, fig.canvas.get_renderer()


def figure_problems(
    fig,
    print_width: float = 7.0,
    min_points: float = 6.0,
    integer_words=("round", "cycle", "labeled"),
) -> list[str]:
    """Every problem a reader would see in ``fig`` (empty list: none)."""
    texts, renderer = drawn_texts(fig)
    problems: list[str] = []
    fig_box = fig.bbox
    data_axes = [ax for ax in fig.axes if ax.axison and ax.get_visible()]
    legends = [lg for lg in (*fig.legends, *(ax.get_legend() for ax in fig.axes)) if lg]
    legend_of = {}
    for lg in legends:
        for t in (*lg.get_texts(), lg.get_title()):
            legend_of[id(t)] = lg
    annotation_axes = {id(t): ax for ax in fig.axes for t in ax.texts}

    def name(t) -> str:
        return repr(t.get_text()[:40])

    for t, box in texts:
        if not _inside(box, fig_box):
            problems.append(f"text {name(t)} falls outside the figure")
        size = t.get_fontsize() * min(1.0, print_width / fig.get_figwidth())
        if size < min_points:
            problems.append(f"text {name(t)} is {size:.1f} pt at print size")
        if id(t) in legend_of:
            continue
        if id(t) in annotation_axes:
            own = annotation_axes[id(t)]
            if not _inside(box, own.bbox):
                problems.append(f"annotation {name(t)} leaves its axes")
            others = [ax for ax in data_axes if ax is not own]
        else:
            others = data_axes
        for ax in others:
            if _overlap(box, ax.bbox):
                problems.append(f"text {name(t)} overlaps the data area of an axes")
    for (t1, b1), (t2, b2) in itertools.combinations(texts, 2):
        if _overlap(b1, b2) and not (
            id(t1) in legend_of and legend_of.get(id(t1)) is legend_of.get(id(t2))
        ):
            problems.append(f"texts {name(t1)} and {name(t2)} overlap")
    for lg in legends:
        box = lg.get_window_extent(renderer)
        if not _inside(box, fig_box):
            problems.append("a legend falls outside the figure")
        for ax in data_axes:
            if _overlap(box, ax.bbox):
                problems.append("a legend covers an axes' data area")
        for t, tb in texts:
            if legend_of.get(id(t)) is not lg and _overlap(box, tb):
                problems.append(f"a legend covers text {name(t)}")
        problems += _legend_entries_alike(lg)
    for ax in data_axes:
        problems += _tick_problems(ax, texts, integer_words)
    return problems


def _tick_problems(ax, texts, integer_words) -> list[str]:
    out = []
    drawn = {id(t) for t, _ in texts}
    for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
        major = [t for t in axis.get_ticklabels() if id(t) in drawn]
        minor = [t for t in axis.get_ticklabels(minor=True) if id(t) in drawn]
        if minor:
            out.append(f"minor ticks labelled on axis {label!r}: {[t.get_text() for t in minor]}")
        words = [t.get_text() for t in major]
        if len(set(words)) < len(words):
            out.append(f"repeated tick labels on axis {label!r}: {words}")
        if any(w in label.lower() for w in integer_words):
            lo, hi = sorted(axis.get_view_interval())
            locs = [v for v in axis.get_majorticklocs() if lo <= v <= hi]
            if any(abs(v - round(v)) > 1e-9 for v in locs):
                out.append(f"non-integer ticks on axis {label!r}: {locs}")
    return out


def _legend_entries_alike(lg) -> list[str]:
    seen = {}
    out = []
    for handle, text in zip(lg.legend_handles, lg.get_texts(), strict=False):
        if isinstance(handle, Line2D):
            key = (
                to_hex(handle.get_color()),
                handle.get_marker(),
                handle.get_linestyle(),
                str(handle.get_markerfacecolor()),
            )
        elif isinstance(handle, Patch):
            key = (to_hex(handle.get_facecolor()), handle.get_hatch())
        else:
            continue
        if key in seen:
            out.append(f"legend entries {seen[key]!r} and {text.get_text()!r} are drawn alike")
        seen[key] = text.get_text()
    return out


def legend_styles(fig) -> dict[str, tuple[str, str | None]]:
    """Legend label → (colour hex, marker) over every legend of ``fig``."""
    out = {}
    for lg in (*fig.legends, *(ax.get_legend() for ax in fig.axes)):
        if not lg:
            continue
        for handle, text in zip(lg.legend_handles, lg.get_texts(), strict=False):
            if isinstance(handle, Line2D):
                out[text.get_text()] = (to_hex(handle.get_color()), handle.get_marker())
            elif isinstance(handle, Patch):
                out[text.get_text()] = (to_hex(handle.get_facecolor()), None)
    return out
