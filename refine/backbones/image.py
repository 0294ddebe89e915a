"""Image backbones: DINOv2 and DINOv3 through timm, CLIP through open_clip.

Each backbone keeps its CLS (pooled) token after the final norm, as a frozen linear-probe
feature (the paper's Sec. 4 and the published code):

- ``dinov2`` — DINOv2 ViT-S/14 with four registers (Oquab et al. 2023; Darcet et al. 2024), the
  variant of the published code, 384-d. ``dinov2-noreg`` is the same without registers.
- ``dinov3`` — DINOv3 ViT-S/16 (Siméoni et al. 2025), 384-d.
- ``clip`` — CLIP ViT-B/16 image tower (Radford et al. 2021), as in the paper; ``clip-b32`` is the
  ViT-B/32 of the published code. Both keep the 768-d ``ln_post`` CLS token *before* the image
  projection (what Hugging Face calls ``pooler_output``, which the published code used), not the
  512-d projected embedding.

Preprocessing (one image → ``3×224×224`` float tensor), all with the image converted to RGB
first (a grayscale image is replicated to three channels):

- DINOv2: resize to 256×256 (bicubic), center crop 224, ImageNet mean/std. The published code
  resizes to a 256×256 *square* (``Resize((256, 256))``), not the shorter side; we follow it.
- DINOv3: resize to 224×224 (bilinear), ImageNet mean/std, no crop — the defaults of the
  DINOv3 image processor the published code used.
- CLIP: resize the shorter side to 224 (bicubic), center crop 224, OpenAI CLIP mean/std.

timm builds DINOv2 at 224 px: the 518-px position embeddings of the checkpoint are resampled
once at load time (the published code's torch-hub model interpolates them on every forward
pass; both are bicubic).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from refine.backbones.model import Backbone, build_frozen
from refine.backbones.registry import register_backbone
from refine.backbones.spec import BackboneSpec
from refine.errors import DataError
from refine.resources import HF_CACHE_HINT, require, resource_unavailable

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_IMAGE_PACKAGES = ("torch", "torchvision", "pillow")


def to_pil_rgb(item: Any) -> Any:
    """Turn a raw image item into an RGB :class:`PIL.Image.Image`.

    Accepts PIL images, ``H×W`` / ``H×W×C`` uint8 arrays, file paths and the
    ``{"bytes": ..., "path": ...}`` dicts of an undecoded ``datasets.Image`` column.
    """
    from PIL import Image

    if isinstance(item, dict):
        if item.get("bytes") is not None:
            item = Image.open(io.BytesIO(item["bytes"]))
        elif item.get("path"):
            item = Image.open(item["path"])
        else:
            raise DataError(f"image record has neither bytes nor path: keys {sorted(item)}")
    elif isinstance(item, (str, Path)):
        item = Image.open(item)
    elif isinstance(item, np.ndarray):
        arr = item
        if arr.dtype != np.uint8:
            raise DataError(f"image arrays must be uint8 (H×W or H×W×C), got dtype {arr.dtype}")
        item = Image.fromarray(arr)
    if not isinstance(item, Image.Image):
        raise DataError(f"cannot interpret {type(item).__name__} as an image")
    # convert('RGB') replicates a grayscale channel three times, which is what the published
    # code's `x.repeat(3, 1, 1)` did; it also drops alpha and resolves palettes.
    return item if item.mode == "RGB" else item.convert("RGB")


def build_image_transform(preprocessing: dict) -> Any:
    """The torchvision pipeline described by a spec's ``preprocessing`` mapping."""
    from torchvision import transforms as T

    interp = {
        "bicubic": T.InterpolationMode.BICUBIC,
        "bilinear": T.InterpolationMode.BILINEAR,
    }[preprocessing["interpolation"]]
    resize = preprocessing["resize"]
    # an int resizes the shorter side (aspect kept); a (h, w) pair resizes to exactly that size
    size = int(resize) if isinstance(resize, int) else (int(resize[0]), int(resize[1]))
    steps = [T.Resize(size, interpolation=interp, antialias=True)]
    if preprocessing.get("center_crop"):
        steps.append(T.CenterCrop(int(preprocessing["center_crop"])))
    steps += [T.ToTensor(), T.Normalize(preprocessing["mean"], preprocessing["std"])]
    pipeline = T.Compose(steps)

    def preprocess(item: Any) -> Any:
        return pipeline(to_pil_rgb(item))

    return preprocess


def _weights_hints(spec: BackboneSpec, local_file: str) -> list[str]:
    return [
        f"download it on a machine with network (`hf download {spec.weights_id} {local_file} "
        f"--local-dir DIR`), copy DIR here and pass weights_path=DIR/{local_file} "
        "(CLI: --weights DIR/" + local_file + ")",
        HF_CACHE_HINT,
    ]


def _build_timm(
    spec: BackboneSpec,
    *,
    pretrained: bool,
    device: Any,
    weights_path: str | Path | None,
    model: Any,
    init_seed: int,
) -> Backbone:
    weights = spec.weights_descriptor(
        pretrained=pretrained, init_seed=init_seed, weights_path=weights_path
    )
    if model is None:
        timm = require("timm", "backbones", f"backbone {spec.name!r}")
        kwargs: dict[str, Any] = {
            "num_classes": 0,  # no classifier head: forward() returns the pooled feature
            "global_pool": "token",  # the CLS token after the final norm (DINOv3's timm default is avg)
            "img_size": spec.preprocessing["input_size"],
        }
        use_weights = pretrained or weights_path is not None
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise resource_unavailable(
                    f"weights of backbone {spec.name!r}",
                    str(path),
                    "no such file",
                    _weights_hints(spec, "model.safetensors"),
                )
            kwargs["pretrained_cfg_overlay"] = {"file": str(path)}

        def factory() -> Any:
            try:
                return timm.create_model(spec.architecture, pretrained=use_weights, **kwargs)
            except Exception as err:  # offline, missing file, corrupt download, ...
                if not use_weights:
                    raise
                raise resource_unavailable(
                    f"weights of backbone {spec.name!r}",
                    str(weights_path) if weights_path is not None else spec.weights_id,
                    err,
                    _weights_hints(spec, "model.safetensors"),
                ) from err

        module = build_frozen(factory, pretrained=use_weights, init_seed=init_seed)
    else:
        module = build_frozen(lambda: model, pretrained=True, init_seed=init_seed)
        weights = f"custom:{type(model).__name__}"
    module = module.to(device)
    preprocess = build_image_transform(dict(spec.preprocessing))
    return Backbone(spec, module, lambda m, x: m(x), preprocess, device, weights)


def _build_open_clip(
    spec: BackboneSpec,
    *,
    pretrained: bool,
    device: Any,
    weights_path: str | Path | None,
    model: Any,
    init_seed: int,
) -> Backbone:
    weights = spec.weights_descriptor(
        pretrained=pretrained, init_seed=init_seed, weights_path=weights_path
    )
    if model is None:
        open_clip = require("open_clip", "backbones", f"backbone {spec.name!r}")
        source: str | None = None
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise resource_unavailable(
                    f"weights of backbone {spec.name!r}",
                    str(path),
                    "no such file",
                    _weights_hints(spec, "open_clip_pytorch_model.bin"),
                )
            source = str(path)  # open_clip accepts a checkpoint path as `pretrained`
        elif pretrained:
            source = spec.preprocessing["open_clip_tag"]

        def factory() -> Any:
            try:
                clip = open_clip.create_model(
                    spec.architecture,
                    pretrained=source,
                    # OpenAI's checkpoints were trained with QuickGELU; building random weights
                    # with it too keeps the architecture identical to the pretrained one.
                    force_quick_gelu=True,
                    require_pretrained=source is not None,
                )
            except Exception as err:
                if source is None:
                    raise
                raise resource_unavailable(
                    f"weights of backbone {spec.name!r}",
                    source if weights_path is not None else spec.weights_id,
                    err,
                    _weights_hints(spec, "open_clip_pytorch_model.bin"),
                ) from err
            visual = clip.visual
            # Drop the image projection: keep the 768-d ln_post CLS token (HF `pooler_output`),
            # the feature the published code used, instead of the 512-d joint-space embedding.
            visual.proj = None
            return visual

        module = build_frozen(factory, pretrained=source is not None, init_seed=init_seed)
    else:
        module = build_frozen(lambda: model, pretrained=True, init_seed=init_seed)
        weights = f"custom:{type(model).__name__}"
    module = module.to(device)
    preprocess = build_image_transform(dict(spec.preprocessing))
    return Backbone(spec, module, lambda m, x: m(x), preprocess, device, weights)


_DINOV2_PRE = {
    "modality": "image",
    "convert": "RGB",
    "resize": [256, 256],
    "interpolation": "bicubic",
    "center_crop": 224,
    "input_size": 224,
    "mean": list(IMAGENET_MEAN),
    "std": list(IMAGENET_STD),
}

register_backbone(
    BackboneSpec(
        name="dinov2",
        modality="image",
        library="timm",
        architecture="vit_small_patch14_reg4_dinov2.lvd142m",
        weights_id="timm/vit_small_patch14_reg4_dinov2.lvd142m",
        output_dim=384,
        pooling="CLS token after the final LayerNorm",
        preprocessing=_DINOV2_PRE,
        packages=(*_IMAGE_PACKAGES, "timm"),
        extra="backbones",
        description="DINOv2 ViT-S/14 with 4 registers (default image backbone, published code)",
        reference="Oquab et al. 2023, DINOv2; Darcet et al. 2024, Vision Transformers Need Registers",
        default=True,
        builder=_build_timm,
    )
)

register_backbone(
    BackboneSpec(
        name="dinov2-noreg",
        modality="image",
        library="timm",
        architecture="vit_small_patch14_dinov2.lvd142m",
        weights_id="timm/vit_small_patch14_dinov2.lvd142m",
        output_dim=384,
        pooling="CLS token after the final LayerNorm",
        preprocessing=_DINOV2_PRE,
        packages=(*_IMAGE_PACKAGES, "timm"),
        extra="backbones",
        description="DINOv2 ViT-S/14 without registers",
        reference="Oquab et al. 2023, DINOv2",
        builder=_build_timm,
    )
)

register_backbone(
    BackboneSpec(
        name="dinov3",
        modality="image",
        library="timm",
        architecture="vit_small_patch16_dinov3.lvd1689m",
        weights_id="timm/vit_small_patch16_dinov3.lvd1689m",
        output_dim=384,
        pooling="CLS token after the final LayerNorm",
        preprocessing={
            "modality": "image",
            "convert": "RGB",
            "resize": [224, 224],
            "interpolation": "bilinear",
            "center_crop": None,
            "input_size": 224,
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        },
        packages=(*_IMAGE_PACKAGES, "timm"),
        extra="backbones",
        description="DINOv3 ViT-S/16 (LVD-1689M)",
        reference="Siméoni et al. 2025, DINOv3",
        builder=_build_timm,
    )
)

_CLIP_PRE = {
    "modality": "image",
    "convert": "RGB",
    "resize": 224,
    "interpolation": "bicubic",
    "center_crop": 224,
    "input_size": 224,
    "mean": list(OPENAI_CLIP_MEAN),
    "std": list(OPENAI_CLIP_STD),
    "open_clip_tag": "openai",
}

register_backbone(
    BackboneSpec(
        name="clip",
        modality="image",
        library="open_clip",
        architecture="ViT-B-16",
        weights_id="timm/vit_base_patch16_clip_224.openai",
        output_dim=768,
        pooling="ln_post CLS token before the image projection (HF pooler_output)",
        preprocessing=_CLIP_PRE,
        packages=(*_IMAGE_PACKAGES, "open_clip_torch"),
        extra="backbones",
        description="CLIP ViT-B/16 image tower, OpenAI weights (paper's CLIP)",
        reference="Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision",
        builder=_build_open_clip,
    )
)

register_backbone(
    BackboneSpec(
        name="clip-b32",
        modality="image",
        library="open_clip",
        architecture="ViT-B-32",
        weights_id="timm/vit_base_patch32_clip_224.openai",
        output_dim=768,
        pooling="ln_post CLS token before the image projection (HF pooler_output)",
        preprocessing=_CLIP_PRE,
        packages=(*_IMAGE_PACKAGES, "open_clip_torch"),
        extra="backbones",
        description="CLIP ViT-B/32 image tower, OpenAI weights (published code's CLIP)",
        reference="Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision",
        builder=_build_open_clip,
    )
)
