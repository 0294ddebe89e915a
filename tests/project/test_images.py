"""Projects made from an image folder: the feature pipeline, its cache file, bad images."""

from __future__ import annotations

import typing

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from refine.backbones import load_backbone
from refine.cli import app
from refine.errors import DataError
from refine.features import read_cache
from refine.project import Project
from tests.features.conftest import PoolProjection
from tests.project.conftest import snapshot


@pytest.fixture(scope="module")
def cheap():
    """DINOv2's real preprocessing with a near-free stand-in model."""
    return load_backbone("dinov2", model=PoolProjection())


def make_folder(root, n=8):
    rng = np.random.default_rng(1)
    for i in range(n):
        sub = root / ("x" if i % 2 else "y")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(sub / f"{i}.jpg")
    return root


def test_features_come_from_the_pipeline_and_its_verified_cache(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    p = Project.create(tmp_path / "p", images=folder, backbone=cheap, progress=False)
    assert p.ids == sorted(f"{'x' if i % 2 else 'y'}/{i}.jpg" for i in range(8))
    cache = p.root / p.meta.raw["pool"]["features_file"]
    assert cache.parent.name == "features" and cache.suffix == ".npz"
    entry = read_cache(cache)
    np.testing.assert_array_equal(p.features, entry.features)
    # the rows follow the ids: re-extracting one image gives its row
    one = cheap.extract([str(folder / p.ids[3])], progress=False)
    np.testing.assert_allclose(p.features[3], one[0], rtol=1e-5, atol=1e-6)
    assert p.meta.source["kind"] == "images" and p.meta.source["weights"].startswith("custom:")
    assert p.image_refs()[p.ids[0]] == str(folder.resolve() / p.ids[0])


def test_a_reused_cache_dir_is_copied_into_the_project(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    kw = dict(images=folder, backbone=cheap, progress=False, cache_dir=tmp_path / "cache")
    a = Project.create(tmp_path / "a", **kw)
    b = Project.create(tmp_path / "b", **kw)
    assert b.meta.source["extracted"] == "cached" and a.meta.source["extracted"] == "extracted"
    np.testing.assert_array_equal(a.features, b.features)
    assert (b.root / b.meta.raw["pool"]["features_file"]).exists()


def test_an_unreadable_image_is_named_and_nothing_is_left(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    (folder / "x" / "broken.png").write_bytes(b"this is not a png")
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match="broken.png"):
        Project.create(tmp_path / "p", images=folder, backbone=cheap, progress=False)
    assert snapshot(tmp_path) == before


def test_a_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match="no image files"):
        Project.create(tmp_path / "p", images=tmp_path / "empty")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["init", "label", "select", "export", "status"])
def test_help_documents_every_option(command):
    import refine.cli_project as cp

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    out = " ".join(result.output.replace("│", " ").split())
    hints = typing.get_type_hints(getattr(cp, command), include_extras=True)
    for name, hint in hints.items():
        if name in ("project", "annotations", "return"):
            continue
        decls = [
            d
            for m in hint.__metadata__
            for d in (getattr(m, "default", None), *(getattr(m, "param_decls", ()) or ()))
            if isinstance(d, str) and d.startswith("-")
        ]
        flag = decls[0] if decls else "--" + name.replace("_", "-")
        assert flag.split("/")[0] in out, (command, name)
