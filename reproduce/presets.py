"""Presets of the reproduction: ``paper`` (the full protocol, GPU + data) and ``cpu`` (digits).

``paper`` follows refine.md §3/§6: six image datasets × three backbones on frozen features from
the feature cache (``refine extract`` first), 10 seeds, 20 cycles, the published Refine defaults.
``cpu`` runs the same code path on scikit-learn's embedded digits dataset (and a synthetic
30-class pool where a figure needs more classes), sized to finish in minutes on 2 cores: fewer
seeds and cycles, nothing else changed. Numbers from ``cpu`` check the pipeline and the
qualitative claims, not the paper's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refine.strategies.filtering import DEFAULT_ENSEMBLE
from refine.errors import unknown_choice

PAPER_DATASETS = ("dopanim", "snacks", "cifar100", "food101", "tiny_imagenet")
PAPER_BACKBONES = ("dinov2", "dinov3", "clip")
SINGLE_STRATEGIES = DEFAULT_ENSEMBLE  # the nine single strategies = Refine's ensemble
ENSEMBLES = ("selectal", "tcm", "tailor")
#: Fig. 5(a)'s "five state-of-the-art strategies" are not named in the text; ALFA-Mix, BAIT and
#: UHerding are named in its discussion, Margin and BADGE complete the set (our choice).
FIG5_STRATEGIES = ("margin", "badge", "bait", "alfamix", "uherding")


@dataclass(frozen=True)
class Setting:
    """One (dataset, backbone) with its loader parameters."""

    dataset: str
    backbone: str = "raw"
    params: tuple = ()

    def dataset_params(self, features_dir: str | None) -> dict:
        p = dict(self.params)
        if self.backbone != "raw":
            p.update(backbone=self.backbone)
            if features_dir:
                p.update(features_dir=features_dir)
        return p


@dataclass(frozen=True)
class Preset:
    name: str
    seeds: tuple[int, ...]
    n_cycles: int
    main: tuple[Setting, ...]  # Figs. 2, 3, 4, appendix
    table2: tuple[Setting, ...]  # Table 2: CIFAR-10 and Snacks with DINOv2
    fig5: tuple[Setting, ...]  # CIFAR-100, DINOv2 and DINOv3
    fig6: tuple[Setting, ...]  # two backbones
    fig8: tuple[Setting, ...]  # ESC-50 with EAT
    refine_params: dict = field(default_factory=dict)
    description: str = ""
    #: Fidelity profile of every trial (refine/profiles.py); None = the package defaults.
    profile: str | None = None


PRESETS = {
    "paper": Preset(
        name="paper",
        seeds=tuple(range(1, 11)),
        n_cycles=20,
        main=tuple(Setting(d, b) for b in PAPER_BACKBONES for d in PAPER_DATASETS),
        table2=(Setting("cifar10", "dinov2"), Setting("snacks", "dinov2")),
        fig5=(Setting("cifar100", "dinov2"), Setting("cifar100", "dinov3")),
        fig6=(Setting("cifar100", "dinov2"), Setting("cifar100", "dinov3")),
        fig8=(Setting("esc50", "eat"),),
        description="the paper's protocol: 10 seeds, 20 cycles, image datasets × backbones",
        profile="published",
    ),
    "cpu": Preset(
        name="cpu",
        seeds=(1, 2, 3),
        n_cycles=10,
        main=(Setting("digits"),),
        table2=(Setting("digits"),),
        fig5=(Setting("digits"),),
        fig6=(Setting("digits"),),
        fig8=(Setting("digits"),),
        refine_params={"n_jobs": 2},
        description="digits, 3 seeds, 10 cycles: the same code path, minutes on 2 cores",
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise unknown_choice("preset", name, PRESETS) from None
