"""sympy is the ``theory`` extra: ``refine/`` never needs it, ``theory`` says which extra it needs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_nothing_under_refine_imports_sympy_or_theory():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_top_modules(p) & {"sympy", "theory"})
        for p in sorted((ROOT / "refine").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) > 20  # the scan saw the package


def test_sympy_is_the_theory_extra_not_a_core_dependency():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("sympy") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("sympy") for d in extras["theory"])
    assert any("theory" in d for d in extras["dev"] if d.startswith("refine-al["))


_WITHOUT_SYMPY = """
import sys
sys.modules["sympy"] = None  # as if sympy were not installed
import theory  # lazy: importing the package needs no sympy
from refine.errors import MissingDependencyError
try:
    from theory import bounds
except MissingDependencyError as err:
    print("MESSAGE", err)
"""


def test_theory_without_sympy_names_the_extra():
    res = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SYMPY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    assert 'MESSAGE the theory package needs sympy, which is in the "theory" extra' in res.stdout
    assert 'pip install "refine-al[theory]"' in res.stdout
