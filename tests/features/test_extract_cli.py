"""``refine extract``: help text, a real extraction from a local folder, cache reuse, errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from refine.backbones import ResourceUnavailableError
from refine.cli_extract import extract
from refine.features import load_features_dataset


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    # the same registration as refine.cli: app.command("extract")(extract)
    app = typer.Typer()
    app.command("extract")(extract)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `extract` a sub-command, as in refine.cli
        """Do nothing."""

    return app


def test_help_documents_every_option(app):
    result = CliRunner().invoke(app, ["extract", "--help"])
    assert result.exit_code == 0
    out = " ".join(result.output.replace("│", " ").split())  # undo rich's box and wrapping
    for opt in inspect.signature(extract).parameters:
        if opt == "batch_size":  # the deprecated alias of --forward-batch stays hidden
            assert "Deprecated name of --forward-batch" not in out
            continue
        assert "--" + opt.replace("_", "-") in out, opt
    for text in (
        "tiny_imagenet",
        "dinov2",
        "clip-b32",
        "eat",
        "HF_HUB_OFFLINE",
        "not the AL batch size",
    ):
        assert text in out, text


def test_extract_from_a_local_folder_then_reuse_the_cache(app, tmp_path, tiny_images):
    out = tmp_path / "features"
    args = [
        "extract",
        "--dataset",
        "tiny_imagenet",
        "--backbone",
        "dinov3",
        "--random-weights",
        "--data-dir",
        str(tiny_images.folder),
        "--out",
        str(out),
        "--forward-batch",
        "3",
    ]
    first = CliRunner().invoke(app, [*args, "--quiet"])
    assert first.exit_code == 0, first.output
    assert sorted(p.name.split("__")[1] for p in out.glob("*.npz")) == ["test", "train"]
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert second.output.count("cached") == 2 and "extracted" not in second.output
    ds = load_features_dataset("tiny_imagenet", "dinov3", out, pretrained=False)
    assert (ds.n_train, ds.n_features, ds.batch_size) == (4, 384, 200)
    assert np.isfinite(ds.X_train).all()


def test_errors_are_refine_errors(app, tmp_path, hf_offline):
    result = CliRunner().invoke(app, ["extract", "--dataset", "cifar10", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ResourceUnavailableError)
    assert "uoft-cs/cifar10" in str(result.exception)
    bad = CliRunner().invoke(
        app, ["extract", "-D", "cifar10", "--backbone", "eat", "--out", str(tmp_path)]
    )
    assert bad.exit_code != 0 and "takes audio input" in str(bad.exception)
    for flag in ("--forward-batch", "--batch-size"):
        zero = CliRunner().invoke(app, ["extract", "--dataset", "cifar10", flag, "0"])
        assert zero.exit_code == 2  # typer validates the range before anything runs
    missing = CliRunner().invoke(app, ["extract"])
    assert missing.exit_code == 2 and "--dataset" in missing.output


def test_forward_batch_reaches_the_extraction_and_batch_size_is_its_deprecated_alias(
    app, monkeypatch
):
    import refine.datasets.extraction as extraction

    seen = []
    monkeypatch.setattr(
        extraction, "extract_dataset", lambda name, **kw: seen.append(kw["extract_batch_size"])
    )
    base = ["extract", "--dataset", "cifar10", "--quiet"]
    assert CliRunner().invoke(app, base).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--forward-batch", "5"]).exit_code == 0
    old = CliRunner().invoke(app, [*base, "--batch-size", "7"])
    assert old.exit_code == 0
    assert seen == [64, 5, 7]
    assert "deprecated" in old.stderr and "--forward-batch" in old.stderr
