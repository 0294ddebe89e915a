"""Fig. 3: relative learning curves (accuracy − random, pp) of Refine and the single strategies.

Paper: DINOv3 and CLIP on CIFAR-100, Food101, Tiny ImageNet and Dopanim; the cpu preset: digits.
"""

from __future__ import annotations

from refine.plots import learning_curves_figure
from reproduce.common import ReproduceRun, save_figure, script_main
from reproduce.grids import main_grid


def build(run: ReproduceRun) -> list:
    df = main_grid(run, "fig3")
    if run.preset.paper_panels:
        df = df[
            df.dataset.isin(["cifar100", "food101", "tiny_imagenet", "dopanim"])
            & df.backbone.isin(["dinov3", "clip"])
        ]
    fig = learning_curves_figure(df, relative=True, title="Fig. 3: relative learning curves")
    return save_figure(fig, run.out_dir("fig3") / f"fig3_{run.preset.name}")


if __name__ == "__main__":
    script_main("fig3", build, __doc__)
