"""Presets of the reproduction: ``paper`` (the full protocol, GPU + data), ``rehearsal`` (the paper
preset's code path on generated data), ``cpu`` (the quick check on digits) and ``cpu-claims``
(digits and a synthetic pool, with the power to decide the paper's qualitative claims).

``paper`` follows the paper's protocol (docs/protocol.md §3) and its Sec. 5 settings: six image
datasets × three backbones on frozen features from the feature cache (``refine extract`` first),
10 seeds, 20 cycles, the ``published`` fidelity profile (:mod:`refine.profiles`).
``rehearsal`` is a dress rehearsal of ``paper``: the same dataset and backbone names, the same
feature-cache and grid code, every artefact, but on tiny datasets generated in the real formats
(:mod:`reproduce.rehearsal_data`) and extracted with random-weight backbones of the real
architectures, with 2 seeds and 1 cycle, so that CI catches any plumbing fault of the first real
run; numbers from ``rehearsal`` mean nothing at all.

``cpu`` (the default, and the preset of the committed ``*_cpu`` outputs) runs the same code path
on scikit-learn's embedded digits dataset only: seeds 1–3, 10 cycles, every grid on digits
(Table 2 with the paper's six levels per parameter), no fidelity profile; minutes on two cores,
a pipeline check whose seed-to-seed noise is larger than most effects. ``cpu-claims`` gives the
claims ledger (``python -m reproduce claims --preset cpu-claims``) its power: the paper's 10 seeds
and 20 cycles on digits, plus a synthetic pool shaped like the paper's hard settings where digits
cannot speak (:data:`SYNTHETIC_SHAPES`: 20 classes with b = K, class imbalance, near-duplicate
and outlying pool instances) in the main grid (Figs. 2–4) and in Fig. 8 (outliers are what
Coreset picks); to fit two cores, its Table 2 runs three levels of each parameter (low, the
centre R = 5, α = 0.4, m = 5 shared by the three sub-tables, high) instead of six. Numbers from
``cpu`` check the pipeline, those from ``cpu-claims`` the qualitative claims; neither gives the
paper's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refine.errors import unknown_choice
from refine.strategies.filtering import DEFAULT_ENSEMBLE

PAPER_DATASETS = ("dopanim", "snacks", "cifar100", "food101", "tiny_imagenet")
#: Every dataset a paper artefact reads: the main grid, Table 2 (CIFAR-10) and Fig. 8 (ESC-50).
ALL_PAPER_DATASETS = (
    "dopanim",
    "snacks",
    "cifar10",
    "cifar100",
    "food101",
    "tiny_imagenet",
    "esc50",
)
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

    def dataset_params(self, features_dir: str | None, extra: dict | None = None) -> dict:
        """Loader parameters: the setting's own, then ``extra`` (weights), then the cache."""
        p = dict(self.params)
        if self.backbone != "raw":
            p.update(extra or {})
            p.update(backbone=self.backbone)
            if features_dir:
                p.update(features_dir=str(features_dir))
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
    #: Figures select the paper's panels (Fig. 3's backbones, Fig. 5(b)'s DINOv3).
    paper_panels: bool = False
    #: Features come from the published weights (False: random weights of the architecture).
    pretrained: bool = True
    #: Extra loader parameters of every feature dataset (e.g. a smaller AL batch b).
    feature_params: tuple = ()
    #: ``python -m theory report --quick`` instead of the full simulations.
    theory_quick: bool = False
    #: Module whose ``prepare(run)`` makes the preset's data and features before any artefact.
    prepare: str | None = None
    #: Table 2 levels per sub-table ("a": R, "b": α, "c": m); None: the paper's six of each.
    table2_levels: dict | None = None
    #: Fidelity profile of every trial (refine/profiles.py); None = the package defaults.
    profile: str | None = None


#: The synthetic pool of the cpu preset (refine/datasets/synthetic_shapes.py): 20 classes with
#: b = K = 20 (the paper's CIFAR-100 / Food101 / Tiny ImageNet have b = K), a 5:1 class
#: imbalance, 20 % near-duplicates of 20 instances and 5 % far outliers with random labels.
SYNTHETIC_SHAPES = Setting(
    "synthetic_shapes",
    params=(
        ("n_train", 2000),
        ("n_test", 1000),
        ("n_classes", 20),
        ("batch_size", 20),
        ("imbalance", 5.0),
        ("redundant", 0.2),
        ("outliers", 0.05),
    ),
)


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
        paper_panels=True,
        profile="published",
    ),
    "rehearsal": Preset(
        name="rehearsal",
        seeds=(1, 2),
        n_cycles=1,
        # Every paper dataset and backbone name at least once, Fig. 3's panels (DINOv3, CLIP)
        # and Fig. 5(b)'s DINOv3 included; one setting where the paper has two of a kind
        # (Table 2, Fig. 6), since filtering queries cost the most.
        main=(
            Setting("dopanim", "dinov3"),
            Setting("food101", "clip"),
            Setting("tiny_imagenet", "dinov2"),
            Setting("snacks", "dinov2"),
        ),
        table2=(Setting("cifar10", "dinov2"),),
        fig5=(Setting("cifar100", "dinov2"), Setting("cifar100", "dinov3")),
        fig6=(Setting("cifar100", "dinov2"),),
        fig8=(Setting("esc50", "eat"),),
        description="the paper preset's code path on generated data with random-weight "
        "backbones, 2 seeds, 1 cycle, b = 3; its numbers mean nothing",
        paper_panels=True,
        pretrained=False,
        feature_params=(("batch_size", 3),),
        theory_quick=True,
        prepare="reproduce.rehearsal_data",
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
        # one filtering thread per trial: the grid already runs WORKERS=2 trials on the 2 cores,
        # and on digits a second thread only adds contention (one query at |L| = 20 on
        # 2026-12-01: 0.95 s serial, 1.45 s with n_jobs=2); results do not depend on n_jobs
        refine_params={"n_jobs": 1},
        description="digits, 3 seeds, 10 cycles: the same code path, minutes on 2 cores",
    ),
    # The power to decide the paper's qualitative claims (python -m reproduce claims): the
    # committed `cpu` outputs stay the quick pipeline check above.
    "cpu-claims": Preset(
        name="cpu-claims",
        seeds=tuple(range(1, 11)),
        n_cycles=20,
        main=(Setting("digits"), SYNTHETIC_SHAPES),
        table2=(Setting("digits"),),
        fig5=(Setting("digits"),),
        fig6=(Setting("digits"),),
        fig8=(Setting("digits"), SYNTHETIC_SHAPES),
        refine_params={"n_jobs": 1},  # as in ``cpu``
        table2_levels={"a": (1, 5, 9), "b": (0.1, 0.4, 0.9), "c": (1, 5, 22)},
        description=(
            "digits and a synthetic 20-class pool with near-duplicates and outliers, 10 seeds, "
            "20 cycles; Table 2 at three levels per parameter"
        ),
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise unknown_choice("preset", name, PRESETS) from None
