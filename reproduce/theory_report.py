"""The theory report (Theorems 1–3): ``python -m theory report`` into paper_figures/theory/."""

from __future__ import annotations

from reproduce.common import ReproduceRun, script_main


def build(run: ReproduceRun) -> list:
    from theory.report import build_report

    out = run.figures / "theory"
    numbers = build_report(out, quick=run.preset.theory_quick, seed=0)
    run.log(
        f"theory: {numbers['n_checks'] - len(numbers['checks_failed'])}/{numbers['n_checks']} checks pass"
    )
    return [out / "report.md"]


if __name__ == "__main__":
    script_main("theory_report", build, __doc__)
