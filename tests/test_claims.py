"""The claims ledger: the verdict rule by hand, and a ledger on constructed results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from refine.loop import result_relpath
from refine.strategies import make_strategy
from reproduce import claims, table2
from reproduce.common import ReproduceRun
from reproduce.presets import FIG5_STRATEGIES, SINGLE_STRATEGIES, get_preset
from tests.conftest import make_context


def test_verdict_rule_by_hand():
    assert claims.verdict(0.1, 0.5) == "supported"
    assert claims.verdict(-0.5, -0.1) == "contradicted"
    assert claims.verdict(-0.1, 0.1) == "inconclusive"
    assert claims.verdict(0.0, 0.3) == "inconclusive"  # touching θ is not excluding it
    assert claims.verdict(0.55, 0.9, threshold=0.5) == "supported"
    assert claims.verdict(-0.9, -0.2, sign=-1) == "supported"
    assert claims.verdict(0.2, 0.9, sign=-1) == "contradicted"
    assert claims.verdict(float("nan"), 1.0) == "not run"
    assert claims._combine(["supported", "supported"]) == "supported"
    assert claims._combine(["supported", "inconclusive"]) == "inconclusive"
    assert claims._combine(["inconclusive", "contradicted"]) == "contradicted"


def fake(offsets: dict, datasets=("digits",), seeds=range(1, 11), n_cycles=20, noise=0.004):
    """Per-cycle results where strategy s has accuracy 0.7 + offsets[s] + seeded noise."""
    g = np.random.default_rng(0)
    rows = []
    for ds in datasets:
        for seed in seeds:
            shared = g.normal(0, 0.02)  # the seed's pool draw moves every strategy alike
            for s, off in offsets.items():
                for c in range(n_cycles + 1):
                    acc = 0.7 + shared + (off if c else 0.0) + g.normal(0, noise)
                    rows.append(
                        dict(
                            dataset=ds,
                            backbone="raw",
                            strategy=s,
                            seed=seed,
                            cycle=c,
                            n_labeled=10 * (c + 1),
                            accuracy=acc,
                        )
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    preset = get_preset("cpu-claims")
    run = ReproduceRun(preset=preset, figures=tmp_path_factory.mktemp("fig"), quiet=True)
    cfgs = table2.configs(preset)
    t2 = {"random": 0.0}
    gain = {("a", 1): 0.010, ("a", 9): 0.032, ("b", 0.1): 0.010, ("b", 0.9): 0.030}
    for (sub, v), p in cfgs.items():
        t2[table2.label(p)] = gain.get((sub, v), 0.030)  # the centre (R 5, α .4, m 5): 0.03
    main = {s: 0.0 for s in SINGLE_STRATEGIES} | {"refine": 0.05, "bait": 0.01}
    ens = {"random": 0.0, "refine": 0.05, "selectal": 0.0, "tcm": 0.06, "tailor": 0.0}
    fig5 = {"random": 0.0, "random+filter": 0.02}
    for s in FIG5_STRATEGIES:
        fig5[s] = 0.01
        fig5[f"{s}+filter"] = 0.015
    fig5["bait"], fig5["bait+filter"] = -0.02, -0.01
    grids = {
        "main": fake(main, datasets=("digits", "synthetic_shapes")),
        "ensembles": fake(ens),
        "autoal": None,
        "fig6": None,
        "fig8": fake({"random": 0.0, "coreset": -0.02, "coreset+filter": 0.01}),
        "table2": fake(t2),
        "fig5": fake(fig5),
    }
    return claims.ledger(run, grids).set_index("id")


def test_ledger_rows_follow_the_constructed_truth(table):
    v = table["verdict"]
    # Table 2: gains 1 → 3 → 3.2 % over R: rising (supported) and saturating (supported)
    assert v["T2a-1"] == "supported" and v["T2a-2"] == "supported"
    assert v["T2b-1"] == "supported" and v["T2b-2"] == "supported"
    # m: 3 % at every level: no trend; the row reports the seeds a test would need
    assert v["T2c-1"] == "inconclusive"
    assert table.loc["T2c-1", "seeds_needed"] > 10
    # Refine +5 pp on every seed: highest win rate, 20/20 wins against BAIT and UHerding
    assert v["F2-1"] == "supported" and v["F2-2"] == "supported" and v["F2-3"] == "supported"
    assert table.loc["F2-2", "ours"] == 100 and table.loc["F2-2", "n_seeds"] == 20
    assert v["F4-1"] == "supported" and v["F4-2"] == "contradicted"  # TCM is 1 pp better
    assert v["F4-4"] == "not run"  # no strategy named autoal registered
    # filtering: +0.5 pp for every strategy but +2 pp for Random; BAIT stays below Random
    assert v["F5-1"] == "supported"
    assert v["F5-3"] == "supported" and v["F5-4"] == "contradicted"
    assert v["F6-1"] == "not run"
    assert (v[["F8-1", "F8-2", "F8-3"]] == "supported").all()
    assert table.loc["F8-2", "ours"] == pytest.approx(3.0, abs=0.3)  # +3 pp AULC
    assert table.loc["TH", "verdict"].startswith("not empirical")


def test_ledger_markdown_carries_the_rule_and_the_closing_note(table):
    run = ReproduceRun(preset=get_preset("cpu-claims"), quiet=True)
    md = claims._markdown(table.reset_index(), run, partial=False)
    assert md.startswith(claims.VERDICT_RULE)
    assert "## Closing note" in md and "Inconclusive at this power: T2c-1" in md


def test_committed_cpu_claims_ledger_regenerates_from_its_raw_results(tmp_path):
    """paper_figures/claims/claims_cpu-claims.{md,csv} come from the committed slim raw tables
    (``--from-results``): the same verdicts, intervals and text, byte for byte."""
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "paper_figures" / "claims"
    (tmp_path / "claims").mkdir()
    for raw in src.glob("raw_*_cpu-claims.parquet"):
        shutil.copy(raw, tmp_path / "claims" / raw.name)
    assert len(list((tmp_path / "claims").iterdir())) == 7  # main, ensembles, autoal, 4 figures
    run = ReproduceRun(
        preset=get_preset("cpu-claims"), from_results=True, figures=tmp_path, quiet=True
    )
    claims.build(run)
    for name in ("claims_cpu-claims.md", "claims_cpu-claims.csv"):
        assert (tmp_path / "claims" / name).read_text() == (src / name).read_text(), name
    assert "not run" not in (src / "claims_cpu-claims.csv").read_text()  # every claim decided


def test_f5_every_strategy_reports_the_seeds_of_its_hardest_unresolved_part():
    """An inconclusive "filtering improves every strategy" row needs every part resolved: a part
    whose filtered runs equal its unfiltered ones can never be (∞, named), a noisy small gain
    needs a finite number of seeds at the row's Bonferroni level."""
    fig5 = {"random": 0.0, "random+filter": 0.02}
    for s in FIG5_STRATEGIES:
        fig5[s], fig5[f"{s}+filter"] = 0.01, 0.02
    df = fake(fig5)
    same = df[df.strategy == "margin"].assign(strategy="margin+filter")
    df = pd.concat([df[df.strategy != "margin+filter"], same], ignore_index=True)
    noisy = df.strategy == "badge+filter"
    g = np.random.default_rng(3)
    df.loc[noisy, "accuracy"] -= 0.0095 - g.normal(0, 0.004, noisy.sum())  # ≈ +0.05 pp
    rows = {r["id"]: r for r in claims.fig5_claims(df, np.random.default_rng(0))}
    f51 = rows["F5-1"]
    assert f51["verdict"] == "inconclusive"
    assert f51["seeds_needed"] == float("inf")
    assert "margin ∞ (identical runs)" in f51["test"] and "badge ≈ " in f51["test"]
    badge = int(f51["test"].split("badge ≈ ")[1].split(",")[0].split(" ")[0])
    assert 10 < badge < 10**7
    assert "random" not in f51["test"].split("unresolved part: ")[1]  # random is resolved


# ---------------------------------------------------------------- trials shared between grids
def test_single_strategies_of_the_figures_are_the_main_grids_trials():
    """Figs. 5, 6, 8 and Table 2 plan single-strategy trials identical to the main grid's."""
    run = ReproduceRun(get_preset("cpu-claims"))
    specs = {name: spec for name, spec in claims.grid_specs(run).items() if spec is not None}
    main = {claims._trial_key(t) for t in specs["main"][1]}
    shared = {
        name: sum(claims._trial_key(t) in main for t in trials)
        for name, (_, trials) in specs.items()
        if name != "main"
    }
    # fig5 on digits: random + the five strategies, and uherding+filter (= Refine); fig6:
    # margin, typiclust, random; fig8 on digits and synthetic_shapes: random; table2: random
    # — 10 seeds each
    assert shared["fig5"] == 70 and shared["fig6"] == 30
    assert shared["fig8"] == 20 and shared["table2"] == 10
    refine_keys = {claims._trial_key(t) for t in specs["main"][1] if t.spec.name == "refine"}
    fig5_uherding = [t for t in specs["fig5"][1] if t.spec.name == "uherding+filter"]
    assert len(fig5_uherding) == 10
    assert {claims._trial_key(t) for t in fig5_uherding} <= refine_keys
    # the other filtered trials are their own: another final strategy, ensemble or parameters
    others = [t for name in ("fig5", "fig6", "fig8", "table2") for t in specs[name][1]]
    others = [t for t in others if "filter" in t.spec.name and t not in fig5_uherding]
    assert len(others) == 5 * 10 + 2 * 10 + 2 * 10 + 7 * 10
    assert not any(claims._trial_key(t) in main for t in others)


def test_refine_and_filtered_final_strategy_are_one_computation():
    """Refine(final=X) and filtered:X with equal filters give the same batches; the ledger's
    key says so, and tells them apart as soon as any parameter that matters differs."""
    ctx, cand = make_context(seed=21)
    small = dict(rounds=2, draws_per_strategy=2, strategies=["random", "margin", "badge"])
    pairs = [
        (make_strategy("refine", **small), make_strategy("filtered:uherding", **small)),
        (
            make_strategy("refine", final="margin", **small),
            make_strategy("filtered:margin", **small, n_jobs=2),  # n_jobs changes nothing
        ),
    ]
    for a, b in pairs:
        assert a.computation() == b.computation()
        for seed in range(3):
            batch_a = a.select(ctx, cand, 5, np.random.default_rng(seed))
            batch_b = b.select(ctx, cand, 5, np.random.default_rng(seed))
            np.testing.assert_array_equal(batch_a, batch_b)
    ref = make_strategy("refine", **small).computation()
    for other in (
        make_strategy("filtered:margin", **small),
        make_strategy("filtered:uherding", **{**small, "rounds": 3}),
        make_strategy("filtered:uherding", **small, strategy_kwargs={"uncertainty": "entropy"}),
        make_strategy("refine", **{**small, "strategies": ["random", "margin"]}),
    ):
        assert other.computation() != ref


@pytest.mark.parametrize("preset", ["cpu-claims", "rehearsal"])  # rehearsal: two backbones
def test_load_grids_runs_a_shared_trial_once_and_keeps_the_row_order(tmp_path, monkeypatch, preset):
    run = ReproduceRun(get_preset(preset), runs=tmp_path / "runs", figures=tmp_path)
    specs = claims.grid_specs(run)
    ran: dict[str, list] = {}

    def rows_of(trials):
        return pd.DataFrame(
            [
                dict(dataset=t.spec.dataset, backbone=t.spec.backbone, strategy=t.spec.name,
                     seed=t.spec.seed, cycle=c, n_labeled=10 * (c + 1), accuracy=0.5)
                for t in trials
                for c in range(run.preset.n_cycles + 1)
            ]
        )  # fmt: skip

    def fake_run_or_load(run_, artefact, grid, trials, raw_name="results"):
        ran.setdefault(grid, []).extend(t.key() for t in trials)
        return rows_of(trials)

    def fake_finished(run_, grid, trials):
        assert all(t.key() in ran[grid] for t in trials)  # only trials that grid ran
        return rows_of(trials)

    pooled: list = []

    def fake_run_all(run_, grids):
        pooled.extend((grid, t.key()) for grid, trials in grids for t in trials)

    monkeypatch.setattr(claims, "run_or_load", fake_run_or_load)
    monkeypatch.setattr(claims, "_finished", fake_finished)
    monkeypatch.setattr(claims, "run_all", fake_run_all)
    out = claims.load_grids(run)
    # the one pool got exactly the trials each grid then found finished, before any raw table
    assert sorted(pooled) == sorted((g, k) for g, keys in ran.items() for k in keys)
    everything = [k for keys in ran.values() for k in keys]
    main_keys = {t.key() for t in specs["main"][1]}
    # every trial ran exactly in the folder of the first grid that planned it, under the name
    # it has there
    first: dict[str, tuple] = {}
    for spec in specs.values():
        for t in spec[1] if spec else []:
            first.setdefault(claims._trial_key(t), (spec[0], t))
    for spec in specs.values():
        for t in spec[1] if spec else []:
            grid, lender = first[claims._trial_key(t)]
            assert lender.key() in ran[grid]
            if spec[0] != grid:
                assert t.key() not in ran.get(spec[0], [])
    if preset == "cpu-claims":
        # its singles and its filtered UHerding (the main grid's Refine) were not rerun
        assert len(ran["fig5"]) == len(specs["fig5"][1]) - 70
    for name, spec in specs.items():
        if spec is None:
            continue
        df = out[name]
        assert df.groupby(["dataset", "backbone", "strategy", "seed"]).ngroups == len(spec[1])
        # the order load_results gives one folder: by result path, then cycle
        expected = sorted(t.spec.result_path(".") for t in spec[1])
        got = list(dict.fromkeys(
            result_relpath(d, b, s, n)
            for d, b, s, n in zip(df.dataset, df.backbone, df.strategy, df.seed, strict=True)
        ))  # fmt: skip
        assert got == [Path(p) for p in expected]
    for folder in ("fig5", "fig6", "fig8", "table2"):  # none reran a main-grid trial
        assert not main_keys & set(ran.get(folder, []))
    assert len(everything) > len(set(everything))  # ensembles' Refine and Random: main's files
