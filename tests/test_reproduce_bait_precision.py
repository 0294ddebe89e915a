"""The BAIT precision study: its plan, its summary worked by hand, and its outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reproduce import bait_precision as bp
from reproduce.common import ReproduceRun
from reproduce.presets import get_preset


def test_plan_pairs_both_precisions_on_the_same_seeds_for_bait_and_refine():
    trials = bp.plan(ReproduceRun(get_preset("cpu")))
    assert len(trials) == 2 * 2 * 2 * 10  # settings × strategies × precisions × seeds
    by = {(t.spec.dataset, t.spec.label, t.spec.seed): t for t in trials}
    assert len(by) == len(trials)
    for dataset, b in (("digits", 10), ("synthetic_shapes", 20)):
        for seed in range(1, 11):
            for strategy in ("bait", "refine"):
                f32 = by[(dataset, f"{strategy}@float32", seed)].spec
                f64 = by[(dataset, f"{strategy}@float64", seed)].spec
                assert f32.strategy == f64.strategy == strategy
                assert f32.n_cycles == f64.n_cycles == 20
                assert f32.batch_size == f64.batch_size == b
            assert by[(dataset, "bait@float32", seed)].spec.strategy_params == {
                "precision": "float32"
            }
            refine = by[(dataset, "refine@float64", seed)].spec.strategy_params
            assert refine["filter__strategy_params"] == {"bait": {"precision": "float64"}}
    shapes = {t.dataset_params.get("n_classes") for t in trials if t.spec.dataset != "digits"}
    assert shapes == {20}
    quick = bp.plan(ReproduceRun(get_preset("rehearsal")))
    assert {t.spec.seed for t in quick} == set(get_preset("rehearsal").seeds)
    assert {t.spec.n_cycles for t in quick} == {get_preset("rehearsal").n_cycles}


def test_the_planned_params_reach_the_bait_member_of_refine():
    from refine.strategies import make_strategy

    refine = make_strategy("refine", **bp.strategy_params("refine", "float32"))
    members = refine._check_filter()._validate()
    assert [m.precision for m in members if m.name == "bait"] == ["float32"]
    assert make_strategy("bait", **bp.strategy_params("bait", "float64")).precision == "float64"


def _results(curves: dict[tuple[str, str], list[list[float]]]) -> pd.DataFrame:
    """Tidy results from {(strategy label, dataset): [curve per seed]}."""
    rows = []
    for (name, dataset), per_seed in curves.items():
        for seed, curve in enumerate(per_seed, start=1):
            for cycle, acc in enumerate(curve):
                rows.append(
                    dict(
                        dataset=dataset,
                        backbone="raw",
                        strategy=name,
                        seed=seed,
                        cycle=cycle,
                        accuracy=acc,
                    )
                )
    return pd.DataFrame(rows)


def test_summary_worked_by_hand():
    base = [[0.5, 0.7, 0.9], [0.4, 0.6, 0.8], [0.6, 0.8, 1.0]]  # AULCs 0.7, 0.6, 0.8
    shifted = [[a + 0.03 for a in base[0]], base[1], [a + 0.03 for a in base[2]]]
    df = _results(
        {
            ("bait@float64", "digits"): base,
            ("bait@float32", "digits"): base,  # identical: difference exactly 0
            ("refine@float64", "digits"): base,
            ("refine@float32", "digits"): shifted,  # +0.03, 0, +0.03
        }
    )
    table = bp.summarize(df).set_index("strategy")
    bait, refine = table.loc["bait"], table.loc["refine"]
    assert bait["diff"] == 0.0 and bait["95% lo"] == 0.0 and bait["95% hi"] == 0.0
    assert bait["identical curves"] == 3 and bait["seeds"] == 3
    assert bait["verdict"] == "no detectable difference"
    assert bait["AULC float64"] == pytest.approx(0.7)
    assert bait["seed sd"] == pytest.approx(np.std([0.7, 0.6, 0.8], ddof=1))
    assert refine["diff"] == pytest.approx(0.02)
    # every bootstrap mean of {0.03, 0, 0.03} lies in [0, 0.03]
    assert -1e-12 <= refine["95% lo"] <= 0.02 <= refine["95% hi"] <= 0.03 + 1e-12
    assert refine["identical curves"] == 1
    lines = bp.report_lines(bp.summarize(df))
    assert any("refine on digits: AULC float32 − float64 +0.0200" in line for line in lines)
    # a shift on every seed is detected
    all_shifted = _results(
        {
            ("bait@float64", "digits"): base,
            ("bait@float32", "digits"): [[a + 0.01 for a in c] for c in base],
        }
    )
    assert bp.summarize(all_shifted).iloc[0]["verdict"] == "differs"


def test_build_writes_the_table_from_saved_results(tmp_path, capsys):
    base = [[0.5, 0.7, 0.9], [0.4, 0.6, 0.8]]
    df = _results(
        {(f"{s}@{p}", d): base for s in bp.STRATEGIES for p in bp.PRECISIONS
         for d in ("digits", "synthetic_shapes")}
    )  # fmt: skip
    raw = tmp_path / "bait_precision" / "results_cpu.parquet"
    raw.parent.mkdir()
    df.to_parquet(raw)
    run = ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path)
    paths = bp.build(run)
    md = (tmp_path / "bait_precision" / "bait_precision_cpu.md").read_text()
    assert "20 cycles" in md and "excludes 0" in md
    csv = pd.read_csv(tmp_path / "bait_precision" / "bait_precision_cpu.csv")
    assert len(csv) == 4 and set(csv.verdict) == {"no detectable difference"}
    assert (csv["identical curves"] == 2).all()
    assert "bait on synthetic_shapes: AULC float32 − float64 +0.0000" in capsys.readouterr().out
    assert raw in paths


def test_committed_cpu_outputs_regenerate_from_their_raw_results(tmp_path):
    src = Path(__file__).resolve().parent.parent / "paper_figures" / "bait_precision"
    (tmp_path / "bait_precision").mkdir()
    shutil.copy(src / "results_cpu.parquet", tmp_path / "bait_precision")
    run = ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path, quiet=True)
    bp.build(run)
    for name in ("bait_precision_cpu.md", "bait_precision_cpu.csv"):
        assert (tmp_path / "bait_precision" / name).read_text() == (src / name).read_text()
    assert (
        len(pd.read_parquet(src / "results_cpu.parquet").groupby(["dataset", "strategy", "seed"]))
        == 80
    )
