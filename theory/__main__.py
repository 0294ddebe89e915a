"""Command line: ``python -m theory report --out DIR [--quick] [--seed N]``.

Writes the reviewer's report on Theorems 1-3 of Huseljic et al. (arXiv 2511.22344): ``report.md``,
PNG figures and ``numbers.json`` (see :func:`theory.report.build_report`).
"""

from __future__ import annotations

import argparse
import sys

from refine.errors import MissingDependencyError
from theory.deps import require_sympy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write report.md, figures and numbers.json")
    rep.add_argument("--out", required=True, help="output directory")
    rep.add_argument("--quick", action="store_true", help="small simulations (smoke run)")
    rep.add_argument("--seed", type=int, default=0, help="root seed of all simulations")
    args = parser.parse_args(argv)
    try:
        require_sympy()
    except MissingDependencyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "report":
        from theory.report import build_report

        numbers = build_report(args.out, quick=args.quick, seed=args.seed)
        failed = numbers["checks_failed"]
        print(
            f"wrote {args.out}/report.md in {numbers['total_seconds']:.1f} s; "
            f"{numbers['n_checks'] - len(failed)}/{numbers['n_checks']} checks pass"
        )
        for name in failed:
            print(f"  failed: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
