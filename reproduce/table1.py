"""Table 1: the datasets (sizes, classes, batch size b), from the dataset registry.

Every (dataset, backbone) setting of the preset is read from the feature cache, so Table 1 is
also the check that all features are there: a missing one stops it with one line naming the
`refine extract` command to run. The table has one row per dataset (its first setting).
"""

from __future__ import annotations

import pandas as pd

from refine.datasets import dataset_entry
from refine.trial_data import load_trial_dataset
from reproduce.common import ReproduceRun, df_to_markdown, script_main, write_markdown


def build(run: ReproduceRun) -> list:
    seen, checked, rows = set(), set(), []
    p = run.preset
    for st in p.main + p.table2 + p.fig5 + p.fig6 + p.fig8:
        if (st.dataset, st.backbone) in checked:
            continue
        checked.add((st.dataset, st.backbone))
        data = load_trial_dataset(st.dataset, **run.dataset_params(st))
        if st.dataset in seen:
            continue
        seen.add(st.dataset)
        row = data.describe()
        row["description"] = dataset_entry(st.dataset).description
        rows.append(row)
    table = pd.DataFrame(rows)
    out = run.out_dir("table1")
    table.to_csv(out / f"table1_{run.preset.name}.csv", index=False)
    md = write_markdown(
        out / f"table1_{run.preset.name}.md", "Table 1: datasets", df_to_markdown(table), run.preset
    )
    return [md, out / f"table1_{run.preset.name}.csv"]


if __name__ == "__main__":
    script_main("table1", build, __doc__)
