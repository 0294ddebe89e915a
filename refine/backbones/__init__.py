"""Frozen feature extractors (backbones) by short name, with their exact preprocessing.

=============== ======================================== ====== =========================
name            model                                    D      library / weights
=============== ======================================== ====== =========================
``dinov2``      DINOv2 ViT-S/14 + 4 registers (default)  384    timm ``…reg4_dinov2.lvd142m``
``dinov2-noreg`` DINOv2 ViT-S/14                          384    timm ``…_dinov2.lvd142m``
``dinov3``      DINOv3 ViT-S/16                          384    timm ``…_dinov3.lvd1689m``
``clip``        CLIP ViT-B/16 image tower (paper)        768    open_clip ``ViT-B-16``/openai
``clip-b32``    CLIP ViT-B/32 image tower (code)         768    open_clip ``ViT-B-32``/openai
``eat``         EAT-base, Kaldi fbank front end (audio)  768    transformers, hub code
=============== ======================================== ====== =========================

Import is light: specs (``backbone_spec``) need neither torch nor the model libraries, so a
features directory can be checked against them cheaply. :func:`load_backbone` builds the model.
"""

from typing import Any

from refine.backbones import audio, image  # noqa: F401  (register the backbones)
from refine.backbones.audio import EAT_PREPROCESSING, eat_features_input, kaldi_fbank, load_waveform
from refine.backbones.image import build_image_transform, to_pil_rgb
from refine.backbones.model import Backbone
from refine.backbones.registry import (
    available_backbones,
    backbone_spec,
    default_backbone,
    load_backbone,
)
from refine.backbones.spec import BackboneSpec
from refine.device import resolve_device
from refine.resources import ResourceUnavailableError

__all__ = [
    "EAT_PREPROCESSING",
    "Backbone",
    "BackboneSpec",
    "EATStandIn",
    "ResourceUnavailableError",
    "available_backbones",
    "backbone_spec",
    "build_image_transform",
    "default_backbone",
    "eat_features_input",
    "kaldi_fbank",
    "load_backbone",
    "load_waveform",
    "resolve_device",
    "to_pil_rgb",
]


def __getattr__(name: str) -> Any:
    # EATStandIn subclasses torch.nn.Module; import it (and torch) only when asked for.
    if name == "EATStandIn":
        from refine.backbones.eat_standin import EATStandIn

        return EATStandIn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
