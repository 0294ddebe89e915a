"""The reviewer's report on Theorems 1-3: markdown, figures and a JSON of every number.

Reference: Huseljic et al., arXiv 2511.22344, Section 4 (Theorems 1-3) and Appendix A.

``python -m theory report --out DIR [--quick]`` calls :func:`build_report`, which runs the three
jobs of the report, one module each:

* :mod:`theory.report.compute` -- every number, into a :class:`~theory.report.compute.ReportData`
  (from :mod:`theory.bounds`, :mod:`theory.simulate`, :mod:`theory.realfilter`,
  :mod:`theory.theorem3` and :mod:`theory.examples`; nothing is typed in), and its JSON;
* :mod:`theory.report.figures` -- the PNG figures;
* :mod:`theory.report.markdown` -- ``report.md``.

Each Monte Carlo check (:class:`theory.report.checks.Check`) is reported with its interval and
failure probability, and the report's status column is derived from the checks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from theory.report.checks import DELTA, Check
from theory.report.compute import ReportConfig, ReportData, compute_report, report_numbers
from theory.report.figures import draw_figures
from theory.report.markdown import render_markdown

__all__ = [
    "DELTA",
    "Check",
    "ReportConfig",
    "ReportData",
    "build_report",
    "compute_report",
    "write_report",
]


def build_report(
    out: str | Path, quick: bool = False, seed: int = 0, config: ReportConfig | None = None
) -> dict:
    """Write ``report.md``, the figures and ``numbers.json`` into ``out``; return the numbers.

    Parameters
    ----------
    out
        Output directory (created).
    quick
        Smaller simulations (a smoke run; the bounds and examples are identical).
    seed
        Root seed; every simulation draws from its own child stream.
    config
        Explicit simulation sizes (overrides ``quick``; the tests use a tiny one).
    """
    t_start = time.perf_counter()
    cfg = config if config is not None else (ReportConfig.quick() if quick else ReportConfig())
    return write_report(out, compute_report(cfg, seed=seed, quick=quick), t_start)


def write_report(out: str | Path, data: ReportData, t_start: float | None = None) -> dict:
    """Draw the figures, write ``report.md`` and ``numbers.json`` for computed ``data``.

    ``t_start`` (a :func:`time.perf_counter` value) is when the run began; the report's total
    time is counted from it (default: from now, i.e. the writing alone).
    """
    t_start = time.perf_counter() if t_start is None else t_start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    figs = draw_figures(out, data)
    data.timings["figures"] = time.perf_counter() - t0

    numbers = report_numbers(data)
    numbers["timings_s"] = data.timings
    numbers["seed"] = data.seed
    numbers["quick"] = data.quick
    numbers["total_seconds"] = time.perf_counter() - t_start
    (out / "report.md").write_text(render_markdown(data, numbers, figs))
    (out / "numbers.json").write_text(json.dumps(numbers, indent=2, default=float))
    return numbers
