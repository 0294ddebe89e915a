"""Image backbones: real architectures with random weights, real preprocessing, extraction."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from refine.backbones import (
    Backbone,
    available_backbones,
    backbone_spec,
    build_image_transform,
    default_backbone,
    load_backbone,
    resolve_device,
    to_pil_rgb,
)
from refine.errors import ConfigError, DataError, MissingDependencyError

IMAGE_BACKBONES = {"dinov2": 384, "dinov2-noreg": 384, "dinov3": 384, "clip": 768, "clip-b32": 768}


def test_registry_holds_the_papers_backbones():
    assert set(available_backbones()) == {*IMAGE_BACKBONES, "eat"}
    assert available_backbones("audio") == ["eat"]
    assert default_backbone("image") == "dinov2"
    assert default_backbone("audio") == "eat"
    assert backbone_spec("dinov2").architecture == "vit_small_patch14_reg4_dinov2.lvd142m"
    assert backbone_spec("dinov2-noreg").architecture == "vit_small_patch14_dinov2.lvd142m"
    assert backbone_spec("dinov3").architecture == "vit_small_patch16_dinov3.lvd1689m"
    assert (backbone_spec("clip").architecture, backbone_spec("clip-b32").architecture) == (
        "ViT-B-16",
        "ViT-B-32",
    )
    assert backbone_spec("eat").weights_id == "worstchan/EAT-base_epoch30_pretrain"
    for name, dim in IMAGE_BACKBONES.items():
        assert backbone_spec(name).output_dim == dim
    assert backbone_spec("eat").output_dim == 768


def test_unknown_backbone_names_the_allowed_values():
    with pytest.raises(ConfigError, match="unknown backbone 'resnet'.*clip, clip-b32, dinov2"):
        backbone_spec("resnet")


def test_specs_import_without_torch_or_model_libraries():
    code = (
        "import sys, refine.backbones as b; b.backbone_spec('clip').preprocessing;"
        "bad = [m for m in ('torch', 'timm', 'open_clip', 'transformers') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", sorted(IMAGE_BACKBONES))
def test_real_architecture_random_weights_extracts_cls_features(name, tiny_images):
    bb = load_backbone(name, pretrained=False)
    assert isinstance(bb, Backbone) and bb.weights == "random-init(seed=0)"
    assert not bb.model.training
    assert not any(p.requires_grad for p in bb.model.parameters())
    items = tiny_images.train[:3] + tiny_images.test[:1]  # RGB, grayscale, RGBA non-square, RGB
    feats = bb.extract(items, batch_size=3, progress=False)
    dim = IMAGE_BACKBONES[name]
    assert feats.shape == (len(items), dim) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    # determinism: the same call gives bit-identical features ...
    a = bb.extract(items[:2], batch_size=2, progress=False)
    b = bb.extract(items[:2], batch_size=2, progress=False)
    np.testing.assert_array_equal(a, b)
    # ... and batch composition only changes float rounding
    np.testing.assert_allclose(a, feats[:2], rtol=1e-4, atol=1e-5)

    x = bb.preprocess(items[0])[None]
    assert tuple(x.shape) == (1, 3, 224, 224)
    if name.startswith("dinov"):
        # timm: the pooled output is the CLS token of the normed token sequence
        with torch.inference_mode():
            tokens = bb.model.forward_features(x)
        np.testing.assert_allclose(bb.encode_batch(x), tokens[:, 0].numpy(), rtol=1e-5, atol=1e-6)
        patch = 14 if name.startswith("dinov2") else 16
        assert tuple(bb.model.patch_embed.patch_size) == (patch, patch)
        prefix = {"dinov2": 5, "dinov2-noreg": 1, "dinov3": 5}[name]  # CLS (+ 4 registers)
        assert bb.model.num_prefix_tokens == prefix
        assert tokens.shape[1] == prefix + (224 // patch) ** 2
    else:
        import open_clip.transformer as oct

        assert bb.model.proj is None  # 768-d ln_post CLS, not the 512-d projection
        patch = 16 if name == "clip" else 32
        assert tuple(bb.model.conv1.kernel_size) == (patch, patch)
        acts = {type(m) for m in bb.model.modules()}
        assert oct.QuickGELU in acts  # the OpenAI architecture


def test_random_init_is_reproducible_and_leaves_global_rng_alone(dinov3_random):
    state = torch.random.get_rng_state()
    b = load_backbone("dinov3", pretrained=False, init_seed=0)
    c = load_backbone("dinov3", pretrained=False, init_seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = (m.model.state_dict() for m in (dinov3_random, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert c.weights == "random-init(seed=4)"


def test_local_weights_file_is_loaded_instead_of_the_hub(tmp_path, tiny_images, dinov3_random):
    path = tmp_path / "dinov3.pth"
    torch.save(dinov3_random.model.state_dict(), path)
    local = load_backbone("dinov3", weights_path=path)
    assert local.weights == f"local:{path.resolve()}"
    items = tiny_images.test
    np.testing.assert_array_equal(
        local.extract(items, batch_size=2, progress=False),
        dinov3_random.extract(items, batch_size=2, progress=False),
    )


def _unnormalise(x: torch.Tensor, pre: dict) -> np.ndarray:
    mean = np.asarray(pre["mean"])[:, None, None]
    std = np.asarray(pre["std"])[:, None, None]
    return x.numpy() * std + mean


@pytest.mark.parametrize("name", ["dinov2", "dinov3", "clip"])
def test_preprocessing_of_constant_and_grayscale_images(name):
    pre = dict(backbone_spec(name).preprocessing)
    fn = build_image_transform(pre)
    x = fn(Image.new("RGB", (50, 30), (128, 64, 255)))
    assert tuple(x.shape) == (3, 224, 224) and x.dtype == torch.float32
    expected = (np.array([128, 64, 255]) / 255.0 - np.array(pre["mean"])) / np.array(pre["std"])
    np.testing.assert_allclose(x.numpy().mean(axis=(1, 2)), expected, atol=1e-5)
    gray = fn(Image.fromarray(np.full((40, 40), 77, dtype=np.uint8), mode="L"))
    raw = _unnormalise(gray, pre)
    np.testing.assert_allclose(raw[0], raw[1], atol=1e-6)
    np.testing.assert_allclose(raw[1], raw[2], atol=1e-6)


def test_dinov2_resizes_to_a_square_but_clip_keeps_the_aspect():
    # 64×32 image, white in its right quarter (x >= 48).
    arr = np.zeros((32, 64, 3), dtype=np.uint8)
    arr[:, 48:] = 255
    img = Image.fromarray(arr)
    dino_pre = dict(backbone_spec("dinov2").preprocessing)
    dino = _unnormalise(build_image_transform(dino_pre)(img), dino_pre)
    clip_pre = dict(backbone_spec("clip").preprocessing)
    clip = _unnormalise(build_image_transform(clip_pre)(img), clip_pre)
    # square 256×256 then crop 224: the white edge lands at column 192 - 16 = 176
    assert dino[:, 100, 200].min() > 0.99 and dino[:, 100, 150].max() < 0.01
    # shorter side 224 (448×224) then crop 224 from x = 112: the white quarter starts at the
    # crop's right border (x = 336), so only interpolation spill-over reaches the last columns
    assert clip[:, :, :216].max() < 0.01


def test_raw_image_inputs_are_converted(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    path = tmp_path / "x.png"
    path.write_bytes(buf.getvalue())
    for item in (
        arr,
        {"bytes": buf.getvalue(), "path": None},
        {"bytes": None, "path": str(path)},
        path,
    ):
        out = to_pil_rgb(item)
        assert out.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(out), arr)
    with pytest.raises(DataError, match="uint8"):
        to_pil_rgb(arr.astype(np.float32))
    with pytest.raises(DataError, match="neither bytes nor path"):
        to_pil_rgb({"bytes": None, "path": None})
    with pytest.raises(DataError, match="cannot interpret"):
        to_pil_rgb(3.0)


def test_device_resolution_and_gpu_extraction(tiny_images, dinov3_random):
    assert str(resolve_device("cpu")) == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="allowed values: auto, cpu, cuda, cuda:N, mps"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="not available"):
        resolve_device("cuda:99")
    if torch.cuda.is_available():
        gpu = load_backbone("dinov3", pretrained=False, device="cuda")
        assert next(gpu.model.parameters()).is_cuda
        np.testing.assert_allclose(
            gpu.extract(tiny_images.test, progress=False),
            dinov3_random.extract(tiny_images.test, progress=False),
            rtol=1e-3,
            atol=1e-3,
        )
    else:
        with pytest.raises(ConfigError, match="not available"):
            load_backbone("dinov3", pretrained=False, device="cuda")


def test_progress_bar_and_worker_processes(tiny_images, cheap_backbone, capsys):
    items = tiny_images.train
    quiet = cheap_backbone.extract(items, batch_size=3, progress=False)
    shown = cheap_backbone.extract(items, batch_size=3, progress=True, description="demo")
    assert "demo" in capsys.readouterr().err
    workers = cheap_backbone.extract(items, batch_size=3, num_workers=1, progress=False)
    np.testing.assert_array_equal(quiet, shown)
    np.testing.assert_array_equal(quiet, workers)
    assert cheap_backbone.weights == "custom:PoolProjection"
    assert cheap_backbone.extract([], progress=False).shape == (0, 384)
    with pytest.raises(ConfigError, match="batch_size"):
        cheap_backbone.extract(items, batch_size=0)


def test_missing_optional_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # makes `import timm` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"refine-al\[backbones\]"):
        load_backbone("dinov2", pretrained=False)
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(MissingDependencyError, match="open_clip"):
        load_backbone("clip", pretrained=False)


def test_one_device_resolver_for_the_whole_package(monkeypatch):
    import refine.backbones
    import refine.device
    import refine.head
    from refine.head import HeadTrainer

    assert refine.head.resolve_device is refine.device.resolve_device
    assert refine.backbones.resolve_device is refine.device.resolve_device
    # "mps" is refused where MPS is absent, by the head as by the backbones (the head's former
    # resolver accepted it and failed later inside torch)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="'mps' is not available"):
        HeadTrainer(3, 2, device="mps")
    with pytest.raises(ConfigError, match="'mps' is not available"):
        load_backbone("dinov2", model=torch.nn.Identity(), device="mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert refine.device.resolve_device(" MPS ").type == "mps"
    assert refine.device.resolve_device(None).type in ("cpu", "cuda")
