"""Mutation check: each listed test fails when the code it guards is broken on purpose.

A test that passes whatever the code does guards nothing. Each entry below names one mutation of
the package (a literal text replacement in one file) and the test that must catch it. The script
copies the tree to a temporary folder, applies one mutation at a time, runs that test there, and
reports whether it failed (caught) or passed (survived). It is a development tool, not part of
``make test``; run it after changing a guarded test::

    python -m tests.mutations            # every mutation
    python -m tests.mutations --list     # what would run
    python -m tests.mutations --only membership   # the mutations whose name contains a word

Exit status 1 when a mutation survives (or an unmutated test already fails).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    test: str


MUTATIONS = [
    Mutation(
        "base class runs the strategy on an exhausted pool",
        "refine/strategies/base.py",
        "            if self.exact_batch:\n                trace =",
        "            if False:\n                trace =",
        "tests/test_strategy_contract.py::"
        "test_base_class_returns_every_candidate_without_running_the_strategy",
    ),
    Mutation(
        "base class accepts duplicate indices",
        "refine/strategies/base.py",
        "        if picked.size > 1 and bool((picked[1:] == picked[:-1]).any()):",
        "        if False:",
        "tests/test_strategy_contract.py::test_base_class_rejects_a_broken_batch",
    ),
    Mutation(
        "membership of a sorted candidate set checks the range only",
        "refine/strategies/base.py",
        "(candidates[np.minimum(pos, candidates.size - 1)] == picked).all()",
        "True",
        "tests/test_strategy_contract.py::test_base_class_rejects_a_broken_batch",
    ),
    Mutation(
        "membership of an unsorted candidate set is not checked",
        "refine/strategies/base.py",
        "inside = bool(np.isin(picked, candidates).all())",
        "inside = True",
        "tests/test_strategy_contract.py::test_base_class_rejects_a_broken_batch",
    ),
    Mutation(
        "the ledger keys filtered strategies by name",
        "reproduce/claims.py",
        "    if isinstance(strategy, (Refine, Filtered)):",
        "    if False:",
        "tests/test_claims.py::test_single_strategies_of_the_figures_are_the_main_grids_trials",
    ),
    Mutation(
        "a borrowed trial keeps its lender's name",
        "reproduce/claims.py",
        "parts.append(rows.assign(strategy=t.spec.name))",
        "parts.append(rows)",
        "tests/test_claims.py::test_load_grids_runs_a_shared_trial_once_and_keeps_the_row_order",
    ),
    Mutation(
        "TypiClust stacks its seedings whatever their size",
        "refine/strategies/typiclust.py",
        "stack_mb > min(self.memory_budget_mb, STACKED_SEEDING_MAX_MB)",
        "stack_mb > self.memory_budget_mb",
        "tests/test_filtering.py::test_batched_draws_give_the_batches_of_one_call_per_draw",
    ),
    Mutation(
        "BAIT's scalar update drops the sign of its 1×1 inverse",
        "refine/strategies/bait.py",
        "            c = sign * (1.0 / u)",
        "            c = 1.0 / u",
        "tests/strategies/test_bait.py::test_binary_scalar_update_equals_the_array_form_bit_for_bit",
    ),
    Mutation(
        "BAIT's scalar update divides by a singular step",
        "refine/strategies/bait.py",
        "            if u == 0.0:  # what the solve raised",
        "            if False:",
        "tests/strategies/test_bait.py::"
        "test_binary_update_on_a_singular_step_raises_as_the_solve_did",
    ),
    Mutation(
        "AutoAL's mixture fit clusters the uncentred scores",
        "refine/strategies/_autoal_nets.py",
        "    Xk -= Xk.mean(axis=0)",
        "    pass",
        "tests/strategies/test_autoal.py::"
        "test_mixture_fit_without_validation_equals_the_estimator_bit_for_bit",
    ),
    Mutation(
        "AutoAL's mixture fit runs its EM one step too few",
        "refine/strategies/_autoal_nets.py",
        "    for n_iter in range(1, gm.max_iter + 1):",
        "    for n_iter in range(1, gm.max_iter):",
        "tests/strategies/test_autoal.py::test_mixture_fit_stops_at_max_iter_as_the_estimator_does",
    ),
    Mutation(
        "TypiClust's draws share the first draw's points though their subsets differ",
        "refine/strategies/typiclust.py",
        "        if all(np.array_equal(cand, first) for _, cand, _ in checked[1:]):",
        "        if True:",
        "tests/test_filtering.py::"
        "test_typiclust_select_draws_equals_select_per_draw_also_when_it_falls_back",
    ),
    Mutation(
        "early return leaves an empty trace",
        "refine/strategies/base.py",
        'trace = {"all_candidates": True, **self._early_trace(ctx, batch_size)}',
        "trace = self._early_trace(ctx, batch_size)",
        "tests/test_filtering.py::test_trace_describes_the_last_call_only",
    ),
    Mutation(
        "Margin repeats its most uncertain instance",
        "refine/strategies/margin.py",
        '        return candidates[np.argsort(m, kind="stable")[:batch_size]]',
        '        return np.repeat(candidates[np.argsort(m, kind="stable")[:1]], batch_size)',
        "tests/test_strategy_contract.py::test_basic_contract_and_determinism[margin]",
    ),
    Mutation(
        "Margin returns one instance too few",
        "refine/strategies/margin.py",
        '        return candidates[np.argsort(m, kind="stable")[:batch_size]]',
        '        return candidates[np.argsort(m, kind="stable")[: batch_size - 1]]',
        "tests/test_strategy_contract.py::test_one_candidate_more_than_batch[margin]",
    ),
    Mutation(
        "Refine selects from the unfiltered candidates",
        "refine/strategies/refine.py",
        '        batch = final.select(ctx, pool, batch_size, child_rng(root, "final"))',
        '        batch = final.select(ctx, candidates, batch_size, child_rng(root, "final"))',
        "tests/test_filtering_properties.py::test_refine_batch_invariants",
    ),
    Mutation(
        "nested set_params mutates the shared default filter",
        "refine/strategies/refine.py",
        "            self.filter = clone(self.filter)\n",
        "            pass\n",
        "tests/test_strategy_contract.py::"
        "test_nested_parameters_never_touch_the_shared_default_filter",
    ),
    Mutation(
        "UHerding forgets that it reads the raw features",
        "refine/strategies/uherding.py",
        'requires = frozenset({"probas", "head", "labels", "features", "normalized_features"})',
        'requires = frozenset({"probas", "head", "labels", "normalized_features"})',
        "tests/test_strategy_requirements.py::test_reads_nothing_undeclared[uherding]",
    ),
    Mutation(
        "a strategy imports the loop",
        "refine/strategies/margin.py",
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport refine.loop  # noqa: F401\n",
        "tests/test_import_graph.py::test_strategy_layer_is_self_contained",
    ),
    Mutation(
        "the loop records the accuracy of the previous cycle's head",
        "refine/loop.py",
        '            "accuracy": head.accuracy(dataset.X_test, dataset.y_test),',
        '            "accuracy": (prev or head).accuracy(dataset.X_test, dataset.y_test),',
        "tests/test_loop.py::test_protocol_shape",
    ),
    Mutation(
        "parameter values are checked only once the trial runs",
        "refine/loop.py",
        "    strategy.check_params()  # before anything is written\n",
        "",
        "tests/test_loop.py::test_invalid_parameter_value_refused_before_anything_is_written",
    ),
    Mutation(
        "error messages go through rich markup unescaped",
        "refine/cli_common.py",
        "{escape(cli_wording(str(message)))}",
        "{cli_wording(str(message))}",
        "tests/test_cli.py::test_error_messages_keep_square_brackets",
    ),
]

# the loop mutation needs the previous head in scope
_PREV = (
    "refine/loop.py",
    "        t0 = time.perf_counter()\n        head = trainer.fit(",
    "        prev = head\n        t0 = time.perf_counter()\n        head = trainer.fit(",
)


def _copy_tree(dest: Path) -> None:
    for part in ("refine", "reproduce", "tests", "pyproject.toml"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)


def _replace(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"mutation text not found exactly once in {file}: {old!r}")
    path.write_text(text.replace(old, new))


def _run_test(root: Path, test: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "pytest", test, "-x", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--only", default=None, help="run the mutations whose name contains this")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only is None or args.only in m.name]
    if not chosen:
        raise SystemExit(f"no mutation name contains {args.only!r} (see --list)")
    if args.list:
        for m in chosen:
            print(f"{m.name}  →  {m.test}")
        return 0
    failures = 0
    print(f"{'mutation':58s} {'guarding test':70s} result")
    for m in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _copy_tree(root)
            if m.file == _PREV[0] and "prev" in m.new:
                _replace(root, *_PREV)
            if _run_test(root, m.test) != 0:  # unmutated, with the helper edit only
                print(f"{m.name:58s} {m.test:70s} FAILS UNMUTATED")
                failures += 1
                continue
            _replace(root, m.file, m.old, m.new)
            caught = _run_test(root, m.test) != 0
        failures += not caught
        test = m.test.replace("tests/", "")
        print(f"{m.name:58s} {test:70s} {'caught' if caught else 'SURVIVED'}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
