"""Table 1: the datasets (sizes, classes, batch size b), from the dataset registry.

Each dataset is read from the feature cache, so Table 1 also checks that every setting of the
preset has its features (a missing one stops it with the `refine extract` command to run).
"""

from __future__ import annotations

import pandas as pd

from refine.datasets import dataset_entry
from refine.trial_data import load_trial_dataset
from reproduce.common import Context, df_to_markdown, script_main, write_markdown


def build(ctx: Context) -> list:
    seen, rows = set(), []
    settings = ctx.preset.main + ctx.preset.table2 + ctx.preset.fig8
    for st in settings:
        if st.dataset in seen:
            continue
        seen.add(st.dataset)
        data = load_trial_dataset(st.dataset, **ctx.dataset_params(st))
        row = data.describe()
        row["description"] = dataset_entry(st.dataset).description
        rows.append(row)
    table = pd.DataFrame(rows)
    out = ctx.out_dir("table1")
    table.to_csv(out / f"table1_{ctx.preset.name}.csv", index=False)
    md = write_markdown(
        out / f"table1_{ctx.preset.name}.md", "Table 1: datasets", df_to_markdown(table), ctx.preset
    )
    return [md, out / f"table1_{ctx.preset.name}.csv"]


if __name__ == "__main__":
    script_main("table1", build, __doc__)
