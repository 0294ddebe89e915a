"""The tree is ruff clean (lint rules and formatting of pyproject.toml), so `make lint` holds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ["refine", "theory", "reproduce", "tests", "benchmarks", "notebooks/build_notebooks.py"]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: it is part of the dev extras (pip install -e '.[dev]')")
    return [found]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_clean(args):
    proc = subprocess.run(
        _ruff() + args + TREES, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
