"""Projects made from an image folder: the feature pipeline, its cache file, bad images."""

from __future__ import annotations

import typing

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from refine.backbones import load_backbone
from refine.cli import app
from refine.errors import ConfigError, DataError
from refine.features import read_cache
from refine.project import ExtractOptions, Project
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


def opts(cheap, **kw):
    return ExtractOptions(backbone=cheap, progress=False, **kw)


def test_features_come_from_the_pipeline_and_its_verified_cache(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    p = Project.create(tmp_path / "p", images=folder, extract=opts(cheap))
    assert p.ids == sorted(f"{'x' if i % 2 else 'y'}/{i}.jpg" for i in range(8))
    # the rows follow the ids: re-extracting one image gives its row
    one = cheap.extract([str(folder / p.ids[3])], progress=False)
    np.testing.assert_allclose(p.features[3], one[0], rtol=1e-5, atol=1e-6)
    assert p.meta.source["kind"] == "images" and p.meta.source["weights"].startswith("custom:")
    assert p.image_refs()[p.ids[0]] == str(folder.resolve() / p.ids[0])
    # the default extraction cache beside the project is gone once the project exists
    assert sorted(q.name for q in tmp_path.iterdir()) == ["imgs", "p"]


def test_a_reused_cache_dir_serves_the_second_project(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    kw = dict(images=folder, extract=opts(cheap, cache_dir=tmp_path / "cache"))
    a = Project.create(tmp_path / "a", **kw)
    b = Project.create(tmp_path / "b", **kw)
    assert b.meta.source["extracted"] == "cached" and a.meta.source["extracted"] == "extracted"
    np.testing.assert_array_equal(a.features, b.features)
    entry = read_cache(next((tmp_path / "cache").glob("*.npz")))
    np.testing.assert_array_equal(entry.features, a.features)


class FailAfter(torch.nn.Module):
    """Wraps a model; raises KeyboardInterrupt on forward pass number ``fail_at`` (an interrupt)."""

    def __init__(self, inner, fail_at):
        super().__init__()
        self.inner, self.fail_at, self.calls = inner, fail_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.inner(x)


def test_an_interrupted_extraction_resumes_from_its_cache(tmp_path, monkeypatch):
    from refine.project import images as image_pool

    monkeypatch.setattr(image_pool, "CHUNK", 4)  # 8 images: two chunks of 4
    folder = make_folder(tmp_path / "imgs")
    first = FailAfter(PoolProjection(), fail_at=2)  # chunk 1 done, chunk 2 interrupted
    with pytest.raises(KeyboardInterrupt):
        Project.create(
            tmp_path / "p",
            images=folder,
            extract=ExtractOptions(
                backbone=load_backbone("dinov2", model=first), progress=False, forward_batch=4
            ),
        )
    assert not (tmp_path / "p").exists()
    cache = tmp_path / ".p.extract-cache"
    assert len(list(cache.glob("*.npz"))) == 1  # the finished chunk survived
    second = FailAfter(PoolProjection(), fail_at=0)
    p = Project.create(
        tmp_path / "p",
        images=folder,
        extract=ExtractOptions(
            backbone=load_backbone("dinov2", model=second), progress=False, forward_batch=4
        ),
    )
    assert second.calls == 1  # only the unfinished chunk was extracted
    assert not cache.exists()
    full = load_backbone("dinov2", model=PoolProjection()).extract(
        [str(folder / i) for i in p.ids], progress=False
    )
    np.testing.assert_allclose(p.features, full, rtol=1e-5, atol=1e-6)


def bad_images(folder):
    """A truncated PNG, a text file named .jpg and a zero-byte .png, beside good images."""
    good = folder / "y" / "0.jpg"
    png = folder / "x" / "good.png"
    Image.open(good).save(png)
    data = png.read_bytes()
    (folder / "x" / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "x" / "notes.jpg").write_text("this is not an image\n")
    (folder / "y" / "empty.png").write_bytes(b"")
    return ["x/notes.jpg", "x/truncated.png", "y/empty.png"]


def test_unreadable_images_are_named_skipped_and_init_finishes(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    bad = bad_images(folder)
    seen = []
    p = Project.create(tmp_path / "p", images=folder, extract=opts(cheap), on_skipped=seen.extend)
    reasons = dict(seen)
    assert sorted(reasons) == bad
    assert "empty file" in reasons["y/empty.png"]
    assert "not an image" in reasons["x/notes.jpg"]
    assert "truncated" in reasons["x/truncated.png"]
    assert p.meta.n == 9 and not set(bad) & set(p.ids) and "x/good.png" in p.ids


def test_the_cli_lists_the_skipped_images(tmp_path):
    folder = make_folder(tmp_path / "imgs", n=4)
    bad = bad_images(folder)
    r = CliRunner().invoke(
        app, ["init", str(tmp_path / "p"), "--images", str(folder), "--random-weights", "-q"]
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "skipped 3 unreadable image(s)" in text
    for name in bad:
        assert name in text
    assert "5 instances" in text


def test_strict_refuses_a_folder_with_unreadable_images(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    bad = bad_images(folder)
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match="3 unreadable image") as err:
        Project.create(tmp_path / "p", images=folder, extract=opts(cheap, strict=True))
    for name in bad:
        assert name in str(err.value)
    assert snapshot(tmp_path) == before


def test_symlinks_out_of_the_folder_are_refused(tmp_path, cheap):
    folder = make_folder(tmp_path / "imgs")
    outside = tmp_path / "secret.jpg"
    Image.open(folder / "y" / "0.jpg").save(outside)
    (folder / "y" / "link.jpg").symlink_to(outside)
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match="symbolic links to files outside"):
        Project.create(tmp_path / "p", images=folder, extract=opts(cheap))
    assert snapshot(tmp_path) == before


def test_image_folders_take_image_backbones_only(tmp_path):
    folder = make_folder(tmp_path / "imgs")
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match="--backbone eat is an audio backbone.*dinov2"):
        Project.create(tmp_path / "p", images=folder, extract=ExtractOptions(backbone="eat"))
    assert snapshot(tmp_path) == before


def test_a_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match="no image files"):
        Project.create(tmp_path / "p", images=tmp_path / "empty", extract=ExtractOptions())
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
        if any(getattr(m, "hidden", False) for m in hint.__metadata__):
            continue  # deprecated aliases are hidden on purpose
        decls = [
            d
            for m in hint.__metadata__
            for d in (getattr(m, "default", None), *(getattr(m, "param_decls", ()) or ()))
            if isinstance(d, str) and d.startswith("-")
        ]
        flag = decls[0] if decls else "--" + name.replace("_", "-")
        assert flag.split("/")[0] in out, (command, name)
