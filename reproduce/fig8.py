"""Fig. 8 (appendix B use case): Coreset on the filtered vs the unfiltered pool vs Random.

Paper: ESC-50 with EAT features (b = 20); the cpu preset: digits.
"""

from __future__ import annotations

from refine.plots import learning_curves_figure
from reproduce.common import Context, save_figure, script_main
from reproduce.grids import filtered_grid


def build(ctx: Context) -> list:
    df = filtered_grid(ctx, "fig8", ("coreset",), ctx.preset.fig8, grid="fig8")
    fig = learning_curves_figure(df, False, "Fig. 8: Coreset, filtered (dashed) vs unfiltered")
    return save_figure(fig, ctx.out_dir("fig8") / f"fig8_{ctx.preset.name}")


if __name__ == "__main__":
    script_main("fig8", build, __doc__)
