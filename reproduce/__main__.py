"""``python -m reproduce ARTEFACT [--preset cpu|rehearsal|paper] ...``: one artefact or all."""

from __future__ import annotations

import argparse
import importlib
import sys

from refine.errors import RefineError
from reproduce.common import add_common_args, run_artefacts, run_from_args

ARTEFACTS = {
    "table1": "reproduce.table1",
    "table2": "reproduce.table2",
    "fig1": "reproduce.fig1",
    "fig2": "reproduce.fig2",
    "fig3": "reproduce.fig3",
    "fig4": "reproduce.fig4",
    "fig5": "reproduce.fig5",
    "fig6": "reproduce.fig6",
    "fig8": "reproduce.fig8",
    "appendix": "reproduce.appendix",
    "theory": "reproduce.theory_report",
    "longtail": "reproduce.longtail",
    "medical": "reproduce.medical",
    "bad_apples": "reproduce.bad_apples",
    "query_size": "reproduce.query_size",
    "claims": "reproduce.claims",
    "divergences": "reproduce.divergences",
    "refine_profiles": "reproduce.refine_profiles",
    "bait_precision": "reproduce.bait_precision",
}
#: Run only when named: not part of ``all`` (Refine's 20 trials of 20 cycles would double the cpu
#: preset's time; the precision study is 80 trials of 20 cycles).
ON_DEMAND = ("refine_profiles", "bait_precision")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m reproduce", description=__doc__)
    ap.add_argument("artefact", choices=[*ARTEFACTS, "all"])
    add_common_args(ap)
    args = ap.parse_args(argv)
    try:
        run = run_from_args(args)
    except RefineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    names = (
        [n for n in ARTEFACTS if n not in ON_DEMAND] if args.artefact == "all" else [args.artefact]
    )
    builders = {n: importlib.import_module(ARTEFACTS[n]).build for n in names}
    run_artefacts(run, names, builders)


if __name__ == "__main__":
    main()
