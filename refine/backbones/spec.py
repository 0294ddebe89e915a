"""The static description of a backbone (:class:`BackboneSpec`), importable without torch.

A spec holds everything that defines the features a backbone produces *without* loading anything
heavy: the architecture and weights id, the output dimension, the pooled token and the exact
preprocessing. The feature cache keys on it, so a features directory can be read (and checked
against the spec) by code that never imports torch or touches the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A JSON-friendly deep copy of a (frozen) spec value: mappings → dict, tuples → list."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class BackboneSpec:
    """Static description of a frozen feature extractor.

    Parameters
    ----------
    name : str
        Short registry name (``"dinov2"``, ``"clip"``, ...).
    modality : {"image", "audio"}
        Kind of raw input.
    library : {"timm", "open_clip", "transformers"}
        Which library builds the architecture and loads the weights.
    architecture : str
        The library's model name (timm name, open_clip model name or hub id of the model code).
    weights_id : str
        Where the pretrained weights come from (a Hugging Face hub repository).
    output_dim : int
        Dimension D of the pooled feature.
    pooling : str
        Which output is kept (always a CLS / pooled token for the paper's backbones).
    preprocessing : mapping
        Every parameter of the input pipeline; part of the cache key.
    packages : tuple of str
        Distributions whose versions can change the features; their versions enter the cache key.
    extra : str
        The pip extra that installs the needed libraries.
    description : str
        One line for ``refine backbones`` and the docs.
    reference : str
        The paper to cite.
    """

    name: str
    modality: str
    library: str
    architecture: str
    weights_id: str
    output_dim: int
    pooling: str
    preprocessing: Mapping[str, Any]
    packages: tuple[str, ...]
    extra: str
    description: str
    reference: str
    default: bool = False
    builder: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    #: The model code comes from the weights' repository (``trust_remote_code``), not a library.
    remote_code: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "preprocessing", _freeze(dict(self.preprocessing)))

    def weights_descriptor(
        self,
        *,
        pretrained: bool = True,
        init_seed: int = 0,
        weights_path: str | Path | None = None,
    ) -> str:
        """The string recorded as "weights" in the cache key for a given way of building."""
        if weights_path is not None:
            return f"local:{Path(weights_path).expanduser().resolve()}"
        if pretrained:
            return self.weights_id
        return f"random-init(seed={int(init_seed)})"
