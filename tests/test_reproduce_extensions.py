"""Statistics and regeneration of the CVPR-version artefacts (long tail, medical, bad apples,
query size)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reproduce import bad_apples, longtail, medical, query_size
from reproduce.__main__ import ARTEFACTS
from reproduce.common import ReproduceRun
from reproduce.extensions import (
    available,
    paired_differences,
    summary,
    t_interval,
    variant_trials,
)
from reproduce.presets import get_preset

ROOT = Path(__file__).resolve().parent.parent


def _results(aulcs: dict[str, list[float]], balanced: bool = True) -> pd.DataFrame:
    # two cycles per trial with accuracies a − 0.01 and a + 0.01: the AULC is exactly a
    rows = []
    for strategy, per_seed in aulcs.items():
        for seed, a in enumerate(per_seed, start=1):
            for cycle, acc in enumerate((a - 0.01, a + 0.01)):
                row = {"variant": "v", "strategy": strategy, "seed": seed, "cycle": cycle}
                row["n_labeled"] = 10 * (cycle + 1)
                row["accuracy"] = acc
                if balanced:
                    row["balanced_accuracy"] = acc - 0.1
                rows.append(row)
    return pd.DataFrame(rows)


def test_t_interval_by_hand():
    mean, half = t_interval(np.array([1.0, 2.0, 3.0]))
    # s = 1, t_{0.975, 2} = 4.302653: half-width 4.302653/√3
    assert mean == 2.0 and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert np.isnan(t_interval(np.array([5.0]))[1])


def test_summary_and_paired_differences_by_hand():
    df = _results({"random": [0.5, 0.6, 0.7], "refine": [0.6, 0.6, 0.9]})
    s = summary(df).set_index("strategy")
    assert s.loc["refine", "accuracy_aulc"] == pytest.approx(0.7)
    assert s.loc["refine", "accuracy_gain_pct"] == pytest.approx((0.7 / 0.6 - 1) * 100)
    assert s.loc["refine", "balanced_accuracy_aulc"] == pytest.approx(0.6)
    assert s.loc["random", "accuracy_gain_pct"] == pytest.approx(0.0)
    p = paired_differences(df, "refine").iloc[0]
    # per-seed differences 10, 0, 20 pp: mean 10, s = 10, half-width t_{0.975,2}·10/√3
    assert (p.versus, p.seeds) == ("random", 3)
    assert p.accuracy_diff_pp == pytest.approx(10.0)
    assert p.accuracy_ci95_pp == pytest.approx(4.302653 * 10 / np.sqrt(3), rel=1e-6)
    assert p.accuracy_win_rate == pytest.approx(2 / 3)  # the tie on seed 2 is no win
    # without a balanced_accuracy column the tables carry accuracy only
    plain = summary(_results({"random": [0.5, 0.6]}, balanced=False))
    assert not any(c.startswith("balanced") for c in plain.columns)


def test_accuracy_at_common_label_counts():
    df = _results({"random": [0.5, 0.7]}).assign(variant="b = 10")
    t = query_size.at_labels(df, (10, 15, 30)).iloc[0]
    # seed 1 goes 0.49 → 0.51 and seed 2 0.69 → 0.71 between 10 and 20 labels
    assert t["accuracy @ 10"].startswith("59.00")
    assert t["accuracy @ 15"].startswith("60.00")
    assert t["accuracy @ 30"] == "—"  # beyond the runs' last point


def test_strategy_sets_follow_the_published_scripts():
    run = ReproduceRun(get_preset("cpu"))
    names = set(longtail.strategies(run))
    assert {"random", "selectal", "tcm", "tailor", "refine", "uherding"} <= names
    from refine.strategies import available_strategies

    assert ("autoal" in names) == ("autoal" in available_strategies())
    assert available(("random", "no-such-strategy")) == ("random",)
    assert bad_apples.WEAK_ENSEMBLE == (
        "random",
        "dropquery",
        "typiclust",
        "maxherding",
        "uherding",
    )
    paper = [v.extra["imbalance_ratio"] for v in longtail.VARIANTS["paper"]]
    assert sorted(paper) == [10, 10, 50, 50]
    sizes = [
        (v.batch_size, v.n_cycles) for v in query_size.variants(ReproduceRun(get_preset("paper")))
    ]
    assert sizes == [(10, 250), (25, 100), (50, 50), (100, 25)]
    assert {v.setting.dataset for v in medical.VARIANTS["paper"]} == {"bloodmnist", "dermamnist"}


def test_artefacts_have_make_targets():
    make = (ROOT / "Makefile").read_text()
    listed = re.search(r"^ARTEFACTS := (.*)$", make, re.M).group(1).split()
    for name in ("longtail", "medical", "bad_apples", "query_size"):
        assert name in ARTEFACTS and name in listed


@pytest.mark.parametrize("module", [longtail, medical, bad_apples, query_size])
def test_committed_cpu_outputs_regenerate_from_raw_results(tmp_path, module):
    artefact = module.__name__.rsplit(".", 1)[1]
    src = ROOT / "paper_figures" / artefact
    raws = sorted(src.glob("results_*_cpu.parquet"))
    assert raws, f"no committed cpu results for {artefact}: run make reproduce-{artefact}"
    (tmp_path / artefact).mkdir()
    for r in raws:
        shutil.copy(r, tmp_path / artefact / r.name)
    module.build(ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path, quiet=True))
    for name in (f"{artefact}_cpu.md", f"{artefact}_cpu.csv"):
        assert (tmp_path / artefact / name).read_text() == (src / name).read_text(), name
    assert (tmp_path / artefact / f"{artefact}_cpu.png").exists()


def test_a_preset_without_variants_is_skipped_with_a_note(tmp_path, capsys):
    from dataclasses import replace

    run = ReproduceRun(replace(get_preset("cpu"), name="other"), figures=tmp_path)
    for module in (longtail, medical, bad_apples, query_size):
        assert module.build(run) == []  # runs nothing, writes nothing
    assert capsys.readouterr().out.count("no variants for preset 'other'") == 4
    assert not any(tmp_path.iterdir())
    cpu = longtail.variants(ReproduceRun(get_preset("cpu")))
    assert {v.n_cycles for v in cpu} == {get_preset("cpu").n_cycles}  # the cpu preset's cycles


def test_trials_carry_the_variants_b_cycles_subsample_and_loader_parameters():

    run = ReproduceRun(get_preset("cpu"))
    v = query_size.variants(run)[0]
    trials = variant_trials(run, v, query_size.STRATEGIES)
    assert len(trials) == len(run.preset.seeds)
    t = trials[0]
    assert (t.spec.batch_size, t.spec.n_cycles, t.spec.subsample) == (5, 50, None)
    # the dataset is loaded with the same b as the trials use
    from refine.datasets import load_dataset

    assert load_dataset(t.spec.dataset, **t.dataset_params).batch_size == 5
    lt = variant_trials(
        ReproduceRun(get_preset("paper")),
        longtail.VARIANTS["paper"][-1],
        {"random": ("random", {})},
    )[0]
    assert lt.dataset_params["imbalance_ratio"] == 50 and lt.dataset_params["pool_fraction"] == 0.9
    assert (lt.spec.dataset, lt.spec.batch_size, lt.spec.subsample) == ("cifar100", 100, 2500)
