"""The backbone contract: a static spec, a built (frozen) model, batched feature extraction.

A :class:`BackboneSpec` holds everything that defines the features a backbone produces *without*
loading anything heavy: the architecture and weights id, the output dimension, the pooled token
and the exact preprocessing. The feature cache keys on it, so a features directory can be read
(and checked against the spec) by code that never imports torch or touches the model.

A :class:`Backbone` is a spec plus a built ``torch.nn.Module`` on a device. It turns raw inputs
(PIL images, waveforms) into a float32 ``N×D`` array in batches, with an optional progress bar.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from refine.errors import ConfigError, MissingDependencyError, RefineError, unknown_choice


class ResourceUnavailableError(RefineError, OSError):
    """Model weights, model code or a data set could not be loaded (offline, missing, private).

    The message names the id that failed and how to point the package at a local copy.
    """


def resource_unavailable(
    what: str, ident: str, cause: BaseException | str, hints: Sequence[str]
) -> ResourceUnavailableError:
    """Build the error for an id that could not be loaded, with the ways to use a local copy.

    Parameters
    ----------
    what : str
        What failed, e.g. ``"weights of backbone 'dinov2'"`` or ``"dataset 'cifar10'"``.
    ident : str
        The hub id (or URL, DOI) that could not be loaded.
    cause : exception or str
        The underlying failure; only its first line is kept so the message stays readable.
    hints : sequence of str
        One line per way of providing a local copy.
    """
    text = str(cause).strip().splitlines()
    first = text[0] if text else type(cause).__name__
    if isinstance(cause, BaseException):
        first = f"{type(cause).__name__}: {first}"
    lines = [f"could not load {what} from {ident!r} ({first[:300]})."]
    lines.append("To use a local copy instead:")
    lines.extend(f"  - {h}" for h in hints)
    return ResourceUnavailableError("\n".join(lines))


HF_CACHE_HINT = (
    "or copy a populated Hugging Face cache to this machine and point HF_HOME at it "
    "(set HF_HUB_OFFLINE=1 to skip network look-ups that would otherwise be retried)"
)


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module!r}; install it with "
            f'`pip install "refine-al[{extra}]"` ({err})'
        ) from err


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


_DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def resolve_device(device: Any) -> Any:
    """Return a :class:`torch.device` for ``device``, or raise ConfigError if it is unusable.

    ``"auto"`` picks CUDA when available, else CPU. Requesting an unavailable accelerator is an
    error rather than a silent fallback, so a GPU run never quietly takes days on a CPU.
    """
    import torch

    if isinstance(device, torch.device):
        spec = str(device)
    else:
        spec = str(device).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise unknown_choice("device", device, _DEVICE_CHOICES) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        idx = 0 if dev.index is None else dev.index
        if idx >= n:
            raise ConfigError(
                f"device {device!r} is not available (this machine has {n} CUDA device(s)); "
                "use device='cpu' or device='auto'"
            )
        return dev
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError(f"device {device!r} is not available; use device='cpu'")
        return dev
    raise unknown_choice("device", device, _DEVICE_CHOICES)


@contextlib.contextmanager
def progress_bar(
    total: int, description: str, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. A no-op when ``enabled`` is False."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task, n)


class _Preprocessed:
    """Map-style view applying ``fn`` to each item of ``items`` (a torch Dataset by duck typing)."""

    def __init__(self, items: Sequence[Any], fn: Callable[[Any], Any]) -> None:
        self.items = items
        self.fn = fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.fn(self.items[i])


class Backbone:
    """A built, frozen feature extractor: spec + model + preprocessing on one device.

    Build one with :func:`refine.backbones.load_backbone`. The model is in eval mode with
    gradients off; :meth:`extract` runs it under ``torch.inference_mode``.

    Parameters
    ----------
    spec : BackboneSpec
        What the backbone is.
    model : torch.nn.Module
        The network (already on ``device``).
    encode : callable
        ``encode(model, batch) -> Tensor[B, D]``: forward pass and pooling.
    preprocess : callable
        ``preprocess(raw_item) -> Tensor``: one input to the model's input tensor.
    device : torch.device
        Where the model runs.
    weights : str
        The weights descriptor recorded in the cache key (hub id, ``random-init(seed=…)``,
        ``local:<path>`` or ``custom:<class>``).
    """

    def __init__(
        self,
        spec: BackboneSpec,
        model: Any,
        encode: Callable[[Any, Any], Any],
        preprocess: Callable[[Any], Any],
        device: Any,
        weights: str,
    ) -> None:
        self.spec = spec
        self.model = model
        self._encode = encode
        self.preprocess = preprocess
        self.device = device
        self.weights = weights

    @property
    def name(self) -> str:
        """Short registry name of the backbone."""
        return self.spec.name

    @property
    def output_dim(self) -> int:
        """Feature dimension D."""
        return self.spec.output_dim

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, weights={self.weights!r}, device={str(self.device)!r})"

    def encode_batch(self, batch: Any) -> np.ndarray:
        """Features of one preprocessed batch (``Tensor[B, ...]``) as a float32 ``B×D`` array."""
        import torch

        with torch.inference_mode():
            out = self._encode(self.model, batch.to(self.device, non_blocking=True))
        if out.ndim != 2 or out.shape[1] != self.output_dim:
            raise RefineError(
                f"backbone {self.name!r} returned features of shape {tuple(out.shape)}, "
                f"expected (batch, {self.output_dim})"
            )
        return out.float().cpu().numpy()

    def extract(
        self,
        items: Sequence[Any],
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        progress: bool = True,
        description: str | None = None,
    ) -> np.ndarray:
        """Features of every item, in order, as a float32 ``N×D`` array.

        Parameters
        ----------
        items : sequence
            Indexable raw inputs (PIL images / arrays for image backbones; ``(waveform, rate)``
            pairs, ``{"array", "sampling_rate"}`` or ``{"bytes", "path"}`` dicts or file paths for
            audio backbones). Items are read lazily, batch by batch.
        batch_size : int
            Inputs per forward pass.
        num_workers : int
            DataLoader worker processes for decoding and preprocessing (0: in this process).
        progress : bool
            Show a progress bar on stderr.
        description : str, optional
            Label of the progress bar.
        """
        import torch
        from torch.utils.data import DataLoader

        from refine.errors import check_positive_int

        batch_size = check_positive_int("batch_size", batch_size)
        num_workers = check_positive_int("num_workers", num_workers, minimum=0)
        n = len(items)
        out = np.empty((n, self.output_dim), dtype=np.float32)
        if n == 0:
            return out
        loader = DataLoader(
            _Preprocessed(items, self.preprocess),  # type: ignore[arg-type]
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=torch.stack,
            pin_memory=self.device.type == "cuda",
        )
        label = description or f"{self.name} features"
        pos = 0
        with progress_bar(n, label, enabled=progress) as advance:
            for batch in loader:
                feats = self.encode_batch(batch)
                out[pos : pos + len(feats)] = feats
                pos += len(feats)
                advance(len(feats))
        if pos != n:  # pragma: no cover - DataLoader always yields every item
            raise RefineError(f"extraction produced {pos} features for {n} inputs")
        if not np.isfinite(out).all():
            bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
            raise RefineError(
                f"backbone {self.name!r} produced NaN/inf features for {bad.size} input(s) "
                f"(first indices {bad[:5].tolist()})"
            )
        return out


def build_frozen(factory: Callable[[], Any], *, pretrained: bool, init_seed: int) -> Any:
    """Run ``factory()`` (which builds a module) and freeze the result.

    With random weights the construction runs under a forked, seeded torch RNG: the same
    ``init_seed`` gives the same weights in every process, and the caller's global torch RNG
    state is left exactly as it was.
    """
    import torch

    if pretrained:
        model = factory()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            model = factory()
    model.eval()
    model.requires_grad_(False)
    return model


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
