"""Image-folder pools: find the images, check each one decodes, extract features resumably.

``refine init --images DIR`` first lists the image files (:func:`refine.project.inputs.list_images`),
then decodes every one of them (:func:`check_images`) *before* a backbone is built: a truncated
PNG, a text file renamed ``.jpg`` or an empty file is reported by name and reason and skipped (or
refused with ``--strict``), so extraction never stops half-way on a bad file.

Extraction (:func:`extract_pool`) runs the feature pipeline (:func:`refine.features.extract_features`)
over chunks of :data:`CHUNK` images; every finished chunk is a verified cache file. An interrupted
``init`` (Ctrl-C, a kill, a full disk) therefore resumes with the next chunk when it is run again
with the same cache folder: by default a hidden folder beside the project,
``.<project>.extract-cache``, removed once the project exists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refine.errors import ConfigError, DataError, RefineError

#: Images per cache file: the unit of resumption.
CHUNK = 512


@dataclass
class ImageCheck:
    """The result of :func:`check_images`.

    Attributes
    ----------
    good : list of str
        Relative paths that decode, in input order.
    bad : list of (str, str)
        ``(relative path, reason)`` of the files that do not.
    """

    good: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, limit: int = 10) -> str:
        """``name (reason); ...`` of the bad files, at most ``limit`` of them."""
        text = "; ".join(f"{name} ({why})" for name, why in self.bad[:limit])
        more = f"; and {len(self.bad) - limit} more" if len(self.bad) > limit else ""
        return text + more


def _why_unreadable(path: Path) -> str | None:
    """None when ``path`` decodes as an image, else a short reason."""
    from PIL import Image, UnidentifiedImageError

    try:
        size = path.stat().st_size
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with Image.open(path) as im:
            im.load()  # decode fully: truncation shows only here
    except UnidentifiedImageError:
        return "not an image file (its contents are no known image format)"
    except (OSError, SyntaxError, ValueError) as err:
        # PIL reports truncated/corrupt data as OSError (SyntaxError for some PNG chunks)
        text = str(err).strip() or type(err).__name__
        return f"truncated or corrupt ({text})"
    except Image.DecompressionBombError as err:
        return f"refused as a decompression bomb ({err})"
    return None


def check_images(folder: Path, rel: Sequence[str], *, progress: bool = False) -> ImageCheck:
    """Decode every image once, before extraction, and sort them into good and bad.

    Parameters
    ----------
    folder : Path
        The image folder.
    rel : sequence of str
        Paths relative to ``folder``.
    progress : bool
        Show a progress bar (decoding a large folder takes a while).
    """
    from rich.progress import Progress

    out = ImageCheck()
    with Progress(disable=not progress, transient=True) as prog:
        task = prog.add_task("checking images", total=len(rel))
        for r in rel:
            why = _why_unreadable(folder / r)
            if why is None:
                out.good.append(r)
            else:
                out.bad.append((r, why))
            prog.advance(task)
    return out


def check_links(folder: Path, rel: Sequence[str]) -> None:
    """Refuse images that are symbolic links to files outside ``folder``.

    A link out of the folder makes the pool depend on files the project does not describe (and
    an export would point annotators at them); copy such files into the folder instead.
    """
    root = folder.resolve()
    outside = []
    for r in rel:
        target = (folder / r).resolve()
        if not is_under(target, root):
            outside.append(f"{r} -> {target}")
    if outside:
        shown = "; ".join(outside[:5]) + (
            f"; and {len(outside) - 5} more" if len(outside) > 5 else ""
        )
        raise DataError(
            f"--images {folder}: {len(outside)} image(s) are symbolic links to files outside the "
            f"folder ({shown}); copy the files into the folder instead"
        )


def check_image_backbone(backbone: Any) -> None:
    """Image folders need an image backbone: refuse audio ones (e.g. ``eat``) by name."""
    from refine.backbones import Backbone, available_backbones, backbone_spec

    spec = backbone.spec if isinstance(backbone, Backbone) else None
    if spec is None:
        if not isinstance(backbone, str):
            raise ConfigError(f"--backbone must be a backbone name, got {backbone!r}")
        spec = backbone_spec(backbone)  # unknown names: ConfigError listing the allowed ones
    if spec.modality != "image":
        images = [n for n in available_backbones() if backbone_spec(n).modality == "image"]
        raise ConfigError(
            f"--backbone {spec.name} is an {spec.modality} backbone; an image folder needs an "
            f"image backbone: {', '.join(images)}"
        )


def extract_pool(
    folder: Path,
    rel: Sequence[str],
    *,
    cache_dir: Path,
    backbone: Any,
    device: str,
    pretrained: bool,
    weights_path: Any,
    init_seed: int,
    forward_batch: int,
    num_workers: int,
    progress: bool,
) -> tuple[np.ndarray, dict]:
    """Features of the images, chunk by chunk through the verified feature cache.

    Returns
    -------
    X : ndarray (N, D), float32
        One row per entry of ``rel``.
    source : dict
        Backbone, weights descriptor, the chunks' cache keys and whether each was extracted now
        or found in the cache.
    """
    from refine.backbones import Backbone, load_backbone
    from refine.features import extract_features
    from refine.features.extract import cache_request, lookup_cache
    from refine.project.store import sha256_bytes

    folder = folder.resolve()
    listing = "\n".join(
        f"{r}\t{(folder / r).stat().st_size}\t{(folder / r).stat().st_mtime_ns}" for r in rel
    )
    tag = sha256_bytes(listing.encode())[:12]
    dataset = f"folder-{tag}"
    chunks = [list(rel[k : k + CHUNK]) for k in range(0, len(rel), CHUNK)]
    built: Any = backbone if isinstance(backbone, Backbone) else None
    parts, keys, statuses = [], [], []
    identity: dict = {}
    for k, names in enumerate(chunks):
        split = f"pool-{k:05d}"
        request = cache_request(
            dataset,
            split,
            built if built is not None else backbone,
            pretrained=pretrained,
            init_seed=init_seed,
            weights_path=weights_path,
        )
        if built is None and lookup_cache(request, cache_dir) is None:
            built = load_backbone(
                backbone,
                pretrained=pretrained,
                device=device,
                weights_path=weights_path,
                init_seed=init_seed,
            )
        try:
            res = extract_features(
                [str(folder / r) for r in names],
                np.full(len(names), -1, dtype=np.int64),
                dataset=dataset,
                split=split,
                features_dir=cache_dir,
                backbone=built if built is not None else backbone,
                device=device,
                pretrained=pretrained,
                weights_path=weights_path,
                init_seed=init_seed,
                batch_size=forward_batch,
                num_workers=num_workers,
                progress=progress,
                metadata={"source": {"kind": "image-folder", "root": str(folder), "listing": tag}},
            )
        except RefineError:
            raise
        except OSError as err:  # an image changed after the check (PIL errors are OSErrors)
            raise DataError(
                f"--images {folder}: an image of chunk {k + 1}/{len(chunks)} could not be read "
                f"({err}); finished chunks are kept in {cache_dir}, run the command again"
            ) from None
        parts.append(np.asarray(res.features, dtype=np.float32))
        keys.append(res.entry.key)
        statuses.append(res.status)
        identity = res.entry.identity
    X = np.concatenate(parts, axis=0)
    source = {
        "kind": "images",
        "images": str(folder),
        "backbone": identity.get("backbone"),
        "weights": identity.get("weights"),
        "cache_keys": keys,
        "extracted": "cached" if all(s == "cached" for s in statuses) else "extracted",
    }
    return X, source


def default_cache_dir(root: Path) -> Path:
    """The resumable extraction cache of a project being created at ``root``."""
    return root.parent / f".{root.name}.extract-cache"


def is_under(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder`` (both resolved)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True
