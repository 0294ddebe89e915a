"""``python -m reproduce ARTEFACT [--preset cpu|paper] ...``: build one artefact or all of them."""

from __future__ import annotations

import argparse
import importlib
import time

from reproduce.common import add_common_args, context_from_args

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
    "divergences": "reproduce.divergences",
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m reproduce", description=__doc__)
    ap.add_argument("artefact", choices=[*ARTEFACTS, "all"])
    add_common_args(ap)
    args = ap.parse_args(argv)
    ctx = context_from_args(args)
    names = list(ARTEFACTS) if args.artefact == "all" else [args.artefact]
    timings = {}
    for name in names:
        t0 = time.perf_counter()
        for p in importlib.import_module(ARTEFACTS[name]).build(ctx):
            ctx.log(f"wrote {p}")
        timings[name] = time.perf_counter() - t0
    for name, secs in timings.items():
        ctx.log(f"{name:>10s}: {secs:7.1f} s")


if __name__ == "__main__":
    main()
