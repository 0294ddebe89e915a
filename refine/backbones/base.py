"""The backbone contract, by the names it always had (kept so that imports keep working).

Each job now has its own module: :mod:`refine.backbones.spec` (the static
:class:`BackboneSpec`), :mod:`refine.backbones.model` (the built :class:`Backbone` and
:func:`build_frozen`), :mod:`refine.backbones.registry` (registration, look-up, building),
:mod:`refine.device` (:func:`resolve_device`), :mod:`refine.progress` (:func:`progress_bar`) and
:mod:`refine.resources` (optional dependencies and unavailable weights or data).
"""

from refine.backbones.model import Backbone, build_frozen
from refine.backbones.registry import (
    available_backbones,
    backbone_spec,
    default_backbone,
    load_backbone,
    register_backbone,
)
from refine.backbones.spec import BackboneSpec, thaw
from refine.device import resolve_device
from refine.progress import progress_bar
from refine.resources import (
    HF_CACHE_HINT,
    ResourceUnavailableError,
    require,
    resource_unavailable,
)

__all__ = [
    "HF_CACHE_HINT",
    "Backbone",
    "BackboneSpec",
    "ResourceUnavailableError",
    "available_backbones",
    "backbone_spec",
    "build_frozen",
    "default_backbone",
    "load_backbone",
    "progress_bar",
    "register_backbone",
    "require",
    "resolve_device",
    "resource_unavailable",
    "thaw",
]
