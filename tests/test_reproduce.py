"""The committed cpu-preset outputs in paper_figures/ are regenerable from their raw results."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from refine.grid import GridTrial
from refine.loop import TrialSpec
from reproduce import fig2, table2
from reproduce.common import ReproduceRun
from reproduce.presets import get_preset
from reproduce.table2 import configs

ROOT = Path(__file__).resolve().parent.parent / "paper_figures"


@pytest.mark.parametrize(
    "module,artefact,outputs",
    [
        (table2, "table2", ["table2_cpu.md", "table2_cpu.csv"]),
        (fig2, "fig2", ["fig2_cpu.md", "win_rates_cpu.csv"]),
    ],
)
def test_committed_outputs_regenerate_from_raw_results(tmp_path, module, artefact, outputs):
    src = ROOT / artefact
    (tmp_path / artefact).mkdir()
    shutil.copy(src / "results_cpu.parquet", tmp_path / artefact / "results_cpu.parquet")
    run = ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path, quiet=True)
    module.build(run)
    for name in outputs:
        assert (tmp_path / artefact / name).read_text() == (src / name).read_text(), name
    assert (tmp_path / artefact / f"{artefact}_cpu.png").exists() or artefact == "table2"


def test_table2_grid_covers_the_papers_settings():
    cfgs = configs()
    assert len(cfgs) == 18  # 3 sub-tables × 6 values
    assert cfgs[("a", 9)] == {"rounds": 9, "sample_ratio": 0.4, "draws_per_strategy": 5}
    assert cfgs[("b", 0.7)] == {"rounds": 5, "sample_ratio": 0.7, "draws_per_strategy": 5}
    assert cfgs[("c", 22)] == {"rounds": 5, "sample_ratio": 0.4, "draws_per_strategy": 22}
    # (a) R = 5 and (c) m = 5 are one configuration: 17 distinct filtered runs
    assert len({tuple(sorted(p.items())) for p in cfgs.values()}) == 17


def _profile_results(pub: list[float], cor: list[float]) -> pd.DataFrame:
    """Tidy results whose per-trial AULCs are ``pub`` / ``cor`` (constant curves, 3 points)."""
    rows = []
    for profile, values in (("published", pub), ("corrected", cor)):
        for seed, v in enumerate(values, start=1):
            for cycle in range(3):
                rows.append(
                    dict(
                        dataset="digits",
                        backbone="raw",
                        strategy=f"refine@{profile}",
                        seed=seed,
                        cycle=cycle,
                        accuracy=v,
                    )
                )
    return pd.DataFrame(rows)


def test_refine_profiles_plans_both_profiles_on_the_same_seeds():
    from reproduce.refine_profiles import plan

    trials = plan(ReproduceRun(get_preset("cpu")))
    by = {(t.spec.profile, t.spec.seed): t for t in trials}
    assert len(by) == len(trials) == 20
    assert {s for _, s in by} == set(range(1, 11))
    for seed in range(1, 11):
        pub, cor = by[("published", seed)], by[("corrected", seed)]
        assert pub.spec.n_cycles == cor.spec.n_cycles == 20
        assert pub.spec.batch_size == cor.spec.batch_size == 10
        assert pub.spec.strategy == cor.spec.strategy == "refine"
        assert pub.spec.strategy_params["final_params"]["gain"] == "published"
        assert cor.spec.strategy_params["final_params"]["gain"] == "paper"
        assert pub.dataset_params == {"pool_fraction": 0.9}
        assert cor.dataset_params == {"pool_fraction": 1.0}
    quick = plan(ReproduceRun(get_preset("rehearsal")))  # other presets: their seeds and cycles
    assert {t.spec.seed for t in quick} == set(get_preset("rehearsal").seeds)
    assert {t.spec.n_cycles for t in quick} == {get_preset("rehearsal").n_cycles}


def test_refine_profiles_summary_by_hand():
    from reproduce.refine_profiles import report_lines, summarize

    pub = [0.90, 0.89, 0.88, 0.91, 0.90]
    cor = [0.88, 0.88, 0.87, 0.89, 0.89]  # differences 0.02, 0.01, 0.01, 0.02, 0.01
    table, diff = summarize(_profile_results(pub, cor))
    t = table.set_index("profile")
    assert t.loc["published", "AULC"] == pytest.approx(np.mean(pub))
    assert t.loc["corrected", "AULC"] == pytest.approx(np.mean(cor))
    assert t.loc["published", "seeds 1–3 mean"] == pytest.approx(0.89)
    assert t.loc["published", "seeds 1–3 std"] == pytest.approx(np.std([0.90, 0.89, 0.88]))
    for p in ("published", "corrected"):
        assert t.loc[p, "95% lo"] < t.loc[p, "AULC"] < t.loc[p, "95% hi"]
    assert diff["diff"] == pytest.approx(0.014)
    # every paired difference lies in [0.01, 0.02]: so does every bootstrap mean
    assert 0.01 - 1e-12 <= diff["low"] < 0.014 < diff["high"] <= 0.02 + 1e-12
    assert diff["verdict"] == "differs" and diff["n_seeds"] == 5
    text = "\n".join(report_lines(table, diff))
    assert "+0.0140" in text and "0.892 ± 0.002" in text
    _, same = summarize(
        _profile_results(pub, [v + d for v, d in zip(pub, [0.01, -0.01] * 2 + [0.0], strict=True)])
    )
    assert same["verdict"] == "no detectable difference"


def test_the_presets_docs_describe_the_presets_the_code_has():
    """REPRODUCING.md's and presets.py's words for cpu and cpu-claims match the presets."""
    from reproduce import presets

    cpu, claims = get_preset("cpu"), get_preset("cpu-claims")
    assert (cpu.seeds, cpu.n_cycles) == ((1, 2, 3), 10)
    assert {s.dataset for s in cpu.main + cpu.fig8} == {"digits"}
    assert (claims.seeds, claims.n_cycles) == (tuple(range(1, 11)), 20)
    assert "synthetic_shapes" in {s.dataset for s in claims.main + claims.fig8}
    doc = (ROOT.parent / "REPRODUCING.md").read_text()
    section = " ".join(doc[doc.index("## Presets") : doc.index("- **`rehearsal`**")].split())
    cpu_part = section[section.index("**`cpu`**") : section.index("**`cpu-claims`**")]
    claims_part = section[section.index("**`cpu-claims`**") :]
    assert "seeds 1–3, 10 cycles" in cpu_part and "synthetic_shapes" not in cpu_part
    assert "10 seeds and 20 cycles" in claims_part and "synthetic_shapes" in claims_part
    module = " ".join(presets.__doc__.split())
    assert "on scikit-learn's embedded digits dataset only: seeds 1–3, 10 cycles" in module
    assert "``cpu-claims`` gives the claims ledger" in module


def test_refine_profiles_build_writes_the_table_from_saved_results(tmp_path, capsys):
    from reproduce import refine_profiles

    raw = tmp_path / "refine_profiles" / "results_cpu.parquet"
    raw.parent.mkdir()
    _profile_results([0.90, 0.89, 0.88], [0.88, 0.88, 0.87]).to_parquet(raw)
    run = ReproduceRun(get_preset("cpu"), from_results=True, figures=tmp_path)
    paths = refine_profiles.build(run)
    md = (tmp_path / "refine_profiles" / "refine_profiles_cpu.md").read_text()
    assert "published 90 % of the training split, corrected 100 %" in md
    assert "b = 10, 20 cycles" in md and "+0.0133" in md
    csv = pd.read_csv(tmp_path / "refine_profiles" / "refine_profiles_cpu.csv")
    assert list(csv.profile) == ["published", "corrected"]
    assert csv["diff diff"].iloc[0] == pytest.approx(0.04 / 3)
    assert "paired difference published − corrected: +0.0133" in capsys.readouterr().out
    assert raw in paths


def test_all_leaves_out_the_on_demand_artefacts(monkeypatch):
    import reproduce.__main__ as cli

    seen = {}
    monkeypatch.setattr(cli, "run_artefacts", lambda run, names, builders: seen.update(n=names))
    cli.main(["all", "--preset", "cpu", "--device", "cpu"])
    assert "refine_profiles" not in seen["n"] and "divergences" in seen["n"]
    assert len(seen["n"]) == len(cli.ARTEFACTS) - len(cli.ON_DEMAND)
    cli.main(["refine_profiles", "--preset", "cpu", "--device", "cpu"])
    assert seen["n"] == ["refine_profiles"]


def test_trial_cost_orders_the_claims_trials_by_their_work():
    """Filtered trials cost rounds × draws × members per cycle; the others their measured
    multiples of one draw (only the order in which trials start depends on it)."""
    from reproduce.common import trial_cost

    def cost(strategy, n_cycles=20, **params):
        spec = TrialSpec("digits", "raw", strategy, 1, n_cycles=n_cycles, strategy_params=params)
        return trial_cost(GridTrial(spec))

    assert cost("refine") == 5 * 11 * 9 * 20  # the published defaults, nine members
    assert cost("filtered:random", rounds=9, draws_per_strategy=5) == 9 * 5 * 9 * 20
    assert cost("refine", strategies="margin,typiclust") == 5 * 11 * 2 * 20
    assert cost("refine", n_cycles=10) == cost("refine") / 2
    assert cost("autoal") > cost("refine") > cost("selectal") > cost("margin") == cost("random")
