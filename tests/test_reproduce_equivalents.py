"""Trials that compute the same thing under different names run once (reproduce/equivalents.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from refine.grid import GridTrial, finished_record, run_grid
from refine.head import HeadConfig
from refine.io import read_parquet_with_metadata, write_parquet_atomic
from refine.loop import TIMING_COLUMNS, TrialSpec
from refine.results import load_results
from reproduce.equivalents import Computations, computation_key, shared_keys

HEAD = HeadConfig(epochs=5)


def trial(strategy="margin", label=None, params=None, seed=1, data=None, **kw) -> GridTrial:
    spec = TrialSpec(
        dataset="digits",
        backbone="raw",
        strategy=strategy,
        seed=seed,
        n_cycles=2,
        batch_size=10,
        strategy_params=dict(params or {}),
        head=HEAD,
        label=label,
        **kw,
    )
    return GridTrial(spec, dict(data or {}))


def test_the_key_ignores_names_records_and_spelled_out_defaults():
    base = computation_key(trial("uherding"))
    assert base is not None
    # a label, the profile record, n_jobs and a default written out change nothing
    assert computation_key(trial("uherding", label="herding_gain@corrected")) == base
    assert computation_key(trial("uherding", profile="published")) == base
    assert computation_key(trial("uherding", params={"gain": "paper"})) == base
    # ... a value that is not the default does, and so do the seed, the data and the cycles
    assert computation_key(trial("uherding", params={"gain": "published"})) != base
    assert computation_key(trial("uherding", seed=2)) != base
    assert computation_key(trial("uherding", data={"n_train": 500})) != base
    assert computation_key(trial("margin")) != base
    t = trial("uherding")
    assert computation_key(GridTrial(replace(t.spec, n_cycles=3), {})) != base
    # Refine and the filtered final strategy are one computation (Refine.computation)
    refine = computation_key(trial("refine", params={"n_jobs": 1}))
    assert refine == computation_key(trial("filtered:uherding", label="uherding+filter"))
    assert refine != computation_key(trial("refine", params={"rounds": 3}))


def test_a_strategy_the_registry_cannot_build_is_never_shared():
    assert computation_key(trial("no-such-strategy")) is None
    groups = shared_keys([trial("no-such-strategy"), trial("no-such-strategy", label="x")])
    assert groups == {}
    assert len(shared_keys([trial("margin"), trial("margin", label="m2")])) == 1


def _rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[*TIMING_COLUMNS, "strategy"]).reset_index(drop=True)


def test_a_finished_computation_is_copied_to_its_equivalent_in_another_folder(tmp_path):
    root = tmp_path / "cpu"
    lender = trial("uherding")
    borrower = trial("uherding", label="herding_gain@corrected", params={"gain": "paper"})
    comp = Computations(root)
    # nothing known yet: the lender runs, then is indexed
    [(todo, _)], adopted = comp.share([([lender], root / "main")])
    assert todo == [lender] and adopted == 0
    run_grid([lender], root / "main")
    assert comp.record([([lender], root / "main")]) == 0
    # the equivalent trial of another folder gets a copy under its own name, without running
    [(to_run, _)], adopted = comp.share([([borrower], root / "divergences")])
    assert adopted == 1 and to_run == [borrower]
    assert finished_record(borrower, str(root / "divergences")) is not None
    df, meta = read_parquet_with_metadata(borrower.spec.result_path(root / "divergences"))
    assert set(df.strategy) == {"herding_gain@corrected"}
    assert meta["adopted_from"] == "main/digits/raw/uherding/seed1.parquet"
    assert meta["spec"]["label"] == "herding_gain@corrected"
    # its rows are those of running it there (timings aside)
    run_grid([borrower], tmp_path / "alone")
    np.testing.assert_equal(
        _rows(load_results(root / "divergences")).to_dict("list"),
        _rows(load_results(tmp_path / "alone")).to_dict("list"),
    )
    # a trial that computes something else is not adopted
    other = trial("uherding", label="herding_gain@published", params={"gain": "published"})
    [(to_run, _)], adopted = comp.share([([other], root / "divergences")])
    assert adopted == 0 and finished_record(other, str(root / "divergences")) is None


def test_equivalent_pending_trials_of_one_pool_run_once(tmp_path):
    root = tmp_path / "cpu"
    a = trial("refine", params={"n_jobs": 1, "draws_per_strategy": 1, "rounds": 1})
    b = trial(
        "filtered:uherding",
        label="uherding+filter",
        params={"draws_per_strategy": 1, "rounds": 1},
    )
    c = trial("margin")
    comp = Computations(root)
    grids = [([a, c], root / "main"), ([b], root / "fig5")]
    to_run, adopted = comp.share(grids)
    assert adopted == 0 and to_run == [([a, c], root / "main"), ([], root / "fig5")]
    for ts, out in to_run:
        run_grid(ts, out)
    assert comp.record(grids) == 1
    rec = finished_record(b, str(root / "fig5"))
    assert rec is not None
    np.testing.assert_equal(
        _rows(load_results(root / "fig5")).to_dict("list"),
        _rows(load_results(root / "main").query("strategy == 'refine'")).to_dict("list"),
    )


def test_a_replaced_or_unfinished_lender_is_not_used(tmp_path):
    root = tmp_path / "cpu"
    lender = trial("margin")
    run_grid([lender], root / "main")
    comp = Computations(root)
    comp.record([([lender], root / "main")])
    path = lender.spec.result_path(root / "main")
    df, meta = read_parquet_with_metadata(path)
    # another run wrote a different trial into that file: its rows are not this computation's
    meta["spec"] = {**meta["spec"], "seed": 7}
    write_parquet_atomic(path, df, meta)
    borrower = trial("margin", label="m2")
    [(_, _)], adopted = comp.share([([borrower], root / "other")])
    assert adopted == 0
    # an unfinished lender neither
    meta["spec"] = lender.spec.to_dict()
    meta["complete"] = False
    write_parquet_atomic(path, df, meta)
    [(_, _)], adopted = comp.share([([borrower], root / "other")])
    assert adopted == 0


@pytest.mark.parametrize("broken", ["{not json", ""])
def test_a_damaged_index_is_an_empty_one(tmp_path, broken):
    root = tmp_path / "cpu"
    root.mkdir()
    (root / "computations.json").write_text(broken)
    comp = Computations(root)
    [(to_run, _)], adopted = comp.share([([trial("margin")], root / "main")])
    assert adopted == 0 and len(to_run) == 1


def test_the_cpu_claims_plan_shares_one_side_of_every_divergence_and_fig5s_singles(tmp_path):
    """What `reproduce all --preset cpu-claims` saves: the package-default side of each
    divergences row is a trial of the main grid, and so are Fig. 5's single strategies and its
    filtered UHerding (Refine)."""
    from reproduce import divergences
    from reproduce.common import ReproduceRun
    from reproduce.grids import ensemble_trials, filtered_trials, main_trials
    from reproduce.presets import FIG5_STRATEGIES, get_preset

    run = ReproduceRun(preset=get_preset("cpu-claims"), runs=tmp_path, figures=tmp_path)
    main = {computation_key(t) for t in main_trials(run) + ensemble_trials(run)}
    planned, _ = divergences.plan(run)
    rows = {t.spec.name.rsplit("@", 1)[0] for t in planned}
    assert {"final_uherding_temperature", "herding_gain", "selectal_schedule"} <= rows
    for row in rows - {"filter_variant", "pool_fraction"}:  # not main-grid strategies
        sides = [
            side
            for side in ("published", "corrected")
            if all(computation_key(t) in main for t in planned if t.spec.name == f"{row}@{side}")
        ]
        assert len(sides) == 1, row
    fig5 = filtered_trials(run, ("random", *FIG5_STRATEGIES), run.preset.fig5)
    fig5_main = {t.spec.name for t in fig5 if computation_key(t) in main}
    assert fig5_main == {"random", *FIG5_STRATEGIES, "uherding+filter"} & {
        t.spec.name for t in fig5
    }
