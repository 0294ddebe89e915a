"""Fixtures of the project-workflow tests: small embedding pools, image folders, snapshots."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_pool

#: Fast settings for Refine in tests (the published defaults run 495 strategy draws per round).
LIGHT_REFINE = {
    "rounds": 2,
    "draws_per_strategy": 2,
    "strategies": ["random", "margin", "typiclust"],
}


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` (folders included) → SHA-256 of its bytes (``"dir"`` for folders).

    Comparing two snapshots checks that a folder is byte-identical: same files, same folders,
    same contents.
    """
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "id,label") -> Path:
    """An annotation CSV with the given ``(id, label)`` rows."""
    path.write_text(header + "\n" + "".join(f"{i},{lab}\n" for i, lab in rows))
    return path


@pytest.fixture
def pool():
    """120 instances, 8 dims, 3 well-separated classes; ids ``item-000`` ..."""
    X, y = make_pool(n=120, d=8, k=3, seed=3, spread=0.5)
    ids = [f"item-{i:03d}" for i in range(len(X))]
    names = np.array(["ant", "bee", "cat"])[y]
    return X, y, ids, names


@pytest.fixture
def embedding_files(tmp_path, pool):
    """The pool as ``emb.npy`` + ``ids.csv`` in ``tmp_path/inputs``."""
    X, _, ids, _ = pool
    d = tmp_path / "inputs"
    d.mkdir()
    np.save(d / "emb.npy", X)
    (d / "ids.csv").write_text("id\n" + "\n".join(ids) + "\n")
    return d / "emb.npy", d / "ids.csv"


@pytest.fixture
def project(tmp_path, embedding_files):
    """A fresh project made from the embedding files."""
    from refine.project import Project

    emb, ids = embedding_files
    return Project.create(tmp_path / "proj", features=emb, ids=ids, seed=0)


@pytest.fixture
def truth(pool):
    """``id → class name`` (the oracle)."""
    _, _, ids, names = pool
    return dict(zip(ids, names.tolist(), strict=True))
