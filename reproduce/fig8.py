"""Fig. 8 (appendix B use case): Coreset on the filtered vs the unfiltered pool vs Random.

Paper: ESC-50 with EAT features (b = 20); the cpu preset: digits.
"""

from __future__ import annotations

from refine.plots import learning_curves_figure
from reproduce.common import ReproduceRun, save_figure, script_main
from reproduce.grids import filtered_grid


def build(run: ReproduceRun) -> list:
    df = filtered_grid(run, "fig8", ("coreset",), run.preset.fig8, grid="fig8")
    fig = learning_curves_figure(df, False, "Fig. 8: Coreset, filtered (dashed) vs unfiltered")
    return save_figure(fig, run.out_dir("fig8") / f"fig8_{run.preset.name}")


if __name__ == "__main__":
    script_main("fig8", build, __doc__)
