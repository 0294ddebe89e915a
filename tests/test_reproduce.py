"""The committed cpu-preset outputs in paper_figures/ are regenerable from their raw results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
