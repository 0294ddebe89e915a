"""The import graph of ``refine/``, built from the source: no cycles, and a self-contained
strategy layer (``refine/strategies/`` imports nothing from the loop, the CLI or the project
layer)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "refine"
#: what the strategy layer must never import (the layers downstream of it)
DOWNSTREAM = ("refine.loop", "refine.grid", "refine.cli", "refine.project", "refine.report")


def module_name(path: Path) -> str:
    if not path.is_relative_to(ROOT):
        return path.stem
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Project modules imported anywhere in ``path`` (lazy imports inside functions count)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            # the longest project module that the target names (``refine.strategies.base.X``)
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> nx.DiGraph:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for p in files:
        for target in imports_of(p, modules):
            # importing a package's submodule runs the package's __init__ first; that edge is
            # implied, not a dependency of the importer on the package's contents
            graph.add_edge(module_name(p), target)
    return graph


def strongly_connected(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_import_cycles():
    graph = import_graph()
    # a package's __init__ re-exporting its submodules is not a cycle of the submodules
    pruned = graph.copy()
    for module in list(pruned):
        for target in list(pruned.successors(module)):
            if module.startswith(target + "."):
                pruned.remove_edge(module, target)
    assert strongly_connected(pruned) == []


def test_strategy_layer_is_self_contained():
    graph = import_graph()
    offenders = {
        (m, t)
        for m, t in graph.edges
        if m.startswith("refine.strategies") and t.startswith(DOWNSTREAM)
    }
    assert offenders == set()


def test_the_graph_sees_lazy_and_relative_imports(tmp_path):
    # the checks above are only as good as the parser: a function-level import must count
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from refine.loop import run_trial\n    import refine.cli\n")
    found = imports_of(src, {"refine.loop", "refine.cli", "refine"})
    assert found == {"refine.loop", "refine.cli"}


@pytest.mark.parametrize("cycle", [("a", "b"), ("a", "b", "c")])
def test_a_cycle_is_reported(cycle):
    graph = nx.DiGraph()
    nx.add_cycle(graph, cycle)
    assert strongly_connected(graph) == [sorted(cycle)]


def test_each_filtering_default_is_written_once():
    # the filter is a nested estimator of Refine and Filtered: its parameters (and their
    # defaults) exist only in ProgressiveFilter.__init__, so a changed default takes one edit
    from refine.strategies.filtering import ProgressiveFilter

    # "variant" and "n_jobs" are common names with other meanings elsewhere (TypiClust's variant,
    # the win-rate variant): they are checked only among the composites that hold the filter
    generic = {"variant", "n_jobs"}
    names = set(ProgressiveFilter().get_params(deep=False)) - {"strategies", "strategy_params"}
    owners = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults))
                defaults += node.args.defaults + node.args.kw_defaults
                for arg, default in zip(args, defaults, strict=True):
                    holder = module_name(path) == "refine.strategies.refine"
                    wanted = names if holder else names - generic
                    if arg.arg in wanted and default is not None:
                        owners.append((module_name(path), node.name, arg.arg))
    assert {(m, f) for m, f, _ in owners} == {("refine.strategies.filtering", "__init__")}
    assert sorted(a for _, _, a in owners) == sorted(names - generic)
