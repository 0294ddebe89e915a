"""The backbone registry: specs by short name, the default per modality, and building one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from refine.backbones.model import Backbone
from refine.backbones.spec import BackboneSpec
from refine.device import resolve_device
from refine.errors import ConfigError, unknown_choice

_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec`` to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"backbone {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def available_backbones(modality: str | None = None) -> list[str]:
    """Registered backbone names, optionally only those of one modality (``"image"``/``"audio"``)."""
    return sorted(n for n, s in _REGISTRY.items() if modality is None or s.modality == modality)


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name`` (clear error listing the valid names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_choice("backbone", name, _REGISTRY) from None


def default_backbone(modality: str) -> str:
    """The default backbone of a modality (DINOv2 with registers for images, EAT for audio)."""
    for name, spec in _REGISTRY.items():
        if spec.default and spec.modality == modality:
            return name
    raise unknown_choice("modality", modality, {s.modality for s in _REGISTRY.values()})


def load_backbone(
    name: str,
    *,
    pretrained: bool = True,
    device: Any = "cpu",
    weights_path: str | Path | None = None,
    model: Any = None,
    init_seed: int = 0,
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> Backbone:
    """Build the backbone ``name`` with its preprocessing, frozen, on ``device``.

    Parameters
    ----------
    name : str
        One of :func:`available_backbones` (``dinov2``, ``dinov2-noreg``, ``dinov3``, ``clip``,
        ``clip-b32``, ``eat``).
    pretrained : bool
        Load the published weights (from the Hugging Face hub cache, downloading if needed).
        ``False`` builds the same architecture with random weights (tests, smoke runs).
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    weights_path : path, optional
        A local copy of the weights (a checkpoint file for timm/open_clip backbones, a model
        folder for EAT) to use instead of the hub.
    model : torch.nn.Module, optional
        Use this module instead of building one (it must follow the backbone's interface, e.g.
        :class:`refine.backbones.audio.EATStandIn` for ``eat``). Its features are cached under
        the weights descriptor ``custom:<class name>``, never under the real weights id.
    init_seed : int
        Seed of the random initialisation when ``pretrained=False``.
    trust_remote_code : bool
        Allow running the model code shipped with the weights (EAT: its hub repository or the
        ``weights_path`` folder). Off by default: that code is arbitrary Python.
    revision : str, optional
        The commit (40 hex digits) of the hub repository whose code and weights are loaded;
        required with ``trust_remote_code`` when loading from the hub, so that the code that
        runs is the code that was reviewed.
    """
    spec = backbone_spec(name)
    dev = resolve_device(device)
    if spec.builder is None:  # pragma: no cover - every registered spec has a builder
        raise ConfigError(f"backbone {name!r} has no builder")
    remote: dict[str, Any] = {}
    if spec.remote_code:
        remote = {"trust_remote_code": bool(trust_remote_code), "revision": revision}
    elif revision is not None:
        raise ConfigError(
            f"--revision applies to backbones whose code comes from the hub (eat), not {name!r}"
        )
    return spec.builder(
        spec,
        pretrained=bool(pretrained),
        device=dev,
        weights_path=weights_path,
        model=model,
        init_seed=int(init_seed),
        **remote,
    )
