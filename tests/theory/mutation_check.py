"""Mutation check of the theory tests: apply one mutation, run the test that guards it, revert.

``python tests/theory/mutation_check.py [M1 M2 ...]`` prints ``mutation -> test: FAILS`` for each
mutation the guarding test catches (``passes (SURVIVED)`` otherwise). Not collected by pytest.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
M = [
    (
        "M1 bracket lower side without its condition (old statement)",
        "theory/bounds.py",
        "ratio_lower=sp.Max(0, base) ** R,",
        "ratio_lower=base**R,",
        "tests/theory/test_bounds.py::test_bracket_fails_without_its_condition_worked_by_hand",
    ),
    (
        "M2 focal 'exact' check targets Thm 1's bound",
        "theory/report/compute.py",
        '                    exact[r],\n                    "==",',
        '                    t1[r],\n                    "==",',
        "tests/theory/test_report.py::test_focal_checks_target_the_closed_forms_and_estimates_are_within_hoeffding",
    ),
    (
        "M3 bracket table prints the condition inverted",
        "theory/report/markdown.py",
        '"yes" if b.condition else "**no**",',
        '"**no**" if b.condition else "yes",',
        "tests/theory/test_report.py::test_bracket_table_shows_the_condition_and_its_failure",
    ),
    (
        "M4 Check.ok for '<=' uses the upper end",
        "theory/report/checks.py",
        "            return self.lo <= self.target",
        "            return self.hi <= self.target",
        "tests/theory/test_report.py::test_check_verdicts_follow_the_interval",
    ),
    (
        "M5 gap pools use 0.3 v^2 for the second strategy",
        "theory/report/compute.py",
        "0.02 + 0.3 * v**3])",
        "0.02 + 0.3 * v**2])",
        "tests/theory/test_report.py::test_theorem3_gap_row_n4_recomputed_by_brute_force",
    ),
    (
        "M6 survival legend back inside the right panel",
        "theory/report/figures.py",
        'fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, columnspacing=1.2)',
        'axes[1].legend(handles=handles, loc="lower left")',
        "tests/theory/test_report.py::test_legends_cover_no_data",
    ),
    (
        "M7 theorem3 gap panel without y label",
        "theory/report/figures.py",
        '    ax.set_ylabel("E[Vbar(P_1) | P_1 non-empty] - E_r")\n',
        "",
        "tests/theory/test_report.py::test_every_axes_is_labelled_and_rounds_have_integer_ticks",
    ),
    (
        "M8 bracket base with n_A m instead of n_A m - 1",
        "theory/examples.py",
        "base = 1 - (na * m - 1) * q * eps / 2",
        "base = 1 - na * m * q * eps / 2",
        "tests/theory/test_report.py::test_bracket_table_shows_the_condition_and_its_failure",
    ),
    (
        "M9 q_r divides by |P_r| instead of |P_(r-1)|",
        "theory/realfilter.py",
        "self.pool_sizes[:, :-1]], axis=1",
        "self.pool_sizes[:, 1:]], axis=1",
        "tests/theory/test_realfilter.py::test_derived_quantities_of_a_result_worked_by_hand",
    ),
    (
        "M10 theorem1_final with the largest q_r",
        "theory/realfilter.py",
        "q_lo = self.q_rounds().min(axis=0)",
        "q_lo = self.q_rounds().max(axis=0)",
        "tests/theory/test_realfilter.py::test_derived_quantities_of_a_result_worked_by_hand",
    ),
    (
        "M11 BernoulliStrategy reads probs by position, not pool index",
        "theory/realfilter.py",
        "rng.random(candidates.size) < self.probs[candidates]",
        "rng.random(candidates.size) < self.probs[: candidates.size]",
        "tests/theory/test_realfilter.py::test_bernoulli_strategy_includes_each_candidate_with_its_own_probability",
    ),
    (
        "M12 P_R membership not reset after P_1",
        "theory/realfilter.py",
        "                member[:] = False\n",
        "",
        "tests/theory/test_realfilter.py::test_group_fractions_are_the_members_of_each_group_in_the_filtered_pool",
    ),
    (
        "M13 groups overlap in the probability matrix",
        "theory/realfilter.py",
        "            p[:, start : start + g.size] = np.asarray(g.probs)[:, None]\n            start += g.size",
        "            p[:, start : start + g.size] = np.asarray(g.probs)[:, None]",
        "tests/theory/test_realfilter.py::test_default_scenarios_describe_the_three_report_settings",
    ),
    (
        "M14 cap factor applied in the paper variant too",
        "theory/realfilter.py",
        'if self.scenario.variant != "published" or cap is None:',
        "if cap is None:",
        "tests/theory/test_realfilter.py::test_derived_quantities_of_a_result_worked_by_hand",
    ),
]
sel = sys.argv[1:]
env = dict(
    os.environ,
    PYTHONPATH=str(ROOT),
    OMP_NUM_THREADS="1",
    MKL_NUM_THREADS="1",
    OPENBLAS_NUM_THREADS="1",
    MPLBACKEND="Agg",
    PYTHONHASHSEED="0",
)
for name, f, old, new, test in M:
    if sel and name.split()[0] not in sel:
        continue
    p = ROOT / f
    src = p.read_text()
    assert src.count(old) == 1, (name, src.count(old))
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                test,
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                "--hypothesis-seed=0",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        last = [ln for ln in r.stdout.splitlines() if ln.strip()][-1]
        err = next((ln for ln in r.stdout.splitlines() if ln.startswith("E ")), "")
        print(
            f"{name} -> {test.split('::')[1]}: {'FAILS' if r.returncode else 'passes (SURVIVED)'} | {err[:150]} | {last}",
            flush=True,
        )
    finally:
        p.write_text(src)
