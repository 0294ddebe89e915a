"""A built, frozen backbone (:class:`Backbone`): spec + model + preprocessing on one device.

It turns raw inputs (PIL images, waveforms) into a float32 ``N×D`` array in batches, with an
optional progress bar. :func:`build_frozen` builds a module (seeded when the weights are random)
and freezes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from refine.backbones.spec import BackboneSpec
from refine.errors import RefineError
from refine.progress import progress_bar


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
