"""The dress rehearsal of the paper preset: every artefact from generated data, local and Ray.

``python -m reproduce all --preset rehearsal`` generates tiny stand-ins of every paper dataset in
its real on-disk format, runs ``refine extract`` on each with random-weight backbones of the real
architectures (EAT: a local model folder of the stand-in encoder), and builds every table and
figure through the paper preset's code: the feature cache, the grid on the local engine, the
artefact scripts. Then one artefact's grid runs again on Ray and must give the same results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from refine.datasets import dataset_entry
from refine.features import list_caches, read_cache
from refine.loop import TIMING_COLUMNS
from reproduce.__main__ import main
from reproduce.presets import ALL_PAPER_DATASETS, PAPER_BACKBONES, get_preset
from reproduce.rehearsal_data import N_TRAIN, preset_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "table1": ["table1_rehearsal.md", "table1_rehearsal.csv"],
    "table2": ["table2_rehearsal.md", "table2_rehearsal.csv", "results_rehearsal.parquet"],
    "fig1": ["fig1_rehearsal.png", "fig1_rehearsal.pdf", "fig1_rehearsal.md"],
    "fig2": ["fig2_rehearsal.png", "fig2_rehearsal.md", "win_rates_rehearsal.csv"],
    "fig3": ["fig3_rehearsal.png", "fig3_rehearsal.pdf"],
    "fig4": ["fig4_rehearsal.png", "fig4_rehearsal.md", "win_rates_rehearsal.csv"],
    "fig5": ["fig5a_rehearsal.png", "fig5b_rehearsal.png", "fig5_rehearsal.md"],
    "fig6": ["fig6_rehearsal.png", "results_rehearsal.parquet"],
    "fig8": ["fig8_rehearsal.png", "results_rehearsal.parquet"],
    "appendix": [f"fig{i}_rehearsal.png" for i in range(9, 14)],
    "theory": ["report.md"],
}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    import datasets

    root = tmp_path_factory.mktemp("rehearsal")
    with pytest.MonkeyPatch.context() as mp:
        # the imagefolder/parquet builders' arrow caches stay out of the user's HF cache
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", str(root / "hf_cache"))
        main(["all", "--preset", "rehearsal", "--rehearsal-dir", str(root), "--workers", "2"])
    return root


def test_every_artefact_is_written(rehearsal):
    for artefact, names in EXPECTED.items():
        for name in names:
            path = rehearsal / "figures" / artefact / name
            assert path.is_file() and path.stat().st_size > 0, path
    # the rehearsal never writes into the committed paper_figures/
    assert not list((ROOT / "paper_figures").rglob("*rehearsal*"))


def test_table1_reads_every_paper_dataset_from_the_feature_cache(rehearsal):
    t = pd.read_csv(rehearsal / "figures" / "table1" / "table1_rehearsal.csv")
    assert sorted(t.dataset) == sorted(ALL_PAPER_DATASETS)
    for row in t.itertuples():
        assert row.n_classes == dataset_entry(row.dataset).n_classes  # the real K, not 3
        assert row.batch_size == 3
        # ESC-50: the seeded 80/20 split of all clips
        assert row.n_train == (round(0.8 * (N_TRAIN + 6)) if row.dataset == "esc50" else N_TRAIN)


def test_features_of_every_setting_come_from_the_real_formats(rehearsal):
    caches = list_caches(rehearsal / "features")
    settings = {(st.dataset, st.backbone) for st in preset_settings(get_preset("rehearsal"))}
    assert {(c["dataset"], c["backbone"]) for c in caches} == settings
    assert {b for _, b in settings} == {*PAPER_BACKBONES, "eat"}
    formats, weights = set(), set()
    for c in caches:
        meta = read_cache(rehearsal / "features" / c["file"]).metadata
        formats.add(meta["source"]["format"])
        weights.add(meta["identity"]["weights"].split(":")[0].split("(")[0])
    assert formats == {"save_to_disk", "parquet", "imagefolder"}
    assert weights == {"random-init", "local"}  # images: random weights; EAT: the model folder


def test_grids_cover_every_backbone_and_the_trials_are_complete(rehearsal):
    df = pd.read_parquet(rehearsal / "figures" / "fig2" / "results_rehearsal.parquet")
    preset = get_preset("rehearsal")
    assert set(zip(df.dataset, df.backbone, strict=True)) == {
        (st.dataset, st.backbone) for st in preset.main
    }
    per_trial = df.groupby(["dataset", "backbone", "strategy", "seed"]).size()
    assert (per_trial == preset.n_cycles + 1).all()
    assert len(per_trial) == len(preset.main) * 10 * len(preset.seeds)  # Refine + 9 strategies
    trace = df[(df.strategy == "refine") & (df.cycle == 1)].trace.iloc[0]
    assert len(json.loads(trace)["pool_sizes"]) == 5  # R = 5 rounds, as in the paper preset


def _without_timings(trace: str) -> str:
    if not trace:
        return trace
    t = json.loads(trace)
    t.pop("seconds", None)  # per-strategy wall times of the query: measurements, not results
    return json.dumps(t, sort_keys=True)


def _results(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path).drop(columns=TIMING_COLUMNS)
    df["trace"] = df.trace.map(_without_timings)
    return df.sort_values(["strategy", "seed", "cycle"]).reset_index(drop=True)


def test_rerun_skips_finished_trials(rehearsal):
    runs = rehearsal / "runs" / "rehearsal" / "fig8"
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("*.parquet")}
    assert len(before) == 3 * len(get_preset("rehearsal").seeds)
    main(["fig8", "--preset", "rehearsal", "--rehearsal-dir", str(rehearsal), "--quiet"])
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*.parquet")} == before


def test_ray_engine_gives_the_local_results(rehearsal):
    main(
        ["fig8", "--preset", "rehearsal", "--rehearsal-dir", str(rehearsal), "--quiet"]
        + ["--engine", "ray", "--workers", "2"]
        + ["--runs", str(rehearsal / "ray_runs"), "--figures", str(rehearsal / "ray_figures")]
    )
    local = _results(rehearsal / "figures" / "fig8" / "results_rehearsal.parquet")
    ray = _results(rehearsal / "ray_figures" / "fig8" / "results_rehearsal.parquet")
    assert len(ray) == len(local) > 0
    pd.testing.assert_frame_equal(ray, local)
